import fc from 'fast-check';
import { runRuleJob } from '@cepheus/job';
import { aggregateRuleSet, disorderWithinBound, paymentStream, referenceAlerts } from '@cepheus/job/testing';
import { RedisCheckpointStorage } from '@cepheus/redis';
import { FRAUD_RULES, generateFraud } from '@cepheus/rules';
import { JobRunner, type JsonValue } from '@cepheus/runtime';
import Redis from 'ioredis';
import type { KafkaRuleJobParams } from '../../apps/engine/src/job/kafka-rule-job-module';
import { createTopics } from '../../bench/support/kafka-topics';
import { kafkaBrokers, redisUrl, uniqueName } from '../support/services';
import { closingTicks } from '../support/shapes-stream';
import { kafka, produce, pushRules, testTopics, TopicTail } from '../support/topics';

const MODULE = require.resolve('../../apps/engine/src/job/kafka-rule-job-module');

interface Scenario {
  name: string;
  partitions: number;
  parallelism: number;
  rules: readonly unknown[];
  /** Events in the order they are produced (keyed by card: each partition gets its cards' events in this order). */
  events: ReadonlyArray<Record<string, unknown>>;
  /** Event time past every window and deadline of the stream. */
  endTime: number;
  outOfOrdernessMs: number;
  expected: string[];
  /** Crash one instance once the first alert is out. */
  kill?: boolean;
}

/**
 * The rule job graph on the real broker and Redis: the Kafka partition source, the rules topic as the broadcast
 * stream, the checkpoint sink's one transaction per checkpoint, instances on worker threads with the keyBy shuffle
 * between them. Rules grouped by device and merchant over card-keyed events, which the per-partition engine gets
 * wrong with more than one partition, must give exactly the expected alerts, once each.
 */
describe('the rule job on Kafka (runtime, worker threads)', () => {
  const redis = new Redis(redisUrl(), { lazyConnect: true });
  beforeAll(() => redis.connect());
  afterAll(() => redis.quit());

  async function run(s: Scenario): Promise<void> {
    const topics = testTopics(s.name);
    await createTopics(kafka, [
      { topic: topics.events, partitions: s.partitions },
      { topic: topics.rules, compact: true },
      { topic: topics.alerts },
      { topic: topics.eventsDlq },
      { topic: topics.rulesStatus },
    ]);
    await pushRules(topics.rules, s.rules);
    const jobId = uniqueName(`rule-job-${s.name}`);
    const params: KafkaRuleJobParams = {
      brokers: kafkaBrokers(),
      clientId: jobId,
      instanceId: 'e2e',
      topics,
      consumerGroupId: jobId,
      transactionalId: `${jobId}-committer`,
      guarantee: 'exactly-once',
      options: { jobName: jobId, outOfOrdernessMs: s.outOfOrdernessMs },
    };
    const runner = new JobRunner(
      { module: MODULE, exportName: 'kafkaRuleJob', params: params as unknown as JsonValue },
      {
        parallelism: s.parallelism,
        threads: s.parallelism > 1,
        storage: new RedisCheckpointStorage(redis, { keyPrefix: jobId }),
        checkpointIntervalMs: 300,
        maxRestarts: 5,
      },
    );
    const alerts = await TopicTail.start(topics.alerts);
    try {
      await runner.start();
      const messages = s.events.map((e) => ({ key: String(e.cardId), value: JSON.stringify(e) }));
      const half = Math.floor(messages.length / 2);
      await produce(topics.events, messages.slice(0, half));
      if (s.kill) {
        // A crash of one instance mid-stream: the runner restarts from the last checkpoint, the committer finishes
        // or repeats that checkpoint's transaction, and what was read after it is read again.
        await alerts.waitFor((t) => t.messages.length > 0, 120_000);
        expect(runner.killInstance(s.parallelism - 1)).toBe(true);
      }
      await produce(topics.events, messages.slice(half));
      // Events far ahead on every partition move the watermark past every window and deadline; they route nowhere.
      await produce(topics.events, closingTicks(s.partitions, s.endTime + 24 * 3600_000));
      await alerts.waitFor((t) => t.messages.length >= s.expected.length, 180_000, 3000);
      const ids = alerts.messages.map((m) => m.headers?.['cepheus-alert-id']?.toString() ?? '').sort();
      expect(ids).toEqual(s.expected);
      if (s.kill) expect((await runner.metrics()).attempt).toBeGreaterThanOrEqual(1);
    } finally {
      await alerts.stop();
      await runner.cancel();
    }
  }

  async function fraudScenario(name: string, seed: number, kill: boolean): Promise<Scenario> {
    const stream = generateFraud({ seed, payments: 2500 });
    const events = stream.events.map((e) => ({ ...e.event, timestamp: e.timestamp }));
    const embedded = await runRuleJob(
      FRAUD_RULES,
      events.map((e) => JSON.stringify(e)),
    );
    expect(embedded.alerts.some((a) => a.body.ruleId === 'fraud-device-many-cards')).toBe(true);
    return {
      name,
      partitions: 4,
      parallelism: 2,
      rules: FRAUD_RULES,
      events,
      endTime: stream.endTime,
      outOfOrdernessMs: 0,
      expected: embedded.alerts.map((a) => a.id).sort(),
      kill,
    };
  }

  it('raises exactly the alerts of the embedded run, device-grouped rules included, over 4 partitions', async () => {
    await run(await fraudScenario('rt', 21, false));
  }, 300_000);

  it('still does after an instance crashes mid-stream: nothing lost, nothing twice', async () => {
    await run(await fraudScenario('rtk', 23, true));
  }, 300_000);

  it('gives the brute-force reference alerts on 1 and 8 partitions, at parallelism 1 and 2, with disorder', async () => {
    const BOUND_MS = 20_000;
    const [[payments, rules]] = fc.sample(
      fc.tuple(paymentStream({ minLength: 250, maxLength: 300 }), aggregateRuleSet({ everyGrouping: true })),
      { numRuns: 1, seed: 4242 },
    );
    const expected = referenceAlerts(rules, payments).map((a) => a.alertId);
    expect(expected.length).toBeGreaterThan(10);
    const events = disorderWithinBound(payments, BOUND_MS, 7);
    const endTime = Math.max(...payments.map((p) => p.timestamp));
    for (const [partitions, parallelism] of [
      [1, 1],
      [8, 2],
    ] as const) {
      await run({
        name: `rtref${partitions}`,
        partitions,
        parallelism,
        rules,
        events,
        endTime,
        outOfOrdernessMs: BOUND_MS,
        expected,
      });
    }
  }, 300_000);
});
