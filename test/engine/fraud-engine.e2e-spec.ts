import { FRAUD_RULES, generateFraud } from '@cepheus/rules';
import { startEngine, type EngineProcess } from '../support/engine-process';
import { createTopics } from '../../bench/support/kafka-topics';
import { uniqueName } from '../support/services';
import { expectExactAlerts, closingTicks } from '../support/shapes-stream';
import { engineTopicEnv, kafka, produce, pushRules, testTopics, TopicTail } from '../support/topics';

/**
 * The fraud rules on the real broker. One events partition: the device rule groups by device and the card rules by
 * card, and keyed state lives per partition (docs/architecture.md), so both groupings meet in one partition here.
 */
describe('engine on the real broker and Redis: the fraud rules', () => {
  let engine: EngineProcess | undefined;
  afterAll(async () => engine?.stop());

  it('finds every planted case of the generator and raises nothing on the clean traffic', async () => {
    const topics = testTopics('fraud');
    await createTopics(kafka, [{ topic: topics.events }, { topic: topics.rules, compact: true }]);
    await pushRules(topics.rules, FRAUD_RULES);
    engine = await startEngine({
      ...engineTopicEnv(topics),
      CEPHEUS_JOB_ID: uniqueName('fraud'),
      CEPHEUS_CHECKPOINT_INTERVAL_MS: '300',
    });
    const stream = generateFraud({ seed: 5, payments: 3000 });
    const alerts = await TopicTail.start(topics.alerts);
    try {
      await produce(topics.events, [
        ...stream.events.map(({ event, timestamp }) => ({
          key: String(event.cardId),
          value: JSON.stringify({ ...event, timestamp }),
        })),
        ...closingTicks(1, stream.endTime),
      ]);
      const expected = stream.expected.map((e) => `${e.ruleId} ${e.key} ${e.lastEventId}`).sort();
      expect(expected.length).toBeGreaterThanOrEqual(15);
      await expectExactAlerts(alerts, expected, 60_000, 3000);
    } finally {
      await alerts.stop();
    }
  }, 120_000);
});
