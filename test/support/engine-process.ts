import { spawnEngine, type EngineProcess } from '../../bench/support/engine-process';
import { kafkaBrokers, redisUrl } from './services';

export type { EngineProcess };

/** Starts a real engine process (the built app) against the test broker and Redis; resolves once it is ready. */
export function startEngine(env: Record<string, string>, timeoutMs = 60_000): Promise<EngineProcess> {
  return spawnEngine({ KAFKA_BROKERS: kafkaBrokers().join(','), REDIS_URL: redisUrl(), ...env }, timeoutMs);
}
