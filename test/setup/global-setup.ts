import { Kafka, logLevel } from 'kafkajs';
import { readKafkaState, runServiceScript } from './services';

/**
 * Starts what the integration tests need and fails the run, loudly, when a service cannot start: an integration test
 * never skips because Kafka or Redis is missing.
 */
export default async function globalSetup(): Promise<void> {
  runServiceScript('redis.mjs', 'start');
  process.env.REDIS_URL ??= 'redis://127.0.0.1:6379';

  if (process.env.KAFKA_BROKERS) {
    await assertKafkaAnswers(process.env.KAFKA_BROKERS);
    return;
  }
  const before = readKafkaState();
  const printed = runServiceScript('kafka.mjs', 'start');
  const brokers = /(\S+:\d+)\s*$/.exec(printed)?.[1];
  if (!brokers) throw new Error(`scripts/kafka.mjs start printed no broker address: ${JSON.stringify(printed)}`);
  process.env.KAFKA_BROKERS = brokers;
  // Teardown stops only a broker this run started, so a developer's running broker survives `npm test`.
  process.env.CEPHEUS_TEST_STARTED_KAFKA = before && before.brokers === brokers ? '' : '1';
  try {
    await assertKafkaAnswers(brokers);
  } catch (error) {
    // Jest skips the teardown when the set-up fails: stop the broker here, or it outlives the run.
    if (process.env.CEPHEUS_TEST_STARTED_KAFKA === '1') runServiceScript('kafka.mjs', 'stop');
    throw error;
  }
}

async function assertKafkaAnswers(brokers: string): Promise<void> {
  const admin = new Kafka({
    clientId: 'cepheus-test-setup',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (error) {
    throw new Error(`Kafka at ${brokers} does not answer: ${(error as Error).message}`);
  } finally {
    await admin.disconnect();
  }
}
