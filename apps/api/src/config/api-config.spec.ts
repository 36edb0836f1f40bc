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

describe('loadApiConfig: secrets and the abuse limits', () => {
  const base = { KAFKA_BROKERS: '127.0.0.1:9092', CEPHEUS_API_KEYS: 'secret-admin:admin' };

  it('hides the password of a wrong REDIS_URL and never echoes the engine token', () => {
    const load = () =>
      loadApiConfig({ ...base, REDIS_URL: 'tcp://user:hunter2-secret@redis:6379', CEPHEUS_ENGINE_TOKEN: 'short tok' });
    expect(load).toThrow(/REDIS_URL \(got "tcp:\/\/user:\*\*\*@redis:6379"\)/);
    expect(load).toThrow(/CEPHEUS_ENGINE_TOKEN: must be 16\+ characters without spaces/);
    expect(load).not.toThrow(/hunter2|short tok/);
  });

  it('fills the abuse limits with their documented defaults and checks the origin list', () => {
    expect(loadApiConfig(base)).toMatchObject({
      CEPHEUS_API_READ_LIMIT_PER_MINUTE: 600,
      CEPHEUS_API_FAILED_AUTH_LIMIT_PER_MINUTE: 10,
      CEPHEUS_API_ALLOWED_ORIGINS: '',
      CEPHEUS_API_MAX_STREAMS_PER_KEY: 5,
      CEPHEUS_API_MAX_STREAMS: 200,
      CEPHEUS_API_SSE_HEARTBEAT_MS: 15000,
      CEPHEUS_API_MAX_UPLOAD_BYTES: 33554432,
      CEPHEUS_API_UPLOAD_TTL_SECONDS: 21600,
      CEPHEUS_API_UPLOADS_PER_KEY: 10,
      CEPHEUS_API_UPLOAD_BYTES_PER_KEY: 134217728,
      CEPHEUS_API_UPLOADS_TOTAL: 100,
      CEPHEUS_API_UPLOAD_BYTES_TOTAL: 1073741824,
    });
    expect(loadApiConfig({ ...base, CEPHEUS_API_ALLOWED_ORIGINS: 'https://a.example,http://b:8080' })).toMatchObject({
      CEPHEUS_API_ALLOWED_ORIGINS: 'https://a.example,http://b:8080',
    });
    expect(() => loadApiConfig({ ...base, CEPHEUS_API_ALLOWED_ORIGINS: 'https://a.example/path' })).toThrow(
      /CEPHEUS_API_ALLOWED_ORIGINS .*must be comma-separated origins/,
    );
  });
});
