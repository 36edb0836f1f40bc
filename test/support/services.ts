import { randomUUID } from 'node:crypto';

/** The broker list of the real Kafka the global set-up started (or KAFKA_BROKERS pointed at). */
export function kafkaBrokers(): string[] {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) throw new Error('KAFKA_BROKERS is not set: the integration global set-up did not run');
  return brokers.split(',');
}

export function redisUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** A name no other test run uses, so that tests can share one broker and one Redis. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
}
