import fc from 'fast-check';
import { isCepheusError } from '@cepheus/common';
import { AfterMatchSkipStrategy } from '../after-match/after-match-skip-strategy';
import { NFA, type Match } from '../nfa/nfa';
import type { Condition, Contiguity } from '../pattern/condition';
import { Pattern } from '../pattern/pattern';
import type { TimedEvent } from './nfa-test-harness';

// Generators of patterns and streams for the property tests: every contiguity, quantifier, NOT and skip strategy.

export interface Ev {
  id: number;
  /** `x` only in the fast-path property's streams: an event no type condition takes. */
  t: 'a' | 'b' | 'c' | 'x';
  v: number;
}

export type CondSpec =
  | { kind: 'type'; t: Ev['t'] }
  | { kind: 'either'; t: Ev['t']; u: Ev['t'] }
  | { kind: 'value'; min: number }
  | { kind: 'iterative'; step: number };

export interface StepSpec {
  cond: CondSpec;
  contiguity: Contiguity;
  quantifier: 'one' | 'times' | 'range' | 'oneOrMore' | 'timesOrMore';
  n: number;
  optional: boolean;
  inner: 'default' | 'consecutive' | 'allowCombinations';
  greedy: boolean;
  until: CondSpec | undefined;
  not: { kind: 'notNext' | 'notFollowedBy'; cond: CondSpec } | undefined;
}

export interface PatternSpec {
  steps: StepSpec[];
  window: number | undefined;
  skip: { kind: 'noSkip' | 'skipToNext' | 'skipPastLastEvent' | 'skipToFirst' | 'skipToLast'; step: number };
}

export const type = fc.constantFrom<Ev['t']>('a', 'b', 'c');
export const typeOrNoise = fc.constantFrom<Ev['t']>('a', 'b', 'c', 'x', 'x', 'x', 'x', 'x', 'x');
export const condSpec: fc.Arbitrary<CondSpec> = fc.oneof(
  { weight: 4, arbitrary: type.map((t) => ({ kind: 'type' as const, t })) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('either' as const), t: type, u: type }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('value' as const), min: fc.integer({ min: 0, max: 2 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('iterative' as const), step: fc.integer({ min: 0, max: 3 }) }),
  },
);

export const stepSpec: fc.Arbitrary<StepSpec> = fc.record({
  cond: condSpec,
  contiguity: fc.constantFrom<Contiguity>('strict', 'relaxed', 'any'),
  quantifier: fc.constantFrom<StepSpec['quantifier']>('one', 'one', 'times', 'range', 'oneOrMore', 'timesOrMore'),
  n: fc.integer({ min: 1, max: 2 }),
  optional: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
  inner: fc.constantFrom<StepSpec['inner']>('default', 'consecutive', 'allowCombinations'),
  greedy: fc.integer({ min: 0, max: 4 }).map((x) => x === 0),
  until: fc.option(condSpec, { freq: 4 }).map((x) => x ?? undefined),
  not: fc
    .option(
      fc.record({ kind: fc.constantFrom<'notNext' | 'notFollowedBy'>('notNext', 'notFollowedBy'), cond: condSpec }),
      { freq: 2 },
    )
    .map((x) => x ?? undefined),
});

export const patternSpec: fc.Arbitrary<PatternSpec> = fc.record({
  steps: fc.array(stepSpec, { minLength: 1, maxLength: 3 }),
  window: fc.option(fc.integer({ min: 2, max: 8 }), { freq: 2 }).map((x) => x ?? undefined),
  skip: fc.record({
    kind: fc.constantFrom<PatternSpec['skip']['kind']>(
      'noSkip',
      'skipToNext',
      'skipPastLastEvent',
      'skipToFirst',
      'skipToLast',
    ),
    step: fc.integer({ min: 0, max: 2 }),
  }),
});

// Patterns whose later steps wait with relaxed or any contiguity: the state the step fast path answers.
export const waitingPatternSpec: fc.Arbitrary<PatternSpec> = fc
  .record({ spec: patternSpec, more: fc.array(stepSpec, { minLength: 1, maxLength: 2 }) })
  .map(({ spec, more }) => ({
    ...spec,
    steps: [spec.steps[0], ...more].map((step, i) =>
      i > 0 && step.contiguity === 'strict' ? { ...step, contiguity: 'relaxed' as const } : step,
    ),
  }));

export const eventsOf = (types: fc.Arbitrary<Ev['t']>, maxLength: number): fc.Arbitrary<TimedEvent<Ev>[]> =>
  fc
    .array(fc.record({ t: types, v: fc.integer({ min: 0, max: 2 }), dt: fc.integer({ min: 0, max: 2 }) }), {
      maxLength,
    })
    .map((raw) => {
      let ts = 0;
      return raw.map((r, id) => {
        ts += r.dt;
        return { event: { id, t: r.t, v: r.v }, timestamp: ts };
      });
    });
export const eventsArb = eventsOf(type, 7);
// The step fast path answers partial matches that wait after an ignored event, for an event that neither their step
// nor an entry step takes: that needs longer streams than the reference matcher can enumerate, and events that no
// type condition takes.
export const longEventsArb = eventsOf(typeOrNoise, 24);

export const stepName = (i: number): string => `s${i}`;

export function toCondition(spec: CondSpec): Condition<Ev> {
  switch (spec.kind) {
    case 'type':
      return (e) => e.t === spec.t;
    case 'either':
      return (e) => e.t === spec.t || e.t === spec.u;
    case 'value':
      return (e) => e.v >= spec.min;
    case 'iterative':
      // Reads the events already matched: the parity of the value must differ from the count of events of step s<k>.
      return (e, ctx) => (e.v + ctx.getEventsForPattern(stepName(spec.step)).length) % 2 === 0;
  }
}

export function skipOf(spec: PatternSpec): AfterMatchSkipStrategy {
  const name = stepName(Math.min(spec.skip.step, spec.steps.length - 1));
  switch (spec.skip.kind) {
    case 'noSkip':
      return AfterMatchSkipStrategy.noSkip();
    case 'skipToNext':
      return AfterMatchSkipStrategy.skipToNext();
    case 'skipPastLastEvent':
      return AfterMatchSkipStrategy.skipPastLastEvent();
    case 'skipToFirst':
      return AfterMatchSkipStrategy.skipToFirst(name);
    case 'skipToLast':
      return AfterMatchSkipStrategy.skipToLast(name);
  }
}

/** Builds the pattern, or undefined when the combination is one the API refuses. */
export function build(spec: PatternSpec): Pattern<Ev> | undefined {
  try {
    let p: Pattern<Ev> | undefined;
    spec.steps.forEach((s, i) => {
      const name = stepName(i);
      if (p === undefined) p = Pattern.begin<Ev>(name);
      else if (s.contiguity === 'strict') p = p.next(name);
      else if (s.contiguity === 'relaxed') p = p.followedBy(name);
      else p = p.followedByAny(name);
      p.where(toCondition(s.cond));
      if (s.quantifier === 'times') p.times(s.n);
      if (s.quantifier === 'range') p.times(s.n - 1, s.n + 1);
      if (s.quantifier === 'oneOrMore') p.oneOrMore();
      if (s.quantifier === 'timesOrMore') p.timesOrMore(s.n);
      if (s.optional && s.quantifier !== 'range') p.optional();
      if (s.quantifier !== 'one') {
        if (s.inner === 'consecutive') p.consecutive();
        if (s.inner === 'allowCombinations') p.allowCombinations();
        if (s.greedy) p.greedy();
      }
      if (s.until !== undefined && (s.quantifier === 'oneOrMore' || s.quantifier === 'timesOrMore')) {
        p.until(toCondition(s.until));
      }
      if (s.not !== undefined) {
        p = s.not.kind === 'notNext' ? p.notNext(`n${i}`) : p.notFollowedBy(`n${i}`);
        p.where(toCondition(s.not.cond));
      }
    });
    const pattern = p as Pattern<Ev>;
    if (spec.window !== undefined) pattern.within(spec.window);
    NFA.compile(pattern, { skip: skipOf(spec) });
    return pattern;
  } catch (error) {
    if (isCepheusError(error, 'CEP_MALFORMED_PATTERN')) return undefined;
    throw error;
  }
}

export const ids = (m: Match<Ev>): string =>
  Object.keys(m)
    .sort()
    .map((k) => `${k}:${m[k].map((e) => e.id).join(',')}`)
    .join(' ');
