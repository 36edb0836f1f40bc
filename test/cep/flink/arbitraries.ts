import fc from 'fast-check';
import type { Contiguity } from '@cepheus/cep';
import type {
  ConditionDescription,
  ElementDescription,
  FlinkCase,
  FlinkEvent,
  PatternDescription,
  QuantifierDescription,
} from './description';

// Generators of pattern descriptions and keyed streams for the differential test against Flink: every contiguity,
// quantifier and option, NOT steps, groups, skip strategies (with throwExceptionOnMiss), both within types, and
// iterative conditions. Small on purpose: short streams keep `allowCombinations` countable and Flink's jobs quick.

const TYPES = ['a', 'b', 'c'] as const;
const contiguity = fc.constantFrom<Contiguity>('strict', 'relaxed', 'relaxed', 'any');

/** A condition that reads the partial match of one of the steps named so far (or a simple one when none). */
const conditionArb = (earlier: readonly string[]): fc.Arbitrary<ConditionDescription> => {
  const simple: fc.Arbitrary<ConditionDescription>[] = [
    fc.constantFrom(...TYPES).map((t) => ({ kind: 'type' as const, types: [t] })),
    fc.constantFrom(...TYPES).map((t) => ({ kind: 'type' as const, types: [t] })),
    fc.uniqueArray(fc.constantFrom(...TYPES), { minLength: 2, maxLength: 2 }).map((types) => ({
      kind: 'type' as const,
      types,
    })),
    fc.integer({ min: 1, max: 2 }).map((min) => ({ kind: 'value' as const, min })),
  ];
  if (earlier.length === 0) return fc.oneof(...simple);
  const step = fc.constantFrom(...earlier);
  return fc.oneof(
    ...simple,
    fc.record({ kind: fc.constant('parity' as const), step }),
    fc.tuple(fc.constantFrom(...TYPES), step).map(([t, s]) => ({
      kind: 'and' as const,
      all: [
        { kind: 'type' as const, types: [t] },
        { kind: 'sum' as const, step: s },
      ],
    })),
  );
};

const quantifierArb: fc.Arbitrary<QuantifierDescription> = fc
  .record({
    kind: fc.constantFrom<QuantifierDescription['kind']>(
      'one',
      'one',
      'one',
      'times',
      'range',
      'oneOrMore',
      'timesOrMore',
    ),
    n: fc.integer({ min: 1, max: 3 }),
    from: fc.integer({ min: 0, max: 2 }),
    extra: fc.integer({ min: 1, max: 2 }),
    optional: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
    inner: fc.constantFrom<Contiguity>('relaxed', 'relaxed', 'strict', 'any'),
    greedy: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
  })
  .map((q) => {
    const out: QuantifierDescription = { kind: q.kind };
    if (q.kind === 'times' || q.kind === 'timesOrMore') out.n = q.kind === 'times' ? q.n : q.n - 1 || 1;
    if (q.kind === 'range') {
      out.from = q.from;
      out.to = q.from + q.extra;
    }
    if (q.optional) out.optional = true;
    if (q.kind !== 'one') {
      if (q.inner !== 'relaxed') out.inner = q.inner;
      if (q.greedy) out.greedy = true;
    }
    return out;
  });

/** Raw choices for one element; names and iterative conditions are settled once the sequence is known. */
interface RawElement {
  shape: 'step' | 'step' | 'notNext' | 'notFollowedBy' | 'group';
  contiguity: Contiguity;
  quantifier: QuantifierDescription;
  or: boolean;
  until: boolean;
  inner: number;
  innerQuantifier: QuantifierDescription;
  innerContiguity: Contiguity;
  seed: number;
}

const rawElement: fc.Arbitrary<RawElement> = fc.record({
  shape: fc.constantFrom<RawElement['shape']>(
    'step',
    'step',
    'step',
    'step',
    'step',
    'notNext',
    'notFollowedBy',
    'group',
  ),
  contiguity,
  quantifier: quantifierArb,
  or: fc.integer({ min: 0, max: 6 }).map((x) => x === 0),
  until: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
  inner: fc.integer({ min: 1, max: 2 }),
  innerQuantifier: quantifierArb,
  innerContiguity: contiguity,
  seed: fc.nat(),
});

/** Picks a condition for a step from a fixed seed (so that the whole description stays one generated value). */
function pick(seed: number, earlier: readonly string[]): ConditionDescription {
  return fc.sample(conditionArb(earlier), { seed, numRuns: 1 })[0];
}

function elementsOf(raw: readonly RawElement[]): ElementDescription[] {
  const out: ElementDescription[] = [];
  const names: string[] = [];
  let i = 0;
  for (const r of raw) {
    const name = `s${i++}`;
    if ((r.shape === 'notNext' || r.shape === 'notFollowedBy') && out.length > 0) {
      out.push({ kind: r.shape, name, where: pick(r.seed, names) });
      continue;
    }
    if (r.shape === 'group') {
      const elements: ElementDescription[] = [];
      for (let k = 0; k < r.inner; k++) {
        const inner = `g${i - 1}${String.fromCharCode(97 + k)}`;
        elements.push({
          kind: 'step',
          name: inner,
          contiguity: r.innerContiguity,
          where: pick(r.seed + k, names),
          quantifier: k === 0 ? { kind: 'one' } : r.innerQuantifier,
        });
        names.push(inner);
      }
      out.push({ kind: 'group', contiguity: r.contiguity, elements, quantifier: r.quantifier });
      continue;
    }
    const step: ElementDescription = {
      kind: 'step',
      name,
      contiguity: r.contiguity,
      where: pick(r.seed, names),
      quantifier: r.quantifier,
    };
    if (r.or) step.or = pick(r.seed + 7, names);
    if (r.until && (r.quantifier.kind === 'oneOrMore' || r.quantifier.kind === 'timesOrMore')) {
      step.until = pick(r.seed + 13, names);
    }
    out.push(step);
    names.push(name);
  }
  return out;
}

/** Step names that a skip strategy may name (NOT steps cannot be skip targets in Flink). */
function positiveNames(elements: readonly ElementDescription[]): string[] {
  return elements.flatMap((e) => (e.kind === 'step' ? [e.name] : e.kind === 'group' ? positiveNames(e.elements) : []));
}

export const patternDescriptionArb: fc.Arbitrary<PatternDescription> = fc
  .record({
    raw: fc.array(rawElement, { minLength: 1, maxLength: 3 }),
    within: fc.option(
      fc.record({
        ms: fc.integer({ min: 2, max: 6 }),
        type: fc.constantFrom<'FIRST_AND_LAST' | 'PREVIOUS_AND_CURRENT'>(
          'FIRST_AND_LAST',
          'FIRST_AND_LAST',
          'PREVIOUS_AND_CURRENT',
        ),
      }),
      { freq: 2 },
    ),
    skip: fc.constantFrom('noSkip', 'skipToNext', 'skipPastLastEvent', 'skipToFirst', 'skipToLast'),
    skipStep: fc.nat(),
    throwOnMiss: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
  })
  .map(({ raw, within, skip, skipStep, throwOnMiss }) => {
    const elements = elementsOf(raw);
    const names = positiveNames(elements);
    const d: PatternDescription = { elements, skip: { kind: skip as PatternDescription['skip']['kind'] }, within };
    if ((skip === 'skipToFirst' || skip === 'skipToLast') && names.length > 0) {
      d.skip.step = names[skipStep % names.length];
      if (throwOnMiss) d.skip.throwOnMiss = true;
    } else if (skip === 'skipToFirst' || skip === 'skipToLast') {
      d.skip = { kind: 'noSkip' };
    }
    return d;
  });

/** A keyed stream: one or two keys, strictly increasing timestamps, types a/b/c and some noise (x). */
export const keyedStreamArb: fc.Arbitrary<FlinkEvent[]> = fc
  .record({
    keys: fc.integer({ min: 1, max: 2 }),
    raw: fc.array(
      fc.record({
        t: fc.constantFrom('a', 'b', 'c', 'a', 'b', 'c', 'x'),
        v: fc.integer({ min: 0, max: 2 }),
        dt: fc.constantFrom(1, 1, 1, 2, 3),
        k: fc.nat(),
      }),
      { maxLength: 9 },
    ),
  })
  .map(({ keys, raw }) => {
    let ts = 0;
    return raw.map((r, id) => {
      ts += r.dt;
      return { id, key: `k${r.k % keys}`, ts, t: r.t, v: r.v };
    });
  });

/** `count` cases from `seed`, ids `<seed>-<n>`. */
export function sampleCases(seed: number, count: number): FlinkCase[] {
  return fc
    .sample(fc.record({ pattern: patternDescriptionArb, events: keyedStreamArb }), { seed, numRuns: count })
    .map((c, n) => ({ id: `${seed}-${n}`, ...c }));
}
