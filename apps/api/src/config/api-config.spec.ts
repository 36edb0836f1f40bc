import { loadApiConfig } from './api-config';

describe('loadApiConfig', () => {
  const base = { KAFKA_BROKERS: '127.0.0.1:9092', CEPHEUS_API_KEYS: 'secret-admin:admin,secret-read:reader' };

  it('fills defaults and converts numbers', () => {
    expect(loadApiConfig({ ...base, CEPHEUS_API_PORT: '0' })).toMatchObject({
      CEPHEUS_API_HOST: '127.0.0.1',
      CEPHEUS_API_PORT: 0,
      CEPHEUS_RULES_TOPIC: 'rules',
      CEPHEUS_API_WRITE_LIMIT_PER_MINUTE: 120,
    });
  });

  it('names the variable and never echoes API keys', () => {
    const load = () => loadApiConfig({ ...base, CEPHEUS_API_PORT: 'http', CEPHEUS_API_KEYS: 'short:root' });
    expect(load).toThrow(/CEPHEUS_API_PORT \(got "http"\): must be integer/);
    expect(load).toThrow(/CEPHEUS_API_KEYS: must be comma-separated key:role pairs/);
    expect(load).not.toThrow(/short/);
  });

  it('requires brokers and keys', () => {
    expect(() => loadApiConfig({})).toThrow(/KAFKA_BROKERS: must have required property/);
    expect(() => loadApiConfig({})).toThrow(/CEPHEUS_API_KEYS: must have required property/);
  });
});
