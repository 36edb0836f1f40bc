import { SHAPES_RULES } from '@cepheus/rules';
import { startEngine, type EngineProcess } from '../support/engine-process';
import { createTopics } from '../../bench/support/kafka-topics';
import { uniqueName } from '../support/services';
import { expectExactAlerts, closingTicks, longShapesStream } from '../support/shapes-stream';
import { engineTopicEnv, kafka, produce, pushRules, testTopics, TopicTail } from '../support/topics';

const PARTITIONS = 4;

describe('exactly-once under kill -9: two engine processes, killed and restarted mid-stream', () => {
  it('delivers exactly the expected alerts to a read_committed consumer: none missing, none twice', async () => {
    const topics = testTopics('kill');
    await createTopics(kafka, [
      { topic: topics.events, partitions: PARTITIONS },
      { topic: topics.rules, compact: true },
    ]);
    await pushRules(topics.rules, SHAPES_RULES);

    const env = {
      ...engineTopicEnv(topics),
      CEPHEUS_JOB_ID: uniqueName('kill'),
      CEPHEUS_CHECKPOINT_INTERVAL_MS: '250',
      CEPHEUS_SESSION_TIMEOUT_MS: '6000',
      CEPHEUS_EVENT_PARTITIONS: String(PARTITIONS),
    };
    const engines: EngineProcess[] = await Promise.all(
      ['e1', 'e2'].map((id) => startEngine({ ...env, CEPHEUS_INSTANCE_ID: id })),
    );
    const alerts = await TopicTail.start(topics.alerts);
    const { events, expected, endTime } = longShapesStream(6, 40);
    const chunks = 12;
    const size = Math.ceil(events.length / chunks);
    const kills: string[] = [];
    try {
      for (let c = 0; c < chunks; c++) {
        await produce(topics.events, events.slice(c * size, (c + 1) * size));
        if (c === 4) {
          // A rule update in the middle: a rule that never matches, later deleted.
          const hexagon = { ...(SHAPES_RULES[0] as Record<string, unknown>), id: 'hexagons', version: 1 };
          await produce(topics.rules, [
            { key: 'hexagons', value: JSON.stringify(hexagon).replace(/"triangle"/g, '"hexagon"') },
          ]);
        }
        if (c === 8) await produce(topics.rules, [{ key: 'hexagons', value: null }]);
        if (c % 3 === 1) {
          // kill -9 a random engine at a random moment, then bring the same instance back.
          await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 800)));
          const victim = Math.floor(Math.random() * engines.length);
          kills.push(engines[victim].instanceId);
          await engines[victim].kill();
          engines[victim] = await startEngine({ ...env, CEPHEUS_INSTANCE_ID: engines[victim].instanceId });
        }
      }
      await produce(topics.events, closingTicks(PARTITIONS, endTime));
      expect(kills.length).toBeGreaterThanOrEqual(3);
      await expectExactAlerts(alerts, expected, 120_000, 4000);
    } finally {
      await alerts.stop();
      await Promise.all(engines.map((e) => e.stop()));
    }
  }, 300_000);
});
