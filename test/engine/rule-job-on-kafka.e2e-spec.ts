import { runRuleJob } from '@cepheus/job';
import { RedisCheckpointStorage } from '@cepheus/redis';
import { FRAUD_RULES, generateFraud } from '@cepheus/rules';
import { JobRunner, type JsonValue } from '@cepheus/runtime';
import Redis from 'ioredis';
import type { KafkaRuleJobParams } from '../../apps/engine/src/job/kafka-rule-job-module';
import { createTopics } from '../../bench/support/kafka-topics';
import { kafkaBrokers, redisUrl, uniqueName } from '../support/services';
import { closingTicks } from '../support/shapes-stream';
import { kafka, produce, pushRules, testTopics, TopicTail } from '../support/topics';

const PARTITIONS = 4;
const MODULE = require.resolve('../../apps/engine/src/job/kafka-rule-job-module');

/**
 * The rule job graph on the real broker and Redis: the Kafka partition source, the rules topic as the broadcast
 * stream, the checkpoint sink's one transaction per checkpoint, two instances on worker threads with the keyBy shuffle
 * between them. The fraud rules include one grouped by device over card-keyed events on 4 partitions, which the
 * per-partition engine gets wrong; here every alert must equal the embedded run's, exactly once.
 */
describe('the rule job on Kafka (runtime, worker threads)', () => {
  const redis = new Redis(redisUrl(), { lazyConnect: true });
  beforeAll(() => redis.connect());
  afterAll(() => redis.quit());

  async function scenario(kill: boolean): Promise<void> {
    const topics = testTopics(kill ? 'rtk' : 'rt');
    await createTopics(kafka, [
      { topic: topics.events, partitions: PARTITIONS },
      { topic: topics.rules, compact: true },
      { topic: topics.alerts },
      { topic: topics.eventsDlq },
      { topic: topics.rulesStatus },
    ]);
    await pushRules(topics.rules, FRAUD_RULES);
    const stream = generateFraud({ seed: kill ? 23 : 21, payments: 2500 });
    const lines = stream.events.map((e) => JSON.stringify({ ...e.event, timestamp: e.timestamp }));
    const embedded = await runRuleJob(FRAUD_RULES, lines);
    const expected = embedded.alerts.map((a) => a.id).sort();
    expect(embedded.alerts.some((a) => a.body.ruleId === 'fraud-device-many-cards')).toBe(true);

    const jobId = uniqueName('rule-job');
    const params: KafkaRuleJobParams = {
      brokers: kafkaBrokers(),
      clientId: jobId,
      instanceId: 'e2e',
      topics,
      consumerGroupId: jobId,
      transactionalId: `${jobId}-committer`,
      guarantee: 'exactly-once',
      options: { jobName: jobId },
    };
    const runner = new JobRunner(
      { module: MODULE, exportName: 'kafkaRuleJob', params: params as unknown as JsonValue },
      {
        parallelism: 2,
        storage: new RedisCheckpointStorage(redis, { keyPrefix: jobId }),
        checkpointIntervalMs: 300,
        maxRestarts: 5,
      },
    );
    const alerts = await TopicTail.start(topics.alerts);
    try {
      await runner.start();
      const half = Math.floor(stream.events.length / 2);
      const messages = stream.events.map((e, i) => ({
        key: String(e.event.cardId),
        value: lines[i]!,
      }));
      await produce(topics.events, messages.slice(0, half));
      if (kill) {
        // A crash of one instance mid-stream: the runner restarts from the last checkpoint, the committer finishes
        // or repeats that checkpoint's transaction, and what was read after it is read again.
        await alerts.waitFor((t) => t.messages.length > 0, 120_000);
        expect(runner.killInstance(1)).toBe(true);
      }
      await produce(topics.events, messages.slice(half));
      // Events far ahead on every partition move the watermark past every window and deadline; they route nowhere.
      await produce(topics.events, closingTicks(PARTITIONS, stream.endTime + 24 * 3600_000));
      await alerts.waitFor((t) => t.messages.length >= expected.length, 180_000, 3000);
      const ids = alerts.messages.map((m) => m.headers?.['cepheus-alert-id']?.toString() ?? '').sort();
      expect(ids).toEqual(expected);
      if (kill) expect((await runner.metrics()).attempt).toBeGreaterThanOrEqual(1);
    } finally {
      await alerts.stop();
      await runner.cancel();
    }
  }

  it('raises exactly the alerts of the embedded run, device-grouped rules included, over 4 partitions', async () => {
    await scenario(false);
  }, 300_000);

  it('still does after an instance crashes mid-stream: nothing lost, nothing twice', async () => {
    await scenario(true);
  }, 300_000);
});
