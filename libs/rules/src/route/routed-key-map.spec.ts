import fc from 'fast-check';
import { compileRule } from '../compile/compile-rule';
import { RoutedKeyMap } from './routed-key-map';
import { RuleSet } from './rule-set';

const GROUPINGS = [['cardId'], ['$.a.b'], ["$['x y']"], ['cardId', '$.a.b']];
const rules = new RuleSet(
  GROUPINGS.map((groupBy, i) =>
    compileRule({
      id: `r${i}`,
      version: 1,
      status: 'active',
      severity: 'low',
      alert: { template: '{{key}}' },
      type: 'aggregate',
      groupBy,
      aggregate: { function: 'count', window: '1m', operator: 'greaterThan', limit: 1 },
    }),
  ),
);

const value = fc.oneof(
  fc.constantFrom('7', '0', '-0', 'true', '', 'a&b', 'a=b', '%41', 'c 1', 'é'),
  fc.string({ maxLength: 4 }),
  fc.constantFrom(7, 0, -0, 1.5, true, false),
  fc.integer({ min: -3, max: 3 }),
);

const op = fc.record({
  op: fc.constantFrom('set' as const, 'setKey' as const, 'get' as const, 'delete' as const),
  cardId: value,
  ab: value,
  xy: value,
});

describe('RoutedKeyMap', () => {
  it('behaves as a Map by routing key text', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const map = new RoutedKeyMap<number>();
        const reference = new Map<string, number>();
        ops.forEach((o, i) => {
          const routes = rules.route({ cardId: o.cardId, a: { b: o.ab }, 'x y': o.xy });
          expect(routes).toHaveLength(GROUPINGS.length);
          for (const route of routes) {
            if (o.op === 'set') {
              map.set(route, i);
              reference.set(route.key, i);
            } else if (o.op === 'setKey') {
              // As a restore does: by key text alone, then found by the route as events find it.
              map.setKey(route.key, i);
              reference.set(route.key, i);
            } else if (o.op === 'delete') {
              expect(map.delete(route.key)).toBe(reference.delete(route.key));
            }
            expect(map.get(route)).toBe(reference.get(route.key));
            expect(map.getKey(route.key)).toBe(reference.get(route.key));
          }
          expect(map.size).toBe(reference.size);
        });
        for (const key of [...reference.keys()]) expect(map.delete(key)).toBe(true);
        expect(map.size).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('goes by key text for field names that would make the text ambiguous', () => {
    const map = new RoutedKeyMap<string>();
    const odd = { key: 'a=b=v', groupBy: ['a=b'], values: ['v'] };
    const amp = { key: 'a&b=v', groupBy: ['a&b'], values: ['v'] };
    map.set(odd, 'odd');
    map.set(amp, 'amp');
    expect(map.get(odd)).toBe('odd');
    expect(map.get(amp)).toBe('amp');
    expect(map.getKey('a=b=v')).toBe('odd');
    expect(map.getKey('a&b=v')).toBe('amp');
    expect(map.get({ key: 'a=v', groupBy: ['a'], values: ['v'] })).toBeUndefined();
    expect(map.delete('a=b=v')).toBe(true);
    expect(map.delete('a&b=v')).toBe(true);
    expect(map.size).toBe(0);
  });
});
