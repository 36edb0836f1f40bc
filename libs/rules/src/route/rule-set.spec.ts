import { compileRule } from '../compile/compile-rule';
import { RuleSet, routeEvent } from './rule-set';

const base = {
  version: 1,
  status: 'active',
  severity: 'low',
  alert: { template: '{{key}}' },
  type: 'aggregate',
};
const countRule = (id: string, groupBy: string[], filter?: unknown, status = 'active'): unknown => ({
  ...base,
  id,
  status,
  groupBy,
  aggregate: {
    function: 'count',
    window: '1m',
    operator: 'greaterThan',
    limit: 1,
    ...(filter === undefined ? {} : { filter }),
  },
});
const typeIs = (t: unknown, op = 'equal'): unknown => ({
  all: [{ fact: 'event', path: '$.type', operator: op, value: t }],
});

describe('routeEvent', () => {
  const rules = [
    countRule('by-card-a', ['cardId'], typeIs('payment')),
    countRule('by-card-b', ['cardId'], typeIs(['payment', 'refund'], 'in')),
    countRule('by-device', ['deviceId'], typeIs('login')),
    countRule('by-card-and-device', ['cardId', 'deviceId']),
    countRule('paused', ['cardId'], undefined, 'paused'),
  ].map((r) => compileRule(r));
  const set = new RuleSet(rules);

  it('routes an event once per distinct grouping, with the rule ids that want it', () => {
    const routes = set.route({ type: 'payment', cardId: 'c 1', deviceId: 'd&2' });
    expect(routes).toEqual(
      expect.arrayContaining([
        {
          key: 'cardId=c 1',
          groupBy: ['cardId'],
          values: ['c 1'],
          ruleIds: expect.arrayContaining(['by-card-a', 'by-card-b']),
        },
        {
          key: 'cardId=c 1&deviceId=d%262',
          groupBy: ['cardId', 'deviceId'],
          values: ['c 1', 'd&2'],
          ruleIds: ['by-card-and-device'],
        },
      ]),
    );
    expect(routes).toHaveLength(2);
    expect(routeEvent(rules, { type: 'payment', cardId: 'c 1', deviceId: 'd&2' })).toEqual(routes);
  });

  it('hands out the same merged rule lists for every event with the same guard hits', () => {
    const first = set.route({ type: 'payment', cardId: 'c1', deviceId: 'd1' });
    const second = set.route({ type: 'payment', cardId: 'c2', deviceId: 'd2' });
    expect(second.map((r) => r.ruleIds)).toEqual(first.map((r) => r.ruleIds));
    second.forEach((route, i) => expect(route.ruleIds).toBe(first[i].ruleIds));
    // Another combination (a refund meets by-card-b only) has lists of its own.
    const refund = set.route({ type: 'refund', cardId: 'c1', deviceId: 'd1' });
    expect(refund.find((r) => r.groupBy.length === 1)?.ruleIds).toEqual(['by-card-b']);
  });

  it('uses the guard index: an event meets only the rules that can match it', () => {
    const ids = (e: Record<string, unknown>): string[] =>
      set
        .candidates(e)
        .map((r) => r.id)
        .sort();
    expect(ids({ type: 'refund' })).toEqual(['by-card-and-device', 'by-card-b']);
    expect(ids({ type: 'login' })).toEqual(['by-card-and-device', 'by-device']);
    expect(ids({ type: 'other' })).toEqual(['by-card-and-device']);
  });

  it("indexes each rule on its most selective guard: per-merchant rules meet only their merchant's payments", () => {
    const perMerchant = (i: number): unknown =>
      countRule(`merchant-${i}`, ['cardId'], {
        all: [
          { fact: 'event', path: '$.type', operator: 'equal', value: 'payment' },
          { fact: 'event', path: '$.amount', operator: 'greaterThan', value: 250 },
          { fact: 'event', path: '$.merchantId', operator: 'equal', value: `m-${i}` },
        ],
      });
    const merchants = new RuleSet(
      [
        ...Array.from({ length: 20 }, (_, i) => perMerchant(i)),
        countRule('all-payments', ['cardId'], typeIs('payment')),
      ].map((r) => compileRule(r)),
    );
    const ids = (e: Record<string, unknown>): string[] =>
      merchants
        .candidates(e)
        .map((r) => r.id)
        .sort();
    expect(compileRule(perMerchant(3)).guards.map((g) => g.path)).toEqual(['$.type', '$.merchantId']);
    expect(ids({ type: 'payment', merchantId: 'm-3' })).toEqual(['all-payments', 'merchant-3']);
    expect(ids({ type: 'payment', merchantId: 'm-99' })).toEqual(['all-payments']);
    // Candidates are a superset of the rules that can match: a refund at m-3 meets merchant-3, whose filter rejects it.
    expect(ids({ type: 'refund', merchantId: 'm-3' })).toEqual(['merchant-3']);
  });

  it('takes an any as a guard only on a path every alternative guards, with the union of their values', () => {
    const rule = compileRule(
      countRule('either', ['cardId'], {
        any: [
          {
            all: [
              { fact: 'event', path: '$.type', operator: 'equal', value: 'a' },
              { fact: 'event', path: '$.x', operator: 'equal', value: 1 },
            ],
          },
          { fact: 'event', path: '$.type', operator: 'in', value: ['b', 'c'] },
        ],
      }),
    );
    expect(rule.guards).toEqual([{ path: '$.type', values: ['a', 'b', 'c'] }]);
  });

  it('does not route to a grouping whose fields are missing or not scalar', () => {
    expect(set.route({ type: 'login', deviceId: { id: 1 } })).toEqual([]);
    expect(set.route({ type: 'payment', cardId: 7 })).toEqual([
      { key: 'cardId=7', groupBy: ['cardId'], values: [7], ruleIds: ['by-card-a', 'by-card-b'] },
    ]);
  });

  it('keeps paused rules known but unrouted, and drops deleted ones', () => {
    expect(set.isPaused('paused')).toBe(true);
    expect(set.get('paused')).toBeDefined();
    const withDeleted = new RuleSet([compileRule(countRule('gone', ['cardId'], undefined, 'deleted'))]);
    expect(withDeleted.get('gone')).toBeUndefined();
  });

  it('gives a sequence with strict contiguity no guard (unrelated events must reach it)', () => {
    const seq = (contiguity: string): unknown => ({
      ...base,
      id: `s-${contiguity}`,
      groupBy: ['cardId'],
      type: 'sequence',
      sequence: {
        steps: [
          { name: 'a', condition: typeIs('x') },
          { name: 'b', contiguity, condition: typeIs('y') },
        ],
      },
    });
    expect(compileRule(seq('next')).guard).toBeUndefined();
    expect(compileRule(seq('followedBy')).guard).toEqual({ path: '$.type', values: ['x', 'y'] });
  });
});
