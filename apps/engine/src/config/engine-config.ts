import { hostname } from 'node:os';
import { CepheusError, loadEnvConfig, SHARED_ENV_PROPERTIES, type EnvSchema } from '@cepheus/common';

/** The engine's configuration, read from the environment (see docs/configuration.md). */
export interface EngineConfig {
  /** Comma-separated Kafka bootstrap servers. */
  KAFKA_BROKERS: string;
  /** @defaultValue redis://127.0.0.1:6379 */
  REDIS_URL: string;
  /** Consumer group, checkpoint and transactional-id namespace. @defaultValue cepheus */
  CEPHEUS_JOB_ID: string;
  /** Stable per instance across restarts; distinct between instances. @defaultValue host name */
  CEPHEUS_INSTANCE_ID: string;
  /** @defaultValue exactly-once */
  CEPHEUS_GUARANTEE: 'exactly-once' | 'at-least-once';
  /** @defaultValue 1000 */
  CEPHEUS_CHECKPOINT_INTERVAL_MS: number;
  /** @defaultValue 0 */
  CEPHEUS_OUT_OF_ORDERNESS_MS: number;
  /** @defaultValue 2 */
  CEPHEUS_RETAINED_CHECKPOINTS: number;
  /** Checkpoints store only the keys changed since the previous one, chained on a full one. @defaultValue true */
  CEPHEUS_INCREMENTAL_CHECKPOINTS: boolean;
  /** Longest chain of incremental snapshots before a full one. @defaultValue 20 */
  CEPHEUS_MAX_INCREMENTAL_CHAIN: number;
  /** Consumer-group session timeout: how soon a crashed instance's partitions move. @defaultValue 30000 */
  CEPHEUS_SESSION_TIMEOUT_MS: number;
  CEPHEUS_EVENTS_TOPIC: string;
  CEPHEUS_RULES_TOPIC: string;
  CEPHEUS_ALERTS_TOPIC: string;
  CEPHEUS_RULES_STATUS_TOPIC: string;
  CEPHEUS_DLQ_TOPIC: string;
  /** Create missing topics at start. @defaultValue true */
  CEPHEUS_CREATE_TOPICS: boolean;
  /** Partitions of created events/alerts topics. @defaultValue 4 */
  CEPHEUS_EVENT_PARTITIONS: number;
  /** Replicas of the topics the engine creates. @defaultValue the broker's `default.replication.factor` */
  CEPHEUS_TOPIC_REPLICATION_FACTOR?: number;
  /** `min.insync.replicas` of the topics the engine creates. @defaultValue the broker's */
  CEPHEUS_TOPIC_MIN_INSYNC_REPLICAS?: number;
  /** Largest accepted event in bytes. @defaultValue 1048576 */
  CEPHEUS_MAX_EVENT_BYTES: number;
  /** Back-pressure bound on a partition's uncommitted output. @defaultValue 100000 */
  CEPHEUS_MAX_PENDING_RECORDS: number;
  /** Start from a savepoint: `<id>` of this job, or `<job>/<id>`; only for a job with no committed offsets yet. */
  CEPHEUS_START_FROM_SAVEPOINT?: string;
  /** Port of /health and /metrics; 0 picks a free one. @defaultValue 9464 */
  CEPHEUS_HTTP_PORT: number;
  /** Address /health and /metrics listen on. @defaultValue 127.0.0.1 */
  CEPHEUS_HTTP_HOST: string;
  /**
   * Bearer token `/instance` and `POST /savepoints` require (`/health`, `/metrics` stay open). Required when
   * `CEPHEUS_HTTP_HOST` is not a loopback address. @defaultValue none
   */
  CEPHEUS_HTTP_TOKEN?: string;
  /** @defaultValue info */
  CEPHEUS_LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

const schema = {
  type: 'object',
  properties: {
    ...SHARED_ENV_PROPERTIES,
    CEPHEUS_INSTANCE_ID: {
      type: 'string',
      pattern: '^[A-Za-z0-9._-]+$',
      default: hostname().replace(/[^A-Za-z0-9._-]/g, '-'),
    },
    CEPHEUS_GUARANTEE: { enum: ['exactly-once', 'at-least-once'], default: 'exactly-once' },
    CEPHEUS_CHECKPOINT_INTERVAL_MS: { type: 'integer', minimum: 50, maximum: 600000, default: 1000 },
    CEPHEUS_OUT_OF_ORDERNESS_MS: { type: 'integer', minimum: 0, default: 0 },
    CEPHEUS_RETAINED_CHECKPOINTS: { type: 'integer', minimum: 1, maximum: 100, default: 2 },
    CEPHEUS_INCREMENTAL_CHECKPOINTS: { type: 'boolean', default: true },
    CEPHEUS_MAX_INCREMENTAL_CHAIN: { type: 'integer', minimum: 1, maximum: 1000, default: 20 },
    CEPHEUS_SESSION_TIMEOUT_MS: { type: 'integer', minimum: 6000, maximum: 300000, default: 30000 },
    CEPHEUS_DLQ_TOPIC: { type: 'string', minLength: 1, default: 'events-dlq' },
    CEPHEUS_CREATE_TOPICS: { type: 'boolean', default: true },
    CEPHEUS_EVENT_PARTITIONS: { type: 'integer', minimum: 1, maximum: 1000, default: 4 },
    CEPHEUS_TOPIC_REPLICATION_FACTOR: { type: 'integer', minimum: 1, maximum: 32767 },
    CEPHEUS_TOPIC_MIN_INSYNC_REPLICAS: { type: 'integer', minimum: 1, maximum: 32767 },
    CEPHEUS_MAX_EVENT_BYTES: { type: 'integer', minimum: 64, default: 1048576 },
    CEPHEUS_MAX_PENDING_RECORDS: { type: 'integer', minimum: 100, default: 100000 },
    CEPHEUS_START_FROM_SAVEPOINT: { type: 'string', pattern: '^([A-Za-z0-9_-]+/)?[A-Za-z0-9_-]{1,64}$' },
    CEPHEUS_HTTP_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 9464 },
    CEPHEUS_HTTP_HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    CEPHEUS_HTTP_TOKEN: { type: 'string', pattern: '^\\S{16,}$' },
  },
  required: ['KAFKA_BROKERS'],
} as const satisfies EnvSchema;

/**
 * Reads and checks the environment once at start-up; a wrong value stops the engine with a message naming the
 * variable, what it holds and what it must be.
 */
export function loadEngineConfig(env: NodeJS.ProcessEnv = process.env): EngineConfig {
  const config = loadEnvConfig<EngineConfig>(schema, env, {
    app: 'engine',
    secrets: ['CEPHEUS_HTTP_TOKEN'],
    patternHints: { CEPHEUS_HTTP_TOKEN: 'must be 16+ characters without spaces' },
  });
  // Open to the network, the port would let anyone take savepoints and read the rules in force.
  if (!isLoopback(config.CEPHEUS_HTTP_HOST) && config.CEPHEUS_HTTP_TOKEN === undefined) {
    throw new CepheusError(
      'CONFIG_INVALID',
      `invalid engine configuration:\n  CEPHEUS_HTTP_TOKEN: is required when CEPHEUS_HTTP_HOST (got ${JSON.stringify(config.CEPHEUS_HTTP_HOST)}) is not a loopback address: set a token of 16+ characters, or listen on 127.0.0.1`,
    );
  }
  return config;
}

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine reaches. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}
