import { loadEngineConfig } from './engine-config';

describe('loadEngineConfig', () => {
  it('fills defaults and converts numbers and booleans', () => {
    const config = loadEngineConfig({
      KAFKA_BROKERS: '127.0.0.1:9092',
      CEPHEUS_CREATE_TOPICS: 'false',
      CEPHEUS_HTTP_PORT: '0',
    });
    expect(config).toMatchObject({
      KAFKA_BROKERS: '127.0.0.1:9092',
      REDIS_URL: 'redis://127.0.0.1:6379',
      CEPHEUS_GUARANTEE: 'exactly-once',
      CEPHEUS_CHECKPOINT_INTERVAL_MS: 1000,
      CEPHEUS_CREATE_TOPICS: false,
      CEPHEUS_HTTP_PORT: 0,
    });
  });

  it('names the variable, the value and the rule when a value is wrong', () => {
    const load = () =>
      loadEngineConfig({
        KAFKA_BROKERS: '127.0.0.1:9092',
        CEPHEUS_CHECKPOINT_INTERVAL_MS: 'soon',
        CEPHEUS_GUARANTEE: 'maybe',
      });
    expect(load).toThrow(/CEPHEUS_CHECKPOINT_INTERVAL_MS \(got "soon"\): must be integer/);
    expect(load).toThrow(/CEPHEUS_GUARANTEE \(got "maybe"\): must be equal to one of the allowed values/);
  });

  it('requires the broker list', () => {
    expect(() => loadEngineConfig({})).toThrow(/KAFKA_BROKERS: must have required property 'KAFKA_BROKERS'/);
  });
});
