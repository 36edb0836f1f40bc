import { loadEnvConfig, SHARED_ENV_PROPERTIES, type EnvSchema } from '@cepheus/common';

/** The API's configuration, read from the environment once at start (docs/api.md). */
export interface ApiConfig {
  /** Comma-separated Kafka bootstrap servers. */
  KAFKA_BROKERS: string;
  /** @defaultValue redis://127.0.0.1:6379 */
  REDIS_URL: string;
  /** `key:role` pairs, comma-separated; roles `reader`, `editor`, `admin`. */
  CEPHEUS_API_KEYS: string;
  /** @defaultValue 127.0.0.1 */
  CEPHEUS_API_HOST: string;
  /** 0 picks a free port. @defaultValue 3000 */
  CEPHEUS_API_PORT: number;
  /** The engines' job id: consumer group `cepheus-<job>` and checkpoint keys. @defaultValue cepheus */
  CEPHEUS_JOB_ID: string;
  CEPHEUS_EVENTS_TOPIC: string;
  CEPHEUS_RULES_TOPIC: string;
  CEPHEUS_ALERTS_TOPIC: string;
  CEPHEUS_RULES_STATUS_TOPIC: string;
  /** Engines' HTTP base URLs (comma-separated) polled for `GET /instance`. @defaultValue none */
  CEPHEUS_ENGINE_URLS: string;
  /** Prefix of every Redis key the API writes (audit, versions, uploads, savepoints, BullMQ). @defaultValue cepheus:api */
  CEPHEUS_API_REDIS_PREFIX: string;
  /** Writes allowed per API key per minute. @defaultValue 120 */
  CEPHEUS_API_WRITE_LIMIT_PER_MINUTE: number;
  /** Reads (every `GET`, validation, cancel, stream opens) allowed per API key per minute. @defaultValue 600 */
  CEPHEUS_API_READ_LIMIT_PER_MINUTE: number;
  /** Requests with a missing, unknown or misplaced key allowed per client address per minute. @defaultValue 10 */
  CEPHEUS_API_FAILED_AUTH_LIMIT_PER_MINUTE: number;
  /**
   * Origins (`scheme://host[:port]`, comma-separated) allowed to send state-changing requests with an `Origin` header;
   * the API's own origin (same host and port) is always allowed. @defaultValue none
   */
  CEPHEUS_API_ALLOWED_ORIGINS: string;
  /** Live alert streams open at once per API key. @defaultValue 5 */
  CEPHEUS_API_MAX_STREAMS_PER_KEY: number;
  /** Live alert streams open at once in this API process. @defaultValue 200 */
  CEPHEUS_API_MAX_STREAMS: number;
  /** Interval of the live stream's heartbeat comment. @defaultValue 15000 */
  CEPHEUS_API_SSE_HEARTBEAT_MS: number;
  /** How long an upload is kept. @defaultValue 21600 */
  CEPHEUS_API_UPLOAD_TTL_SECONDS: number;
  /** Uploads kept at once per API key. @defaultValue 10 */
  CEPHEUS_API_UPLOADS_PER_KEY: number;
  /** Bytes of uploads kept at once per API key. @defaultValue 134217728 */
  CEPHEUS_API_UPLOAD_BYTES_PER_KEY: number;
  /** Uploads kept at once, all keys together. @defaultValue 100 */
  CEPHEUS_API_UPLOADS_TOTAL: number;
  /** Bytes of uploads kept at once, all keys together. @defaultValue 1073741824 */
  CEPHEUS_API_UPLOAD_BYTES_TOTAL: number;
  /** Replicas of the topics the API creates when missing (rules, alerts). @defaultValue the broker's */
  CEPHEUS_TOPIC_REPLICATION_FACTOR?: number;
  /** `min.insync.replicas` of the topics the API creates. @defaultValue the broker's */
  CEPHEUS_TOPIC_MIN_INSYNC_REPLICAS?: number;
  /** Bearer token sent to the engines' HTTP port (their `CEPHEUS_HTTP_TOKEN`). @defaultValue none */
  CEPHEUS_ENGINE_TOKEN?: string;
  /** Alerts kept in memory for `GET /alerts`. @defaultValue 1000 */
  CEPHEUS_API_RECENT_ALERTS: number;
  /** Largest uploaded JSON-lines file. @defaultValue 33554432 */
  CEPHEUS_API_MAX_UPLOAD_BYTES: number;
  /** Replays run at once by this API process. @defaultValue 1 */
  CEPHEUS_REPLAY_CONCURRENCY: number;
  /** How long `POST /savepoints` waits for every engine instance's answer. @defaultValue 30000 */
  CEPHEUS_SAVEPOINT_TIMEOUT_MS: number;
  /** Worker threads evaluating one replay's partitions in parallel; 0 = in the API's thread. @defaultValue 2 */
  CEPHEUS_REPLAY_THREADS: number;
  /** Must equal the engines' value for replays to reproduce live alerts. @defaultValue 0 */
  CEPHEUS_OUT_OF_ORDERNESS_MS: number;
  /** @defaultValue info */
  CEPHEUS_LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

const schema = {
  type: 'object',
  properties: {
    ...SHARED_ENV_PROPERTIES,
    CEPHEUS_API_KEYS: {
      type: 'string',
      pattern: '^[^,:\\s]{8,}:(reader|editor|admin)(,[^,:\\s]{8,}:(reader|editor|admin))*$',
    },
    CEPHEUS_API_HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    CEPHEUS_API_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 3000 },
    CEPHEUS_ENGINE_URLS: { type: 'string', pattern: '^(https?://[^,\\s]+(,https?://[^,\\s]+)*)?$', default: '' },
    CEPHEUS_API_REDIS_PREFIX: { type: 'string', pattern: '^[A-Za-z0-9:._-]+$', default: 'cepheus:api' },
    CEPHEUS_API_WRITE_LIMIT_PER_MINUTE: { type: 'integer', minimum: 1, default: 120 },
    CEPHEUS_API_READ_LIMIT_PER_MINUTE: { type: 'integer', minimum: 1, default: 600 },
    CEPHEUS_API_FAILED_AUTH_LIMIT_PER_MINUTE: { type: 'integer', minimum: 1, default: 10 },
    CEPHEUS_API_ALLOWED_ORIGINS: {
      type: 'string',
      pattern: '^(https?://[^,\\s/]+(,https?://[^,\\s/]+)*)?$',
      default: '',
    },
    CEPHEUS_API_MAX_STREAMS_PER_KEY: { type: 'integer', minimum: 1, maximum: 10000, default: 5 },
    CEPHEUS_API_MAX_STREAMS: { type: 'integer', minimum: 1, maximum: 100000, default: 200 },
    CEPHEUS_API_SSE_HEARTBEAT_MS: { type: 'integer', minimum: 100, maximum: 600000, default: 15000 },
    CEPHEUS_API_UPLOAD_TTL_SECONDS: { type: 'integer', minimum: 60, maximum: 604800, default: 21600 },
    CEPHEUS_API_UPLOADS_PER_KEY: { type: 'integer', minimum: 1, default: 10 },
    CEPHEUS_API_UPLOAD_BYTES_PER_KEY: { type: 'integer', minimum: 1024, default: 134217728 },
    CEPHEUS_API_UPLOADS_TOTAL: { type: 'integer', minimum: 1, default: 100 },
    CEPHEUS_API_UPLOAD_BYTES_TOTAL: { type: 'integer', minimum: 1024, default: 1073741824 },
    CEPHEUS_ENGINE_TOKEN: { type: 'string', pattern: '^\\S{16,}$' },
    CEPHEUS_TOPIC_REPLICATION_FACTOR: { type: 'integer', minimum: 1, maximum: 32767 },
    CEPHEUS_TOPIC_MIN_INSYNC_REPLICAS: { type: 'integer', minimum: 1, maximum: 32767 },
    CEPHEUS_API_RECENT_ALERTS: { type: 'integer', minimum: 1, maximum: 1000000, default: 1000 },
    CEPHEUS_API_MAX_UPLOAD_BYTES: { type: 'integer', minimum: 1024, default: 33554432 },
    CEPHEUS_REPLAY_CONCURRENCY: { type: 'integer', minimum: 1, maximum: 16, default: 1 },
    CEPHEUS_SAVEPOINT_TIMEOUT_MS: { type: 'integer', minimum: 100, maximum: 600000, default: 30000 },
    CEPHEUS_REPLAY_THREADS: { type: 'integer', minimum: 0, maximum: 64, default: 2 },
    CEPHEUS_OUT_OF_ORDERNESS_MS: { type: 'integer', minimum: 0, default: 0 },
  },
  required: ['KAFKA_BROKERS', 'CEPHEUS_API_KEYS'],
} as const satisfies EnvSchema;

/** Names every variable's problem; API keys are never echoed back. */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return loadEnvConfig<ApiConfig>(schema, env, {
    app: 'API',
    secrets: ['CEPHEUS_API_KEYS', 'CEPHEUS_ENGINE_TOKEN'],
    patternHints: {
      CEPHEUS_API_KEYS:
        'must be comma-separated key:role pairs, keys of 8+ characters without spaces, roles reader|editor|admin',
      CEPHEUS_API_ALLOWED_ORIGINS:
        'must be comma-separated origins, e.g. https://ops.example.com,http://localhost:8080',
      CEPHEUS_ENGINE_TOKEN: 'must be 16+ characters without spaces',
    },
  });
}
