import { readKafkaState } from './services';

// Workers normally inherit KAFKA_BROKERS from the global set-up; the state file covers a broker started beforehand.
if (!process.env.KAFKA_BROKERS) {
  const state = readKafkaState();
  if (state) process.env.KAFKA_BROKERS = state.brokers;
}
process.env.REDIS_URL ??= 'redis://127.0.0.1:6379';
