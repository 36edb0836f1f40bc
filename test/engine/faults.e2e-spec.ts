import { SHAPES_RULES } from '@cepheus/rules';
import { Kafka, logLevel } from 'kafkajs';
import { startEngine, type EngineProcess } from '../support/engine-process';
import { PrivateKafka, PrivateRedis } from '../support/private-services';
import { createTopics, type AlertBody } from '../../bench/support/kafka-topics';
import { uniqueName } from '../support/services';
import { alertSummary, closingTicks, longShapesStream } from '../support/shapes-stream';
import { engineTopicEnv, testTopics } from '../support/topics';

const PARTITIONS = 3;

describe('faults: the Kafka broker and Redis restart mid-stream', () => {
  const kafkaBroker = new PrivateKafka();
  const redis = new PrivateRedis();
  let engine: EngineProcess | undefined;

  beforeAll(async () => {
    kafkaBroker.start();
    await redis.start();
  }, 200_000);

  afterAll(async () => {
    await engine?.stop();
    kafkaBroker.stop();
    await redis.stop();
  }, 120_000);

  it('waits, recovers, and still delivers exactly the expected alerts', async () => {
    const topics = testTopics('faults');
    const kafka = new Kafka({
      clientId: 'faults-test',
      brokers: [kafkaBroker.brokers],
      logLevel: logLevel.NOTHING,
      retry: { retries: 20, initialRetryTime: 300, maxRetryTime: 3000 },
    });
    await createTopics(kafka, [{ topic: topics.events, partitions: PARTITIONS }]);

    const produce = async (messages: Array<{ key: string; value: string; partition?: number }>) => {
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      await producer.send({ topic: topics.events, acks: -1, messages });
      await producer.disconnect();
    };

    engine = await startEngine({
      ...engineTopicEnv(topics),
      KAFKA_BROKERS: kafkaBroker.brokers,
      REDIS_URL: redis.url,
      CEPHEUS_JOB_ID: uniqueName('faults'),
      CEPHEUS_CHECKPOINT_INTERVAL_MS: '250',
      CEPHEUS_SESSION_TIMEOUT_MS: '10000',
    });
    const rules = kafka.producer();
    await rules.connect();
    await rules.send({
      topic: topics.rules,
      messages: SHAPES_RULES.map((r) => ({ key: (r as { id: string }).id, value: JSON.stringify(r) })),
    });
    await rules.disconnect();

    const { events, expected, endTime } = longShapesStream(3, 40);
    const third = Math.ceil(events.length / 3);
    await produce(events.slice(0, third));
    await new Promise((r) => setTimeout(r, 2000));

    kafkaBroker.restart();
    await produce(events.slice(third, 2 * third));
    await new Promise((r) => setTimeout(r, 2000));

    await redis.restart();
    await produce([...events.slice(2 * third), ...closingTicks(PARTITIONS, endTime)]);

    const seen: AlertBody[] = [];
    const consumer = kafka.consumer({ groupId: uniqueName('faults-tail'), readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.alerts, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(JSON.parse(String(message.value))) });
    try {
      const deadline = Date.now() + 120_000;
      while (seen.length < expected.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      await new Promise((r) => setTimeout(r, 4000));
      expect(seen.map(alertSummary).sort()).toEqual(expected);
      expect(new Set(seen.map((a) => a.alertId)).size).toBe(seen.length);
      const instance = await engine.instance();
      expect(instance.restoredWithoutSnapshot).toBe(0);
    } finally {
      await consumer.disconnect();
    }
  }, 400_000);
});
