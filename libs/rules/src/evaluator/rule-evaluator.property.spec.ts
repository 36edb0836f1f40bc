import fc from 'fast-check';
import { ByteWriter } from '@cepheus/common';
import type { Alert } from '../alert/alert';
import { compileRule } from '../compile/compile-rule';
import { PerRuleEvaluator, type PerRuleKeyState } from '../testing/per-rule-evaluator';
import { aggregateWindow, type AggregateState } from '../aggregate/sliding-window';
import {
  slotAggregate,
  slotCount,
  slotRule,
  slotFiring,
  slotFunction,
  slotLatest,
  slotMembers,
  type SharedWindow,
} from '../aggregate/shared-window';
import { AGGREGATES_ENTRY, RuleEvaluator, type KeyState } from './rule-evaluator';

/*
 * The shared window per key (one store of events, per-rule membership bits and running aggregates) must behave
 * exactly like one sliding window per (rule, key), the design it replaced and whose windows are themselves held to a
 * brute-force model (sliding-window.spec.ts). Random rules over one grouping (filters, fields of mixed types, all
 * functions and comparisons, effectiveFrom, pauses), random streams with out-of-order and late events, new rule
 * versions (compatible or not), deletions, advanceTime and snapshot/restore in the middle.
 */

const FUNCTIONS = ['count', 'sum', 'avg', 'min', 'max', 'distinctCount'] as const;
const OPERATORS = [
  'greaterThan',
  'greaterThanInclusive',
  'lessThan',
  'lessThanInclusive',
  'equal',
  'notEqual',
] as const;
const FILTERS = [
  undefined,
  { all: [{ fact: 'event', path: '$.kind', operator: 'equal', value: 'k1' }] },
  { all: [{ fact: 'event', path: '$.y', operator: 'greaterThan', value: 0 }] },
  { any: [{ fact: 'event', path: '$.kind', operator: 'in', value: ['k1', 'k2'] }] },
  // Conjunctions of simple leaves run as data in the evaluator, other shapes through their closures: both kinds.
  {
    all: [
      { fact: 'event', path: '$.kind', operator: 'notEqual', value: 'k3' },
      { all: [{ fact: 'event', path: '$.x', operator: 'lessThanInclusive', value: 2 }] },
    ],
  },
  { not: { fact: 'event', path: '$.y', operator: 'lessThan', value: 1 } },
  {
    any: [
      { fact: 'event', path: '$.kind', operator: 'equal', value: 'k2' },
      { fact: 'event', path: '$.x', operator: 'greaterThan', value: '0' },
    ],
  },
];

const ruleSpec = fc.record({
  fn: fc.constantFrom(...FUNCTIONS),
  field: fc.constantFrom('x', 'y'),
  window: fc.integer({ min: 1, max: 60 }),
  operator: fc.constantFrom(...OPERATORS),
  limit: fc.integer({ min: -2, max: 6 }),
  filter: fc.integer({ min: 0, max: FILTERS.length - 1 }),
  status: fc.constantFrom('active', 'active', 'active', 'paused'),
  effectiveFrom: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
});
type RuleSpec = typeof ruleSpec extends fc.Arbitrary<infer T> ? T : never;

function aggregateRule(id: string, version: number, spec: RuleSpec): unknown {
  return {
    id,
    version,
    status: spec.status,
    severity: 'low',
    groupBy: ['g'],
    ...(spec.effectiveFrom === undefined ? {} : { effectiveFrom: spec.effectiveFrom }),
    alert: { template: '{{value}} {{count}} on {{key}}' },
    type: 'aggregate',
    aggregate: {
      ...(FILTERS[spec.filter] === undefined ? {} : { filter: FILTERS[spec.filter] }),
      function: spec.fn,
      ...(spec.fn === 'count' ? {} : { field: spec.field }),
      window: spec.window,
      operator: spec.operator,
      limit: spec.limit,
    },
  };
}

const SEQUENCE = {
  id: 'seq',
  version: 1,
  status: 'active',
  severity: 'low',
  groupBy: ['g'],
  alert: { template: '{{count}} on {{key}}' },
  type: 'sequence',
  sequence: {
    steps: [
      { name: 'a', condition: { all: [{ fact: 'event', path: '$.kind', operator: 'equal', value: 'k1' }] } },
      { name: 'b', condition: { all: [{ fact: 'event', path: '$.kind', operator: 'equal', value: 'k2' }] } },
    ],
    within: 15,
  },
};

// More than 8, so that some keys find their slots through the window's index rather than by a scan.
const RULE_IDS = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10', 'r11'];

const value = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom('p', 'q', '1', null, true, -0),
  fc.constantFrom(0.1, 0.2, 0.3, 1e16, -1e16, 2.5),
  fc.constant(undefined),
);

const step = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      op: fc.constant('event' as const),
      // Mostly forward, now and then back (out of order, or too late for short windows): windows fill up.
      dt: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 5 }) }, fc.integer({ min: -15, max: -1 })),
      g: fc.constantFrom('a', 'b'),
      kind: fc.constantFrom('k1', 'k2', 'k3'),
      x: value,
      y: value,
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), dt: fc.integer({ min: 0, max: 30 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('change' as const),
      rule: fc.constantFrom(...RULE_IDS),
      spec: fc.option(ruleSpec, { nil: undefined }), // undefined: the rule is deleted
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('snapshot' as const) }) },
);

interface RuleView {
  ids: string[];
  latest: number;
  firing: boolean;
  sum: number;
  value: number | undefined;
}

/** Each aggregate rule's window as seen through the shared window (the sum is compared bit for bit). */
function sharedView(state: KeyState): Record<string, RuleView> {
  const out: Record<string, RuleView> = {};
  const w = state.get(AGGREGATES_ENTRY) as SharedWindow | undefined;
  if (w === undefined) return out;
  for (let s = 0; s < slotCount(w); s++) {
    const id = slotRule(w, s);
    if (id === undefined) continue;
    const fn = slotFunction(w, s);
    const members = slotMembers(w, s);
    out[id] = {
      ids: members.ids,
      latest: slotLatest(w, s),
      firing: slotFiring(w, s),
      sum: fn === 'sum' || fn === 'avg' ? (slotAggregate(w, s, 'sum') as number) : 0,
      value: slotAggregate(w, s, fn),
    };
  }
  return out;
}

function referenceView(state: PerRuleKeyState): Record<string, RuleView> {
  const out: Record<string, RuleView> = {};
  for (const [id, raw] of state) {
    if (raw.kind !== 'aggregate') continue;
    const s = raw as AggregateState;
    out[id] = {
      ids: s.ids.slice(s.h),
      latest: s.latest,
      firing: s.firing,
      sum: s.fn === 'sum' || s.fn === 'avg' ? (aggregateWindow(s, 'sum') as number) : 0,
      value: aggregateWindow(s, s.fn),
    };
  }
  return out;
}

const byRuleThenId = (a: Alert, b: Alert): number =>
  a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : a.alertId < b.alertId ? -1 : a.alertId > b.alertId ? 1 : 0;

describe('RuleEvaluator: shared aggregate windows', () => {
  it('behave exactly like one sliding window per (rule, key)', () => {
    fc.assert(
      fc.property(
        fc.array(ruleSpec, { minLength: 1, maxLength: RULE_IDS.length }),
        fc.boolean(),
        fc.array(step, { minLength: 20, maxLength: 150, size: 'max' }),
        (specs, withSequence, steps) => {
          const documents = new Map<string, unknown>();
          const versions = new Map<string, number>();
          specs.forEach((spec, i) => {
            versions.set(RULE_IDS[i], 1);
            documents.set(RULE_IDS[i], aggregateRule(RULE_IDS[i], 1, spec));
          });
          if (withSequence) documents.set('seq', SEQUENCE);
          const build = (): { shared: RuleEvaluator; reference: PerRuleEvaluator } => {
            const compiled = [...documents.values()].map((d) => compileRule(d));
            return { shared: new RuleEvaluator(compiled), reference: new PerRuleEvaluator(compiled) };
          };
          let { shared, reference } = build();
          let sharedStates = new Map<string, KeyState>();
          let referenceStates = new Map<string, PerRuleKeyState>();
          let time = 0;
          let latest = 0;
          // Each key's wake-up as the engine keeps it between watermarks: lowered by process's added deadline after each event, set
          // exactly by nextWakeUp after advanceTime, a rule change or a restore. It must never be later than exact.
          let bounds = new Map<string, number>();
          const exactBounds = (): void => {
            bounds = new Map();
            for (const [key, s] of sharedStates) bounds.set(key, shared.nextWakeUp(s) ?? Infinity);
          };

          const compareKeys = (): void => {
            expect([...sharedStates.keys()].sort()).toEqual([...referenceStates.keys()].sort());
            for (const [key, s] of sharedStates) {
              const r = referenceStates.get(key) as PerRuleKeyState;
              expect(s.size === 0).toBe(r.size === 0);
              expect(shared.nextWakeUp(s)).toBe(reference.nextWakeUp(r));
              expect(bounds.get(key) ?? Infinity).toBeLessThanOrEqual(shared.nextWakeUp(s) ?? Infinity);
              expect(sharedView(s)).toEqual(referenceView(r));
            }
          };

          steps.forEach((st, i) => {
            if (st.op === 'event') {
              time = Math.max(0, time + st.dt);
              latest = Math.max(latest, time);
              const event: Record<string, unknown> = { id: `e${i}`, g: st.g, kind: st.kind };
              if (st.x !== undefined) event.x = st.x;
              if (st.y !== undefined) event.y = st.y;
              const routes = shared.route(event);
              expect(reference.route(event)).toEqual(routes);
              for (const route of routes) {
                const s = sharedStates.get(route.key) ?? new Map();
                const r = referenceStates.get(route.key) ?? new Map();
                sharedStates.set(route.key, s);
                referenceStates.set(route.key, r);
                const deadline = { next: bounds.get(route.key) ?? Infinity };
                expect(shared.process(s, route, event, time, deadline)).toEqual(
                  reference.process(r, route, event, time),
                );
                bounds.set(route.key, deadline.next);
              }
            } else if (st.op === 'advance') {
              latest += st.dt;
              for (const [key, s] of sharedStates) {
                const r = referenceStates.get(key) as PerRuleKeyState;
                const got = [...shared.advanceTime(s, key, latest)].sort(byRuleThenId);
                expect(got).toEqual([...reference.advanceTime(r, key, latest)].sort(byRuleThenId));
                if (s.size === 0) sharedStates.delete(key);
                if (r.size === 0) referenceStates.delete(key);
              }
              exactBounds();
            } else if (st.op === 'change') {
              const version = (versions.get(st.rule) ?? 0) + 1;
              versions.set(st.rule, version);
              if (st.spec === undefined) documents.delete(st.rule);
              else documents.set(st.rule, aggregateRule(st.rule, version, st.spec));
              ({ shared, reference } = build());
              exactBounds();
            } else {
              const s2 = new Map<string, KeyState>();
              const r2 = new Map<string, PerRuleKeyState>();
              let k = 0;
              for (const [key, s] of sharedStates) {
                const json = JSON.parse(JSON.stringify(shared.snapshot(s)));
                const restored = shared.restore(json);
                // Restoring is lossless for what it keeps: a second round trip changes nothing.
                const again = JSON.parse(JSON.stringify(shared.snapshot(restored)));
                expect(JSON.parse(JSON.stringify(shared.snapshot(shared.restore(again))))).toEqual(again);
                // The binary form (what checkpoints write) restores the same state; half the keys go on from it.
                const out = new ByteWriter(64);
                shared.writeState(s, out);
                const fromBinary = shared.readState(out.take());
                expect(JSON.parse(JSON.stringify(shared.snapshot(fromBinary)))).toEqual(again);
                const next = k++ % 2 === 0 ? fromBinary : restored;
                if (next.size > 0) s2.set(key, next);
              }
              for (const [key, r] of referenceStates) {
                const restored = reference.restore(JSON.parse(JSON.stringify(reference.snapshot(r))));
                if (restored.size > 0) r2.set(key, restored);
              }
              sharedStates = s2;
              referenceStates = r2;
              exactBounds();
            }
            compareKeys();
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});
