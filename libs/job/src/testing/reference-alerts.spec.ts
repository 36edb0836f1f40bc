import fc from 'fast-check';
import { alertIdOf, durationMs, validateRule, type AggregateRule } from '@cepheus/rules';
import { referenceAlerts, type ReferenceAlert } from './reference-alerts';
import {
  aggregateRuleSet,
  disorderWithinBound,
  GROUPINGS,
  PAYMENT_EPOCH,
  paymentStream,
  type Payment,
} from './fraud-arbitraries';

const T0 = PAYMENT_EPOCH;
const SECOND = 1000;
const MINUTE = 60_000;

/** An active aggregate rule document with the given aggregate part. */
function rule(
  id: string,
  groupBy: string[],
  aggregate: AggregateRule['aggregate'],
  extra: { version?: number; effectiveFrom?: number } = {},
): AggregateRule {
  return {
    id,
    version: extra.version ?? 1,
    status: 'active',
    ...(extra.effectiveFrom === undefined ? {} : { effectiveFrom: extra.effectiveFrom }),
    severity: 'high',
    groupBy,
    alert: { template: '{{value}} on {{key}}' },
    type: 'aggregate',
    aggregate,
  };
}

/** The expected alert, written out; only the id is computed, with the hash function the engine uses. */
function expected(target: AggregateRule, key: string, time: number, eventIds: string[], value: number): ReferenceAlert {
  return {
    alertId: alertIdOf(target.id, target.version, key, 'threshold', eventIds),
    ruleId: target.id,
    ruleVersion: target.version,
    key,
    kind: 'threshold',
    time,
    eventIds,
    value,
  };
}

function byAlertId(alerts: ReferenceAlert[]): ReferenceAlert[] {
  return [...alerts].sort((a, b) => (a.alertId < b.alertId ? -1 : a.alertId > b.alertId ? 1 : 0));
}

function pay(id: string, timestamp: number, fields: Record<string, unknown>): Record<string, unknown> {
  return { id, timestamp, ...fields };
}

describe('referenceAlerts: hand-worked cases', () => {
  it('"more than 5 payments over 1000 within 30m" alerts at the 6th, not the 7th, and again after falling to 5', () => {
    const velocity = rule('velocity', ['cardId'], {
      filter: { all: [{ fact: 'event', path: '$.amount', operator: 'greaterThan', value: 1000 }] },
      function: 'count',
      window: '30m',
      operator: 'greaterThan',
      limit: 5,
    });
    const card = { cardId: '4111' };
    const events = [
      pay('p1', T0, { ...card, amount: 1200 }),
      pay('p2', T0 + 1 * MINUTE, { ...card, amount: 1500 }),
      pay('p3', T0 + 2 * MINUTE, { ...card, amount: 2000 }),
      pay('small', T0 + 2.5 * MINUTE, { ...card, amount: 900 }), // filtered out: neither member nor evaluation
      pay('p4', T0 + 3 * MINUTE, { ...card, amount: 1001 }),
      pay('p5', T0 + 4 * MINUTE, { ...card, amount: 5000 }),
      pay('p6', T0 + 5 * MINUTE, { ...card, amount: 1100 }), // 6 > 5: alert
      pay('p7', T0 + 6 * MINUTE, { ...card, amount: 1100 }), // 7, still firing: no alert
      // p1 leaves at 30m (6 left, still firing), p2 at 31m (5 left: firing ends).
      pay('p8', T0 + 31.5 * MINUTE, { ...card, amount: 3000 }), // p3..p8 = 6: alert again
      pay('p9', T0 + 31.75 * MINUTE, { ...card, amount: 3000 }), // 7, firing: no alert
      // Another card with 5 payments never alerts.
      ...[1, 2, 3, 4, 5].map((n) => pay(`q${n}`, T0 + n * SECOND, { cardId: '4242', amount: 2000 })),
    ];
    expect(referenceAlerts([velocity], events)).toEqual(
      byAlertId([
        expected(velocity, 'cardId=4111', T0 + 5 * MINUTE, ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'], 6),
        expected(velocity, 'cardId=4111', T0 + 31.5 * MINUTE, ['p3', 'p4', 'p5', 'p6', 'p7', 'p8'], 6),
      ]),
    );
  });

  it('an eviction that makes a lessThan count hold alerts at the eviction moment; an empty window keeps firing', () => {
    const few = rule('few', ['cardId'], { function: 'count', window: '10s', operator: 'lessThan', limit: 2 });
    const events = [
      pay('a', T0, { cardId: 'c' }), // [a]: 1 < 2, alert
      pay('b', T0 + 1 * SECOND, { cardId: 'c' }), // [a, b]: 2, firing ends
      // 10 s: a leaves, [b]: 1 < 2, alert at the eviction moment.
      // 11 s: b leaves, []: 0 < 2 holds, no alert for an empty window, but the rule is firing from now on.
      pay('c', T0 + 20 * SECOND, { cardId: 'c' }), // [c]: 1 < 2 holds, still firing: no alert
    ];
    expect(referenceAlerts([few], events)).toEqual(
      byAlertId([expected(few, 'cardId=c', T0, ['a'], 1), expected(few, 'cardId=c', T0 + 10 * SECOND, ['b'], 1)]),
    );
  });

  it('an eviction that makes an avg hold alerts at the eviction moment; an empty avg is undefined and resets', () => {
    const cheap = rule('cheap', ['cardId'], {
      function: 'avg',
      field: 'amount',
      window: '10s',
      operator: 'lessThan',
      limit: 1000,
    });
    const events = [
      pay('e1', T0, { cardId: 'c', amount: 5000 }), // avg 5000
      pay('e2', T0 + 5 * SECOND, { cardId: 'c', amount: 100 }), // avg 2550
      // 10 s: e1 leaves, [e2]: avg 100 < 1000, alert. 15 s: e2 leaves, avg undefined: firing ends.
      pay('e3', T0 + 20 * SECOND, { cardId: 'c', amount: 50 }), // [e3]: avg 50, alert again
    ];
    expect(referenceAlerts([cheap], events)).toEqual(
      byAlertId([
        expected(cheap, 'cardId=c', T0 + 10 * SECOND, ['e2'], 100),
        expected(cheap, 'cardId=c', T0 + 20 * SECOND, ['e3'], 50),
      ]),
    );
  });

  it('events at one timestamp enter in id order by plain string comparison', () => {
    const three = rule('three', ['cardId'], {
      function: 'count',
      window: '1m',
      operator: 'greaterThanInclusive',
      limit: 3,
    });
    const events = ['b', 'c9', 'a', 'c10'].map((id) => pay(id, T0, { cardId: 'c' }));
    // Sorted a, b, c10, c9 ("c10" < "c9"): the third is c10.
    expect(referenceAlerts([three], events)).toEqual([expected(three, 'cardId=c', T0, ['a', 'b', 'c10'], 3)]);
  });

  it('the eviction moment comes before the events at the same time: the window is (T - window, T]', () => {
    const pairIn = (id: string, window: number | string) =>
      rule(id, ['cardId'], { function: 'count', window, operator: 'greaterThan', limit: 1 });
    const exactly = pairIn('exactly-10s', '10s');
    const longer = pairIn('10001ms', 10_001);
    const events = [pay('x', T0, { cardId: 'c' }), pay('y', T0 + 10 * SECOND, { cardId: 'c' })];
    // With 10 s, x has left when y enters: never 2. With 10.001 s both are in the window at y.
    expect(referenceAlerts([exactly, longer], events)).toEqual([
      expected(longer, 'cardId=c', T0 + 10 * SECOND, ['x', 'y'], 2),
    ]);
  });

  it('at one moment the eviction is evaluated on its own, then each event', () => {
    const few = rule('few', ['cardId'], { function: 'count', window: '10s', operator: 'lessThan', limit: 2 });
    const events = [
      pay('a', T0, { cardId: 'c' }), // [a]: alert
      pay('b', T0 + 5 * SECOND, { cardId: 'c' }), // [a, b]: firing ends
      // 10 s: eviction first, [b]: alert; then c enters, [b, c]: firing ends.
      pay('c', T0 + 10 * SECOND, { cardId: 'c' }),
      // 15 s: b leaves, [c]: alert. 20 s: c leaves, []: holds but empty, no alert.
    ];
    expect(referenceAlerts([few], events)).toEqual(
      byAlertId([
        expected(few, 'cardId=c', T0, ['a'], 1),
        expected(few, 'cardId=c', T0 + 10 * SECOND, ['b'], 1),
        expected(few, 'cardId=c', T0 + 15 * SECOND, ['c'], 1),
      ]),
    );
  });

  it('distinctCount counts values apart by type, null included; other values do not enter the window', () => {
    const many = rule('many-refs', ['deviceId'], {
      function: 'distinctCount',
      field: 'ref',
      window: '1m',
      operator: 'greaterThan',
      limit: 3,
    });
    const device = { deviceId: 'd-1' };
    const events = [
      pay('e1', T0 + 1 * SECOND, { ...device, ref: '1' }),
      pay('e2', T0 + 2 * SECOND, { ...device, ref: 1 }), // a second value
      pay('e3', T0 + 3 * SECOND, { ...device, ref: '1' }), // member, not a new value
      pay('e4', T0 + 4 * SECOND, { ...device }), // no ref: not a member
      pay('e5', T0 + 5 * SECOND, { ...device, ref: { x: 1 } }), // an object: not a member
      pay('e6', T0 + 6 * SECOND, { ...device, ref: true }), // third value
      pay('e7', T0 + 7 * SECOND, { ...device, ref: null }), // fourth value: 4 > 3, alert
      pay('e8', T0 + 8 * SECOND, { ...device, ref: 'null' }), // fifth value ("null" is not null), firing
    ];
    expect(referenceAlerts([many], events)).toEqual([
      expected(many, 'deviceId=d-1', T0 + 7 * SECOND, ['e1', 'e2', 'e3', 'e6', 'e7'], 4),
    ]);
  });

  it('sum/min take finite numbers only', () => {
    const big = rule('big-sum', ['cardId'], {
      function: 'sum',
      field: 'amount',
      window: '1m',
      operator: 'greaterThan',
      limit: 10_000,
    });
    const low = rule('low-min', ['cardId'], {
      function: 'min',
      field: '$.amount',
      window: '1m',
      operator: 'lessThan',
      limit: 1000,
    });
    const events = [
      pay('s1', T0, { cardId: 'c', amount: 5000 }),
      pay('s2', T0 + 1 * SECOND, { cardId: 'c', amount: '6000' }), // a string: no member of either
      pay('s3', T0 + 2 * SECOND, { cardId: 'c', amount: 4000 }),
      pay('s4', T0 + 3 * SECOND, { cardId: 'c', amount: Number.POSITIVE_INFINITY }), // not finite
      pay('s5', T0 + 4 * SECOND, { cardId: 'c', amount: 2000 }), // sum 11000 > 10000
      pay('s6', T0 + 5 * SECOND, { cardId: 'c', amount: 800 }), // min 800 < 1000
    ];
    expect(referenceAlerts([big, low], events)).toEqual(
      byAlertId([
        expected(big, 'cardId=c', T0 + 4 * SECOND, ['s1', 's3', 's5'], 11_000),
        expected(low, 'cardId=c', T0 + 5 * SECOND, ['s1', 's3', 's5', 's6'], 800),
      ]),
    );
  });

  it('effectiveFrom: earlier events are not routed, so they neither count nor evaluate', () => {
    const aggregate: AggregateRule['aggregate'] = {
      function: 'count',
      window: '1m',
      operator: 'greaterThanInclusive',
      limit: 2,
    };
    const late = rule('late', ['cardId'], aggregate, { effectiveFrom: T0 + 5000, version: 2 });
    const always = rule('always', ['cardId'], aggregate);
    const events = [0, 4999, 5000, 6000].map((ms) => pay(`e${ms}`, T0 + ms, { cardId: 'c' }));
    expect(referenceAlerts([late, always], events)).toEqual(
      byAlertId([
        expected(late, 'cardId=c', T0 + 6000, ['e5000', 'e6000'], 2),
        expected(always, 'cardId=c', T0 + 4999, ['e0', 'e4999'], 2),
      ]),
    );
  });

  it('routing: keys in groupBy order, encoded values; events missing a groupBy value are not routed', () => {
    const pair = rule('pair', ['deviceId', 'merchantId'], {
      function: 'count',
      window: '1m',
      operator: 'greaterThanInclusive',
      limit: 1,
    });
    const byCard = rule('by-card', ['cardId'], {
      function: 'count',
      window: '1m',
      operator: 'greaterThanInclusive',
      limit: 2,
    });
    const events = [
      pay('k1', T0, { deviceId: 'd-7', merchantId: 'm=1', cardId: 'c' }),
      pay('k2', T0 + 1, { merchantId: 'm=1', cardId: 'c' }), // no deviceId: not routed to `pair`
      pay('k3', T0 + 2, { deviceId: null, merchantId: 'm=1' }), // null: not routed (nor to by-card)
      pay('k4', T0 + 3, { deviceId: { id: 'd-7' }, merchantId: 'm=1' }), // an object: not routed
      pay('k5', T0 + 4, { deviceId: 7, merchantId: true }),
      pay('k6', T0 + 5, { deviceId: '7', merchantId: 'true' }), // same key as k5 (String(value)), firing
      pay('k7', T0 + 6, { deviceId: 'd&8', merchantId: '50%' }),
    ];
    expect(referenceAlerts([pair, byCard], events)).toEqual(
      byAlertId([
        expected(pair, 'deviceId=d-7&merchantId=m%3D1', T0, ['k1'], 1),
        expected(pair, 'deviceId=7&merchantId=true', T0 + 4, ['k5'], 1),
        expected(pair, 'deviceId=d%268&merchantId=50%25', T0 + 6, ['k7'], 1),
        expected(byCard, 'cardId=c', T0 + 1, ['k1', 'k2'], 2),
      ]),
    );
  });

  it('reads time and id through the options', () => {
    const two = rule('two', ['cardId'], { function: 'count', window: '1s', operator: 'equal', limit: 2 });
    const events = [
      { ref: 'x2', at: 500, cardId: 'c' },
      { ref: 'x1', at: 100, cardId: 'c' },
    ];
    const alerts = referenceAlerts([two], events, {
      eventTime: (event) => event.at as number,
      eventId: (event) => String(event.ref),
    });
    expect(alerts).toEqual([expected(two, 'cardId=c', 500, ['x1', 'x2'], 2)]);
  });

  it('refuses what the specification does not cover', () => {
    const count = rule('count', ['cardId'], { function: 'count', window: '1m', operator: 'greaterThan', limit: 0 });
    const events = [pay('a', T0, { cardId: 'c' })];
    expect(() => referenceAlerts([count], [...events, pay('a', T0 + 1, { cardId: 'd' })])).toThrow(/two events/);
    expect(() => referenceAlerts([count, count], events)).toThrow(/appears twice/);
    expect(() => referenceAlerts([{ ...count, status: 'paused' }], events)).toThrow(/not active/);
    expect(() => referenceAlerts([{ ...count, groupBy: ['$.card.id'] }], events)).toThrow(/groups by a path/);
    expect(() => referenceAlerts([{ ...count, limit: 'x' }], events)).toThrow(/invalid/);
    expect(() => referenceAlerts([count], [{ id: 'a', cardId: 'c' }])).toThrow(/finite number/);
    expect(() => referenceAlerts([count], [{ timestamp: T0, cardId: 'c' }])).toThrow(/id/);
    const nested = rule('nested', ['cardId'], {
      filter: { all: [{ fact: 'event', path: '$.card.id', operator: 'equal', value: 'x' }] },
      function: 'count',
      window: '1m',
      operator: 'greaterThan',
      limit: 0,
    });
    expect(() => referenceAlerts([nested], events)).toThrow(/path/);
  });
});

describe('fraud arbitraries', () => {
  it('aggregateRuleSet makes valid, active aggregate rules with distinct ids, each grouping when asked', () => {
    fc.assert(
      fc.property(aggregateRuleSet({ everyGrouping: true }), aggregateRuleSet(), (everyGrouping, plain) => {
        for (const rules of [everyGrouping, plain]) {
          expect(rules.length).toBeGreaterThanOrEqual(2);
          expect(rules.length).toBeLessThanOrEqual(6);
          expect(new Set(rules.map((r) => r.id)).size).toBe(rules.length);
          for (const r of rules) {
            const result = validateRule(r);
            expect(result.ok ? [] : result.errors).toEqual([]);
            expect(r.status).toBe('active');
            const windowMs = durationMs(r.aggregate.window);
            expect(windowMs).toBeGreaterThanOrEqual(1000);
            expect(windowMs).toBeLessThanOrEqual(5 * MINUTE);
          }
        }
        expect(everyGrouping.length).toBeGreaterThanOrEqual(3);
        for (const grouping of GROUPINGS) {
          expect(everyGrouping.some((r) => r.groupBy.length === 1 && r.groupBy[0] === grouping)).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('rule sets cover every function and operator and fire often on payment streams', () => {
    const samples = fc.sample(fc.tuple(aggregateRuleSet(), paymentStream({ minLength: 20 })), {
      numRuns: 150,
      seed: 20_261_207,
    });
    const functions = new Set<string>();
    const operators = new Set<string>();
    let rulesSeen = 0;
    let rulesAlerting = 0;
    for (const [rules, events] of samples) {
      const alerting = new Set(referenceAlerts(rules, events).map((a) => a.ruleId));
      for (const r of rules) {
        functions.add(r.aggregate.function);
        operators.add(r.aggregate.operator);
        rulesSeen += 1;
        if (alerting.has(r.id)) rulesAlerting += 1;
      }
    }
    expect([...functions].sort()).toEqual(['avg', 'count', 'distinctCount', 'max', 'min', 'sum']);
    expect(operators.size).toBe(6);
    // "Often": at least a third of the generated rules raise something on a stream of 20-60 payments.
    expect(rulesAlerting / rulesSeen).toBeGreaterThan(1 / 3);
  });

  it('paymentStream has colliding keys and tied timestamps, in (time, id) order, with distinct ids', () => {
    const samples = fc.sample(paymentStream({ minLength: 30 }), { numRuns: 50, seed: 7 });
    let ties = 0;
    for (const events of samples) {
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      for (let i = 1; i < events.length; i++) {
        const [a, b] = [events[i - 1], events[i]];
        expect(a.timestamp < b.timestamp || (a.timestamp === b.timestamp && a.id < b.id)).toBe(true);
        if (a.timestamp === b.timestamp) ties += 1;
      }
      expect(new Set(events.map((e) => e.cardId)).size).toBeLessThanOrEqual(4);
      for (const e of events) expect(Number.isSafeInteger(e.amount)).toBe(true);
    }
    expect(ties).toBeGreaterThan(samples.length); // more than one tie per stream on average
  });

  it('disorderWithinBound is a seeded permutation in which no event follows one more than the bound later', () => {
    fc.assert(
      fc.property(paymentStream(), fc.integer({ min: 0, max: 2 * MINUTE }), fc.integer(), (events, bound, seed) => {
        const out = disorderWithinBound(events, bound, seed);
        expect([...out].sort(byId)).toEqual([...events].sort(byId));
        expect(disorderWithinBound(events, bound, seed)).toEqual(out);
        let maxSeen = -Infinity;
        for (const event of out) {
          expect(maxSeen - event.timestamp).toBeLessThanOrEqual(bound);
          maxSeen = Math.max(maxSeen, event.timestamp);
          const watermark = maxSeen - bound - 1;
          expect(event.timestamp).toBeGreaterThan(watermark); // never late
        }
      }),
      { numRuns: 300 },
    );
  });

  it('disorderWithinBound does disorder: with a bound, some streams leave time order', () => {
    const samples = fc.sample(paymentStream({ minLength: 20 }), { numRuns: 30, seed: 3 });
    const disordered = samples.filter((events) =>
      disorderWithinBound(events, 30 * SECOND, 1).some((e, i, all) => i > 0 && all[i - 1].timestamp > e.timestamp),
    );
    expect(disordered.length).toBeGreaterThan(samples.length / 2);
    // Bound 0: only ties may move.
    for (const events of samples) {
      const out = disorderWithinBound(events, 0, 5);
      expect(out.map((e) => e.timestamp)).toEqual(events.map((e) => e.timestamp));
    }
  });
});

describe('referenceAlerts: properties', () => {
  const withPermutation = paymentStream().chain((events) =>
    fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length })),
  );

  it('is invariant under any permutation of its input events', () => {
    fc.assert(
      fc.property(aggregateRuleSet({ everyGrouping: true }), withPermutation, (rules, [events, permuted]) => {
        expect(referenceAlerts(rules, permuted)).toEqual(referenceAlerts(rules, events));
      }),
      { numRuns: 200 },
    );
  });

  it('alerts are sorted by id, each window lies in (time - window, time] in (time, id) order and counts match', () => {
    fc.assert(
      fc.property(aggregateRuleSet(), paymentStream(), (rules, events) => {
        const alerts = referenceAlerts(rules, events);
        const byEventId = new Map<string, Payment>(events.map((e) => [e.id, e]));
        const byRuleId = new Map(rules.map((r) => [r.id, r]));
        for (let i = 1; i < alerts.length; i++) expect(alerts[i - 1].alertId < alerts[i].alertId).toBe(true);
        for (const alert of alerts) {
          const r = byRuleId.get(alert.ruleId)!;
          const windowMs = durationMs(r.aggregate.window);
          const members = alert.eventIds.map((id) => byEventId.get(id)!);
          expect(members.length).toBeGreaterThan(0);
          for (const m of members) {
            expect(m.timestamp).toBeGreaterThan(alert.time - windowMs);
            expect(m.timestamp).toBeLessThanOrEqual(alert.time);
            expect(`${r.groupBy[0]}=${encodeIfNeeded(String(m[r.groupBy[0] as keyof Payment]))}`).toBe(alert.key);
          }
          expect([...members].sort(byTimeThenId)).toEqual(members);
          if (r.aggregate.function === 'count') expect(alert.value).toBe(members.length);
        }
      }),
      { numRuns: 200 },
    );
  });
});

function byId(a: Payment, b: Payment): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function byTimeThenId(a: Payment, b: Payment): number {
  return a.timestamp - b.timestamp || byId(a, b);
}

function encodeIfNeeded(text: string): string {
  return /[%&=]/.test(text) ? encodeURIComponent(text) : text;
}
