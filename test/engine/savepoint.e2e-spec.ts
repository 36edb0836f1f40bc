import { SHAPES_RULES } from '@cepheus/rules';
import Redis from 'ioredis';
import { createTopics, type AlertBody } from '../../bench/support/kafka-topics';
import { startEngine, type EngineProcess } from '../support/engine-process';
import { redisUrl, uniqueName } from '../support/services';
import { alertSummary, closingTicks, longShapesStream } from '../support/shapes-stream';
import { engineTopicEnv, kafka, produce, pushRules, testTopics, TopicTail } from '../support/topics';

const PARTITIONS = 4;

describe('savepoints: stop a job at a savepoint taken through Redis, resume it as a new job on two engines', () => {
  it('splits the expected alerts exactly between the job before and the job after the savepoint', async () => {
    const topics = testTopics('savepoint');
    await createTopics(kafka, [
      { topic: topics.events, partitions: PARTITIONS },
      { topic: topics.rules, compact: true },
    ]);
    await pushRules(topics.rules, SHAPES_RULES);
    const { events, expected, endTime } = longShapesStream(4, 40);
    const half = Math.floor(events.length / 2);
    const jobA = uniqueName('jobA');
    const jobB = uniqueName('jobB');
    const alertsB = `${topics.alerts}.b`;
    const redis = new Redis(redisUrl());
    const engines: EngineProcess[] = [];
    const tails: TopicTail[] = [];
    try {
      const a = await startEngine({ ...engineTopicEnv(topics), CEPHEUS_JOB_ID: jobA, CEPHEUS_INSTANCE_ID: 'a1' });
      engines.push(a);
      await produce(topics.events, events.slice(0, half));
      // How far the state is, not eventsIn: a partition restarted from its committed offset counts events twice.
      const processed = async (): Promise<number> => {
        const positions = (await a.instance()).positionByPartition as Record<string, string>;
        return Object.values(positions).reduce((sum, o) => sum + Number(o), 0);
      };
      const deadline = Date.now() + 60_000;
      while ((await processed()) < half && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const reached = await processed();
      if (reached !== half) {
        throw new Error(`job A processed ${reached} of ${half} events in 60 s; its log:\n${a.output()}`);
      }

      await redis.publish(`cepheus:${jobA}:control`, JSON.stringify({ type: 'savepoint', id: 'sp-1' }));
      let answer: string | null = null;
      while (answer === null && Date.now() < deadline + 30_000) {
        answer = await redis.hget(`cepheus:${jobA}:savepoint:sp-1`, 'a1');
        if (answer === null) await new Promise((r) => setTimeout(r, 100));
      }
      const savepoint = JSON.parse(String(answer)) as { ok: boolean; offsets: Record<string, string> };
      expect(savepoint.ok).toBe(true);
      const total = Object.values(savepoint.offsets).reduce((sum, o) => sum + Number(o), 0);
      if (total !== half) throw new Error(`savepoint at ${total} of ${half} events; job A's log:\n${a.output()}`);
      await a.stop();
      engines.pop();

      const env = {
        ...engineTopicEnv(topics),
        CEPHEUS_ALERTS_TOPIC: alertsB,
        CEPHEUS_JOB_ID: jobB,
        CEPHEUS_START_FROM_SAVEPOINT: `${jobA}/sp-1`,
        CEPHEUS_SESSION_TIMEOUT_MS: '6000',
      };
      engines.push(await startEngine({ ...env, CEPHEUS_INSTANCE_ID: 'b1' }));
      // The second instance joins a group that now has offsets: it must not seed again.
      engines.push(await startEngine({ ...env, CEPHEUS_START_FROM_SAVEPOINT: '', CEPHEUS_INSTANCE_ID: 'b2' }));
      await produce(topics.events, [...events.slice(half), ...closingTicks(PARTITIONS, endTime)]);

      const before = await TopicTail.start(topics.alerts);
      const after = await TopicTail.start(alertsB);
      tails.push(before, after);
      await after.waitFor(() => before.messages.length + after.messages.length >= expected.length, 90_000, 3000);
      const a1 = before.values<AlertBody>().map(alertSummary);
      const b1 = after.values<AlertBody>().map(alertSummary);
      expect(a1.length).toBeGreaterThan(0);
      expect(b1.length).toBeGreaterThan(0);
      expect([...a1, ...b1].sort()).toEqual(expected);
      // The new job's partitions started from the savepoint's state, not empty.
      const restored = await Promise.all(engines.map(async (e) => (await e.instance()) as Record<string, number>));
      expect(restored.reduce((sum, s) => sum + s.restores, 0)).toBe(PARTITIONS);
      expect(restored.reduce((sum, s) => sum + s.restoredWithoutSnapshot, 0)).toBe(0);
    } finally {
      await Promise.all(tails.map((t) => t.stop()));
      await Promise.all(engines.map((e) => e.stop()));
      redis.disconnect();
    }
  }, 240_000);
});
