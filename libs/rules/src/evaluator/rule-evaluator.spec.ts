import { compileRule, type CompiledRule } from '../compile/compile-rule';
import type { Alert } from '../alert/alert';
import type { JsonValue, Rule } from '../model/rule';
import { RuleEvaluator, type KeyState } from './rule-evaluator';

const MIN = 60_000;
const T0 = 1_700_000_000_000;

function velocity(
  overrides: Partial<Rule> & Record<string, unknown> = {},
  aggregate: Record<string, unknown> = {},
): unknown {
  return {
    id: 'velocity',
    version: 1,
    status: 'active',
    severity: 'high',
    groupBy: ['cardId'],
    alert: { template: '{{count}} payments over 1000 on card {{key}} within {{window}}' },
    type: 'aggregate',
    aggregate: {
      filter: { all: [{ fact: 'event', path: '$.amount', operator: 'greaterThan', value: 1000 }] },
      function: 'count',
      window: '30m',
      operator: 'greaterThan',
      limit: 5,
      ...aggregate,
    },
    ...overrides,
  };
}

const pay = (id: string, amount: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id,
  cardId: 'c1',
  amount,
  ...extra,
});

/** Feeds events with times to one evaluator, keeping key state, and collects alerts. */
class Harness {
  readonly states = new Map<string, KeyState>();
  readonly alerts: Alert[] = [];
  constructor(public evaluator: RuleEvaluator) {}
  send(event: Record<string, unknown>, ts: number): Alert[] {
    const out: Alert[] = [];
    for (const route of this.evaluator.route(event)) {
      const s: KeyState = this.states.get(route.key) ?? new Map();
      this.states.set(route.key, s);
      out.push(...this.evaluator.process(s, route, event, ts));
    }
    this.alerts.push(...out);
    return out;
  }
  advance(ts: number): Alert[] {
    const out: Alert[] = [];
    for (const [k, s] of this.states) out.push(...this.evaluator.advanceTime(s, k, ts));
    this.alerts.push(...out);
    return out;
  }
}

const evaluatorOf = (...rules: unknown[]): RuleEvaluator => new RuleEvaluator(rules.map((r) => compileRule(r)));

describe('RuleEvaluator: aggregates', () => {
  it('fires once when the count crosses the limit, with a deterministic id, message and explanation', () => {
    const h = new Harness(evaluatorOf(velocity()));
    for (let i = 1; i <= 5; i++) expect(h.send(pay(`p${i}`, 1500), T0 + i * MIN)).toEqual([]);
    h.send(pay('small', 20), T0 + 6 * MIN);
    const [alert] = h.send(pay('p6', 1200), T0 + 7 * MIN);
    expect(alert).toMatchObject({
      ruleId: 'velocity',
      ruleVersion: 1,
      kind: 'threshold',
      severity: 'high',
      key: 'cardId=c1',
      message: '6 payments over 1000 on card c1 within 30m',
      firstEventTime: T0 + MIN,
      lastEventTime: T0 + 7 * MIN,
    });
    expect(alert.events.map((e) => e.id)).toEqual(['p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
    expect(alert.explanation).toMatchObject({
      kind: 'aggregate',
      function: 'count',
      value: 6,
      operator: 'greaterThan',
      limit: 5,
    });
    expect(alert.explanation).toHaveProperty('filter.children.0', {
      kind: 'leaf',
      fact: 'event',
      path: '$.amount',
      operator: 'greaterThan',
      factValue: 1200,
      value: 1000,
      result: true,
    });
    // Same rule version, key and events: same id, computed independently.
    const again = new Harness(evaluatorOf(velocity()));
    for (let i = 1; i <= 5; i++) again.send(pay(`p${i}`, 1500), T0 + i * MIN);
    expect(again.send(pay('p6', 1200), T0 + 7 * MIN)[0].alertId).toBe(alert.alertId);
    expect(alert.alertId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('does not fire again while the limit stays exceeded, and re-arms once it no longer is', () => {
    const h = new Harness(evaluatorOf(velocity()));
    for (let i = 1; i <= 6; i++) h.send(pay(`a${i}`, 1500), T0 + i * MIN);
    expect(h.alerts).toHaveLength(1);
    h.send(pay('a7', 1500), T0 + 8 * MIN);
    expect(h.alerts).toHaveLength(1);
    h.advance(T0 + 60 * MIN); // everything left the window
    expect(h.states.get('cardId=c1')).toEqual(new Map());
    for (let i = 1; i <= 6; i++) h.send(pay(`b${i}`, 1500), T0 + 61 * MIN + i * 1000);
    expect(h.alerts).toHaveLength(2);
  });

  it('slides: events older than the window no longer count', () => {
    const h = new Harness(evaluatorOf(velocity()));
    for (let i = 0; i < 5; i++) h.send(pay(`p${i}`, 1500), T0 + i * 10 * MIN); // 0,10,20,30,40 min
    h.send(pay('p5', 1500), T0 + 50 * MIN); // window (20, 50]: 30, 40, 50 -> 3
    expect(h.alerts).toEqual([]);
  });

  it.each([
    ['sum', 'amount', 'greaterThan', 3000, [1000, 1500, 700], 1],
    ['avg', 'amount', 'lessThan', 100, [50, 120, 130], 1],
    ['max', 'amount', 'greaterThanInclusive', 900, [100, 900], 1],
    ['min', 'amount', 'lessThanInclusive', 5, [10, 20, 30], 0],
    ['distinctCount', 'merchant', 'greaterThan', 2, ['m1', 'm2', 'm1', 'm3'], 1],
  ] as const)('%s over %s', (fn, field, operator, limit, values, expectedAlerts) => {
    const h = new Harness(evaluatorOf(velocity({}, { function: fn, field, operator, limit, filter: undefined })));
    values.forEach((v, i) =>
      h.send({ id: `e${i}`, cardId: 'c1', amount: typeof v === 'number' ? v : 1, merchant: v }, T0 + i),
    );
    expect(h.alerts).toHaveLength(expectedAlerts);
  });

  it('keeps aggregate state as JSON and restores it to the same behaviour', () => {
    const evaluator = evaluatorOf(velocity());
    const h = new Harness(evaluator);
    for (let i = 1; i <= 5; i++) h.send(pay(`p${i}`, 1500), T0 + i * MIN);
    const saved = JSON.parse(JSON.stringify(evaluator.snapshot(h.states.get('cardId=c1') as KeyState)));
    const restored = new Harness(evaluatorOf(velocity()));
    restored.states.set('cardId=c1', restored.evaluator.restore(saved));
    expect(restored.send(pay('p6', 1200), T0 + 7 * MIN)).toHaveLength(1);
    expect(restored.alerts[0].alertId).toBe(h.send(pay('p6', 1200), T0 + 7 * MIN)[0].alertId);
  });

  it('ignores events before effectiveFrom', () => {
    const h = new Harness(evaluatorOf(velocity({ effectiveFrom: T0 + 4 * MIN })));
    for (let i = 1; i <= 8; i++) h.send(pay(`p${i}`, 1500), T0 + i * MIN);
    expect(h.alerts).toHaveLength(0); // only 5 events (4..8) counted
    h.send(pay('p9', 1500), T0 + 9 * MIN);
    expect(h.alerts).toHaveLength(1);
  });
});

describe('RuleEvaluator: lifecycle', () => {
  function runV1(): Harness {
    const h = new Harness(evaluatorOf(velocity()));
    for (let i = 1; i <= 4; i++) h.send(pay(`p${i}`, 1500), T0 + i * MIN);
    return h;
  }

  it('a compatible new version keeps the window (lower limit fires on the next event)', () => {
    const h = runV1();
    h.evaluator = evaluatorOf(velocity({ version: 2 }, { limit: 3 }));
    const [alert] = h.send(pay('p5', 1500), T0 + 5 * MIN);
    expect(alert).toMatchObject({ ruleVersion: 2, message: '5 payments over 1000 on card c1 within 30m' });
  });

  it('an incompatible new version starts from empty state', () => {
    const h = runV1();
    h.evaluator = evaluatorOf(velocity({ version: 2 }, { function: 'sum', field: 'amount', limit: 5000 }));
    expect(h.send(pay('p5', 1500), T0 + 5 * MIN)).toEqual([]); // 1500, not 7500
    expect(h.send(pay('p6', 4000), T0 + 6 * MIN)).toHaveLength(1);
  });

  it('a paused rule is not evaluated but keeps its state; a deleted rule loses it', () => {
    const h = runV1();
    h.evaluator = evaluatorOf(velocity({ version: 2, status: 'paused' }));
    expect(h.evaluator.route(pay('x', 1500))).toEqual([]);
    h.advance(T0 + 10 * MIN);
    const kept = h.evaluator.snapshot(h.states.get('cardId=c1') as KeyState) as { aggregates: { slots: unknown[] } };
    expect(kept.aggregates.slots).toHaveLength(1);
    const [rule, , fn, , , , , members] = kept.aggregates.slots[0] as unknown[];
    expect({ rule, fn, members }).toEqual({ rule: 'velocity', fn: 'count', members: [0, 1, 2, 3] });
    // Key-state format 2 wrote slots as objects: it still restores to the same state.
    const v3 = kept as unknown as { v: number; aggregates: { slots: unknown[][] } };
    const v2 = {
      ...v3,
      v: 2,
      aggregates: {
        ...v3.aggregates,
        slots: v3.aggregates.slots.map(([rule, shape, fn, latest, firing, sum, comp, members]) => ({
          ...{ rule, shape, fn, latest, firing: firing === 1, sum, comp, members },
        })),
      },
    };
    expect(h.evaluator.snapshot(h.evaluator.restore(v2 as unknown as JsonValue))).toEqual(kept);
    h.evaluator = evaluatorOf(velocity({ version: 3, status: 'deleted' }));
    h.advance(T0 + 11 * MIN);
    expect(h.states.get('cardId=c1')).toEqual(new Map());
  });
});

const sequence = (
  steps: unknown[],
  more: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
): unknown => ({
  id: 'seq',
  version: 1,
  status: 'active',
  severity: 'medium',
  groupBy: ['board'],
  alert: { template: '{{count}} events on {{key}}: {{first.colour}} {{first.shape}} then {{last.shape}}' },
  type: 'sequence',
  sequence: { steps, within: '10m', ...more },
  ...top,
});
const shapeIs = (s: string): Record<string, unknown> => ({
  fact: 'event',
  path: '$.shape',
  operator: 'equal',
  value: s,
});
const shape = (
  id: string,
  s: string,
  colour: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  id,
  board: 'b1',
  shape: s,
  colour,
  ...extra,
});

describe('RuleEvaluator: sequences', () => {
  const sameColour = sequence([
    { name: 'first', condition: { all: [shapeIs('square')] } },
    {
      name: 'second',
      condition: {
        all: [
          shapeIs('triangle'),
          { fact: 'event', path: '$.colour', operator: 'equal', value: { fact: 'steps', path: '$.first[0].colour' } },
        ],
      },
    },
  ]);

  it('matches "a square then a triangle of the same colour" and explains each step', () => {
    const h = new Harness(evaluatorOf(sameColour));
    h.send(shape('s1', 'square', 'red'), T0);
    h.send(shape('t1', 'triangle', 'blue'), T0 + MIN);
    expect(h.alerts).toEqual([]);
    const [alert] = h.send(shape('t2', 'triangle', 'red'), T0 + 2 * MIN);
    expect(alert).toMatchObject({
      kind: 'match',
      key: 'board=b1',
      message: '2 events on b1: red square then triangle',
      firstEventTime: T0,
      lastEventTime: T0 + 2 * MIN,
    });
    expect(alert.events).toEqual([
      { id: 's1', timestamp: T0, step: 'first', fields: { board: 'b1', shape: 'square', colour: 'red' } },
      { id: 't2', timestamp: T0 + 2 * MIN, step: 'second', fields: { board: 'b1', shape: 'triangle', colour: 'red' } },
    ]);
    expect(alert.explanation).toHaveProperty('steps.1.condition.children.1', {
      kind: 'leaf',
      fact: 'event',
      path: '$.colour',
      operator: 'equal',
      factValue: 'red',
      value: 'red',
      valueFact: { fact: 'steps', path: '$.first[0].colour' },
      result: true,
    });
  });

  it('does not match outside within', () => {
    const h = new Harness(evaluatorOf(sameColour));
    h.send(shape('s1', 'square', 'red'), T0);
    h.send(shape('t1', 'triangle', 'red'), T0 + 11 * MIN);
    expect(h.alerts).toEqual([]);
  });

  it('compares with an aggregate of an earlier step: above 10 times the average of the small ones', () => {
    const rule = sequence(
      [
        {
          name: 'small',
          condition: { all: [{ fact: 'event', path: '$.amount', operator: 'lessThan', value: 10 }] },
          timesOrMore: 2,
          consecutive: true,
        },
        {
          name: 'big',
          condition: {
            all: [
              {
                fact: 'event',
                path: '$.amount',
                operator: 'greaterThan',
                value: { fact: 'step', params: { name: 'small', agg: 'avg', field: 'amount', scale: 10 } },
                name: 'above 10x avg',
              },
              { not: { fact: 'event', path: '$.amount', operator: 'lessThan', value: 10 } },
            ],
          },
        },
      ],
      {},
      { alert: { template: '{{big.amount}} after {{count}} events' } },
    );
    const h = new Harness(evaluatorOf(rule));
    h.send({ id: 'a', board: 'b1', amount: 2 }, T0);
    h.send({ id: 'b', board: 'b1', amount: 4 }, T0 + 1);
    expect(h.send({ id: 'c', board: 'b1', amount: 29 }, T0 + 2)).toEqual([]); // 29 <= 10 x 3
    const [alert] = h.send({ id: 'd', board: 'b1', amount: 31 }, T0 + 3);
    expect(alert.message).toBe('31 after 3 events');
    expect(alert.explanation).toHaveProperty('steps.2.condition.children.0.value', 30);
  });

  it('raises a timeout alert for a partial match that got far enough', () => {
    const rule = sequence(
      [
        { name: 'a', condition: { all: [shapeIs('square')] } },
        { name: 'b', condition: { all: [shapeIs('circle')] } },
        { name: 'c', condition: { all: [shapeIs('triangle')] } },
      ],
      { timeoutAlert: { template: '{{key}} stalled after {{count}} events', severity: 'low', minStep: 'b' } },
    );
    const h = new Harness(evaluatorOf(rule));
    h.send(shape('x1', 'square', 'red'), T0);
    h.send(shape('x2', 'circle', 'red'), T0 + MIN);
    h.send(shape('y1', 'square', 'red'), T0 + 12 * MIN); // times out x1..x2 (its first event + 10m passed)
    h.advance(T0 + 30 * MIN); // y1 times out too, but never reached b
    expect(h.alerts).toHaveLength(1);
    expect(h.alerts[0]).toMatchObject({ kind: 'timeout', severity: 'low', message: 'b1 stalled after 2 events' });
    expect(h.alerts[0].explanation).toMatchObject({ kind: 'timeout', missing: ['c'] });
  });

  it('snapshots NFA state to JSON and continues after restore', () => {
    const evaluator = evaluatorOf(sameColour);
    const h = new Harness(evaluator);
    h.send(shape('s1', 'square', 'red'), T0);
    const saved = JSON.parse(JSON.stringify(evaluator.snapshot(h.states.get('board=b1') as KeyState)));
    const other = new Harness(evaluatorOf(sameColour));
    other.states.set('board=b1', other.evaluator.restore(saved));
    expect(other.send(shape('t1', 'triangle', 'red'), T0 + MIN)).toHaveLength(1);
  });

  it('a changed sequence resets the NFA state, a changed template does not', () => {
    const h = new Harness(evaluatorOf(sameColour));
    h.send(shape('s1', 'square', 'red'), T0);
    h.evaluator = evaluatorOf({ ...(sameColour as Rule), version: 2, alert: { template: 'v2 {{key}}' } });
    expect(h.send(shape('t1', 'triangle', 'red'), T0 + MIN)[0].message).toBe('v2 b1');
    h.send(shape('s2', 'square', 'red'), T0 + 2 * MIN);
    const changed = sequence([
      { name: 'first', condition: { all: [shapeIs('square')] } },
      { name: 'second', condition: { all: [shapeIs('triangle')] } },
    ]);
    h.evaluator = evaluatorOf({ ...(changed as Rule), version: 3 });
    expect(h.send(shape('t2', 'triangle', 'red'), T0 + 3 * MIN)).toEqual([]);
  });

  it('counts a throwing condition as not holding', () => {
    const rule = sequence([
      {
        name: 'a',
        condition: { all: [{ fact: 'event', path: '$.x', operator: 'in', value: { fact: 'event', path: '$.list' } }] },
      },
      { name: 'b', condition: { all: [shapeIs('circle')] } },
    ]);
    const compiled = compileRule(rule) as CompiledRule;
    const h = new Harness(new RuleEvaluator([compiled]));
    h.send({ id: '1', board: 'b1', x: 1, list: 5 }, T0);
    h.send({ id: '2', board: 'b1', shape: 'circle' }, T0 + 1);
    expect(h.alerts).toEqual([]);
    expect(compiled.stats.conditionErrors).toBeGreaterThan(0);
    h.send({ id: '3', board: 'b1', x: 1, list: [1] }, T0 + 2);
    h.send({ id: '4', board: 'b1', shape: 'circle' }, T0 + 3);
    expect(h.alerts).toHaveLength(1);
  });

  it('nextWakeUp says when advanceTime has work', () => {
    const evaluator = evaluatorOf(sameColour, velocity());
    const s: KeyState = new Map();
    expect(evaluator.nextWakeUp(s)).toBeUndefined();
    evaluator.process(s, { key: 'board=b1', ruleIds: ['seq'] }, shape('s1', 'square', 'red'), T0);
    expect(evaluator.nextWakeUp(s)).toBe(T0 + 10 * MIN);
  });
});
