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

describe('loadEngineConfig: the HTTP port', () => {
  const base = { KAFKA_BROKERS: '127.0.0.1:9092' };

  it('needs a token to listen beyond loopback, and never echoes it', () => {
    expect(() => loadEngineConfig({ ...base, CEPHEUS_HTTP_HOST: '0.0.0.0' })).toThrow(
      /CEPHEUS_HTTP_TOKEN: is required when CEPHEUS_HTTP_HOST \(got "0.0.0.0"\) is not a loopback address/,
    );
    expect(
      loadEngineConfig({ ...base, CEPHEUS_HTTP_HOST: '0.0.0.0', CEPHEUS_HTTP_TOKEN: 'a-long-engine-token' }),
    ).toMatchObject({ CEPHEUS_HTTP_TOKEN: 'a-long-engine-token' });
    expect(loadEngineConfig({ ...base, CEPHEUS_HTTP_HOST: '127.0.0.1' }).CEPHEUS_HTTP_TOKEN).toBeUndefined();
    const short = () => loadEngineConfig({ ...base, CEPHEUS_HTTP_TOKEN: 'shorty secret' });
    expect(short).toThrow(/CEPHEUS_HTTP_TOKEN: must be 16\+ characters without spaces/);
    expect(short).not.toThrow(/shorty/);
  });

  it('hides the password of a wrong REDIS_URL', () => {
    const load = () => loadEngineConfig({ ...base, REDIS_URL: 'http://:hunter2-secret@redis:6379' });
    expect(load).toThrow(/REDIS_URL \(got "http:\/\/:\*\*\*@redis:6379"\): must match pattern/);
    expect(load).not.toThrow(/hunter2/);
  });
});
