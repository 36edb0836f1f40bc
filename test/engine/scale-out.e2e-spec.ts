import { SHAPES_RULES } from '@cepheus/rules';
import { startEngine, type EngineProcess } from '../support/engine-process';
import { createTopics } from '../../bench/support/kafka-topics';
import { uniqueName } from '../support/services';
import { expectExactAlerts, closingTicks, longShapesStream } from '../support/shapes-stream';
import { engineTopicEnv, kafka, produce, pushRules, testTopics, TopicTail } from '../support/topics';

const PARTITIONS = 6;

async function waitForOwnership(engines: EngineProcess[], timeoutMs = 60_000): Promise<number[][]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const owned = await Promise.all(engines.map(async (e) => (await e.instance()).ownedPartitions as number[]));
    const all = owned.flat().sort((a, b) => a - b);
    // Every partition owned exactly once, and by every engine something: the rebalance is over.
    if (all.length === PARTITIONS && new Set(all).size === PARTITIONS && owned.every((o) => o.length > 0)) return owned;
    if (Date.now() > deadline) throw new Error(`partitions not spread over the engines: ${JSON.stringify(owned)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('scale-out by consumer group: 1 -> 2 -> 3 engines, then one stops', () => {
  it('gives the same alerts as the expected single-engine result, with equal broadcast digests everywhere', async () => {
    const topics = testTopics('scale');
    await createTopics(kafka, [{ topic: topics.events, partitions: PARTITIONS }]);
    const env = {
      ...engineTopicEnv(topics),
      CEPHEUS_JOB_ID: uniqueName('scale'),
      CEPHEUS_CHECKPOINT_INTERVAL_MS: '250',
      CEPHEUS_SESSION_TIMEOUT_MS: '6000',
    };
    const engines: EngineProcess[] = [await startEngine({ ...env, CEPHEUS_INSTANCE_ID: 's1' })];
    await pushRules(topics.rules, SHAPES_RULES);
    const alerts = await TopicTail.start(topics.alerts);
    const { events, expected, endTime } = longShapesStream(4, 40);
    const quarter = Math.ceil(events.length / 4);
    try {
      await produce(topics.events, events.slice(0, quarter));
      engines.push(await startEngine({ ...env, CEPHEUS_INSTANCE_ID: 's2' }));
      await waitForOwnership(engines);
      await produce(topics.events, events.slice(quarter, 2 * quarter));
      engines.push(await startEngine({ ...env, CEPHEUS_INSTANCE_ID: 's3' }));
      const owned = await waitForOwnership(engines);
      expect(owned.map((o) => o.length).sort()).toEqual([2, 2, 2]);

      const digests = await Promise.all(engines.map(async (e) => (await e.instance()).broadcastDigest));
      expect(new Set(digests).size).toBe(1);

      await produce(topics.events, events.slice(2 * quarter, 3 * quarter));
      const leaving = engines.splice(1, 1)[0];
      await leaving.stop();
      await waitForOwnership(engines);
      await produce(topics.events, [...events.slice(3 * quarter), ...closingTicks(PARTITIONS, endTime)]);

      await expectExactAlerts(alerts, expected, 90_000, 4000);
    } finally {
      await alerts.stop();
      await Promise.all(engines.map((e) => e.stop()));
    }
  }, 300_000);
});
