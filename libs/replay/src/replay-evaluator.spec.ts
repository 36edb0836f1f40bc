import { runRulesLocally } from '@cepheus/job';
import { EXAMPLE_FACTS, FRAUD_RULES, generateFraud, generateShapes, SHAPES_RULES } from '@cepheus/rules';
import { ReplayEvaluator } from './replay-evaluator';

function lines(): string[] {
  const events = [...generateShapes({ seed: 4 }).events, ...generateFraud({ seed: 4, payments: 1500 }).events];
  return events
    .sort((a, b) => a.timestamp - b.timestamp)
    .map((e) => JSON.stringify({ ...e.event, timestamp: e.timestamp }));
}

function messages(text: string[], partition = 0) {
  return text.map((value, i) => ({
    topic: 'events',
    partition,
    offset: String(i),
    key: Buffer.from('k'),
    value: Buffer.from(value),
  }));
}

describe('ReplayEvaluator', () => {
  const rules = [...FRAUD_RULES, ...SHAPES_RULES];

  it('raises the alerts the local runner raises on one partition, in batches of any size', () => {
    const input = lines();
    const expected = runRulesLocally(rules, input, { facts: EXAMPLE_FACTS, endTime: Number.MIN_SAFE_INTEGER });
    expect(expected.alerts.length).toBeGreaterThan(5);
    for (const size of [1, 97, input.length]) {
      const evaluator = new ReplayEvaluator(rules, { facts: EXAMPLE_FACTS });
      const all = messages(input);
      const ids: string[] = [];
      for (let i = 0; i < all.length; i += size)
        ids.push(...evaluator.process(0, all.slice(i, i + size)).map((a) => a.id));
      expect(ids).toEqual(expected.alerts.map((a) => a.id));
      expect(evaluator.eventsRead).toBe(input.length);
      expect(Object.values(evaluator.alertsByRule).reduce((a, b) => a + b, 0)).toBe(ids.length);
    }
  });

  it('closes windows only when asked, and counts late and unreadable events', () => {
    const input = lines();
    const evaluator = new ReplayEvaluator(rules, { facts: EXAMPLE_FACTS });
    const open = evaluator.process(0, messages(input)).length;
    const closed = evaluator.flush(Number.MAX_SAFE_INTEGER).length;
    const expected = runRulesLocally(rules, input, { facts: EXAMPLE_FACTS });
    expect(open + closed).toBe(expected.alerts.length);

    const late = new ReplayEvaluator(rules, { facts: EXAMPLE_FACTS });
    late.process(1, messages(['{"id":"a","timestamp":2000}', '{"id":"b","timestamp":1000}', 'not json'], 1));
    expect(late.deadLetters).toEqual({ LATE_EVENT: 1, NOT_JSON: 1 });
  });

  it('keeps partitions apart: each has its own watermark', () => {
    const evaluator = new ReplayEvaluator(rules, { facts: EXAMPLE_FACTS });
    evaluator.process(0, messages(['{"id":"a","timestamp":5000}']));
    evaluator.process(1, messages(['{"id":"b","timestamp":1000}'], 1));
    expect(evaluator.deadLetters).toEqual({});
  });
});
