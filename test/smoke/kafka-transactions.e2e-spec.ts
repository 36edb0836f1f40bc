import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { kafkaBrokers, uniqueName } from '../support/services';

describe('smoke: the real Kafka broker', () => {
  const kafka = new Kafka({ clientId: 'cepheus-smoke', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  const topic = uniqueName('smoke-tx');
  let producer: Producer;
  let consumer: Consumer;

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    const created = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(created.topics[0].partitions).toHaveLength(2);
    await admin.disconnect();
    producer = kafka.producer({ transactionalId: uniqueName('smoke-tx-id'), maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
  });

  afterAll(async () => {
    await consumer?.disconnect();
    await producer?.disconnect();
  });

  it('shows read_committed consumers the committed batch and never the aborted one', async () => {
    const committed = await producer.transaction();
    await committed.send({ topic, messages: [0, 1, 2].map((i) => ({ key: `k${i}`, value: `committed-${i}` })) });
    await committed.commit();

    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [0, 1, 2].map((i) => ({ key: `k${i}`, value: `aborted-${i}` })) });
    await aborted.abort();

    // A committed marker after the aborted batch proves the consumer read past it.
    const last = await producer.transaction();
    await last.send({
      topic,
      messages: [
        { key: 'k0', value: 'end' },
        { key: 'k1', value: 'end' },
      ],
    });
    await last.commit();

    consumer = kafka.consumer({ groupId: uniqueName('smoke-group'), readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    let ends = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; saw ${JSON.stringify(seen)}`)), 25_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          const value = message.value?.toString() ?? '';
          if (value === 'end') ends += 1;
          else seen.push(value);
          if (ends === 2) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    expect(seen.sort()).toEqual(['committed-0', 'committed-1', 'committed-2']);
  });

  it('commits consumer offsets inside a transaction (sendOffsets)', async () => {
    const groupId = uniqueName('smoke-eos-group');
    const tx = await producer.transaction();
    await tx.send({ topic, messages: [{ key: 'k0', value: 'with-offsets' }] });
    await tx.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic, partitions: [{ partition: 0, offset: '3' }] }],
    });
    await tx.commit();

    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    await admin.disconnect();
    const partition0 = offsets[0].partitions.find((p) => p.partition === 0);
    expect(partition0?.offset).toBe('3');
  });
});
