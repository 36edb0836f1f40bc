import type { EmittedAlert } from '@cepheus/kafka';
import { FRAUD_RULES, SHAPES_RULES, generateFraud, generateShapes, type ExampleStream } from '@cepheus/rules';
import { runRuleJob } from './run-rule-job';

function lines(stream: ExampleStream): string[] {
  return stream.events.map((e) => JSON.stringify({ ...e.event, timestamp: e.timestamp }));
}

function summary(alerts: readonly EmittedAlert[]): string[] {
  return alerts
    .map((a) => {
      const events = a.body.events as Array<{ id: string }>;
      return `${String(a.body.ruleId)} ${a.key} ${events[events.length - 1]!.id}`;
    })
    .sort();
}

function expected(stream: ExampleStream): string[] {
  return stream.expected.map((e) => `${e.ruleId} ${e.key} ${e.lastEventId}`).sort();
}

/** Splits lines round-robin into `n` inputs: each input keeps the order the lines had. */
function split(all: readonly string[], n: number): Map<string, string[]> {
  const inputs = new Map<string, string[]>();
  all.forEach((line, i) => {
    const name = `input-${i % n}`;
    inputs.set(name, [...(inputs.get(name) ?? []), line]);
  });
  return inputs;
}

const ids = (alerts: readonly EmittedAlert[]): string[] => alerts.map((a) => a.id).sort();

describe('the rule job on the runtime', () => {
  it('finds the planted shapes and fraud cases and nothing else', async () => {
    for (const [rules, stream] of [
      [SHAPES_RULES, generateShapes({ seed: 3 })],
      [FRAUD_RULES, generateFraud({ seed: 5, payments: 1500 })],
    ] as const) {
      const run = await runRuleJob(rules, lines(stream));
      expect(run.rules.every((r) => r.status === 'applied')).toBe(true);
      expect(summary(run.alerts)).toEqual(expected(stream));
      expect(run.deadLetters).toEqual([]);
    }
  });

  it('gives the same alert ids at parallelism 1, 2 and 4 and with the events spread over inputs', async () => {
    const stream = generateFraud({ seed: 11, payments: 1500 });
    const all = lines(stream);
    const one = await runRuleJob(FRAUD_RULES, all);
    expect(one.alerts.length).toBeGreaterThan(0);
    for (const [parallelism, inputs] of [
      [2, 1],
      [4, 3],
      [1, 4],
    ] as const) {
      // Each input is in time order; across inputs events interleave: the watermark is the minimum over inputs.
      const run = await runRuleJob(FRAUD_RULES, split(all, inputs), { parallelism });
      expect(ids(run.alerts)).toEqual(ids(one.alerts));
    }
  });

  it('sends bad lines and late events to the dead letters and goes on', async () => {
    const rule = {
      id: 'many',
      version: 1,
      type: 'aggregate',
      groupBy: ['cardId'],
      status: 'active',
      severity: 'low',
      alert: { template: '{{count}} on {{key}}' },
      aggregate: { function: 'count', window: '1m', operator: 'greaterThanInclusive', limit: 2 },
    };
    const run = await runRuleJob(
      [rule],
      [
        JSON.stringify({ id: 'a', cardId: 'c1', timestamp: 10_000 }),
        'not json',
        JSON.stringify({ id: 'b', cardId: 'c1', timestamp: 20_000 }),
        JSON.stringify({ id: 'late', cardId: 'c1', timestamp: 1_000 }),
        JSON.stringify({ id: 'c', cardId: 'c1', timestamp: 30_000 }),
      ],
      { outOfOrdernessMs: 5_000 },
    );
    expect(run.deadLetters.map((d) => [d.reason, d.origin.offset])).toEqual([
      ['NOT_JSON', '2'],
      ['LATE_EVENT', '4'],
    ]);
    expect(run.alerts.map((a) => (a.body.events as Array<{ id: string }>).map((e) => e.id))).toEqual([['a', 'b']]);
  });

  it('refuses a malformed rule with its field and keeps the good ones', async () => {
    const good = {
      id: 'good',
      version: 1,
      type: 'aggregate',
      groupBy: ['cardId'],
      status: 'active',
      severity: 'low',
      alert: { template: '{{key}}' },
      aggregate: { function: 'count', window: '1m', operator: 'greaterThan', limit: 0 },
    };
    const bad = { ...good, id: 'bad', aggregate: { ...good.aggregate, operator: 'like' } };
    const run = await runRuleJob([good, bad], [JSON.stringify({ id: 'a', cardId: 'c1', timestamp: 1 })]);
    expect(run.rules.map((r) => [r.ruleId, r.status])).toEqual([
      ['good', 'applied'],
      ['bad', 'rejected'],
    ]);
    expect(run.rules[1]!.errors?.[0]?.field).toBe('/aggregate/operator');
    expect(run.alerts).toHaveLength(1);
  });
});

describe('the rule job on worker threads', () => {
  it('gives the alerts of one instance in this thread with 2 instances in worker threads', async () => {
    const stream = generateFraud({ seed: 13, payments: 1200 });
    const all = lines(stream);
    const inThread = await runRuleJob(FRAUD_RULES, all);
    const threaded = await runRuleJob(FRAUD_RULES, split(all, 3), { parallelism: 2, threads: true });
    expect(ids(threaded.alerts)).toEqual(ids(inThread.alerts));
    expect(summary(threaded.alerts)).toEqual(expected(stream));
    expect(threaded.rules.filter((r) => r.status === 'applied')).toHaveLength(FRAUD_RULES.length);
    // Every instance holds the same rules: equal broadcast-state digests.
    expect(new Set(threaded.job.instances.map((i) => i.broadcastDigest)).size).toBe(1);
  }, 120_000);
});
