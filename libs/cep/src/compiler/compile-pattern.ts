import { CepheusError } from '@cepheus/common';
import { AfterMatchSkipStrategy } from '../after-match/after-match-skip-strategy';
import { CONTIGUITY_CODE, type Condition } from '../pattern/condition';
import type { Pattern, PatternElement } from '../pattern/pattern';
import type { CompiledEdge, CompiledPattern, CompiledStep } from './compiled-pattern';

type Code = 0 | 1 | 2;

/** An edge while building; `head` marks edges into the first element of a group copy, whose contiguity is relabelled. */
interface RawEdge {
  to: number;
  cont: Code;
  head: boolean;
}

/**
 * A lazily resolved set of edges. Loops (unbounded groups) make the successor sets cyclic, so sets reference each
 * other and are flattened only once everything is built.
 */
type EdgeSet =
  | { readonly kind: 'own'; readonly edges: RawEdge[] }
  | { readonly kind: 'union'; readonly parts: EdgeSet[] }
  | { readonly kind: 'relabel'; readonly base: EdgeSet; readonly cont: Code; readonly head: boolean };

interface MutableStep<E> {
  name: string;
  condition: Condition<E>;
  until: Condition<E> | undefined;
  min: number;
  max: number;
  skippable: boolean;
  inner: Code;
  greedy: boolean;
  gap: number;
  notNext: Condition<E>[];
  /** The notNext right after this step when it is not the pattern's last element. */
  middleNotNext: Condition<E>[];
  /** Steps or groups come after it in its sequence (an end reached directly passed over an optional group). */
  followed: boolean;
  notFollowedBy: Condition<E>[];
  succ: EdgeSet;
}

function malformed(message: string): CepheusError {
  return new CepheusError('CEP_MALFORMED_PATTERN', message);
}

/** Compile options the NFA forwards. */
export interface CompilePatternOptions {
  /** Overrides the strategy given to `Pattern.begin`. */
  skip?: AfterMatchSkipStrategy;
}

/**
 * Validates a pattern and turns it into the step graph the NFA runs. As in Flink's `NFACompiler`, validation comes
 * first (unique names, skip target, NOT placement), then the graph is built walking back from the final state, so
 * that every step already knows where it may proceed to.
 *
 * Where Flink builds separate states for each count of a `times` step, a step here carries `min`/`max` and the
 * partial match carries the count; groups are unrolled into one copy per iteration (the last copy of an unbounded
 * group loops back onto itself).
 */
export function compilePattern<E>(pattern: Pattern<E>, options: CompilePatternOptions = {}): CompiledPattern<E> {
  const elements = pattern.toElements();
  const names: string[] = [];
  const seen = new Set<string>();
  validateSequence(elements, true, names, seen);
  const skip = options.skip ?? pattern.getSkipStrategy() ?? AfterMatchSkipStrategy.noSkip();
  // As Flink's NFACompiler, the target must be a step of the sequence itself, not one inside a group.
  const topNames = elements.filter((e) => e.kind === 'step').map((e) => e.name as string);
  if (skip.patternName !== undefined && !topNames.includes(skip.patternName)) {
    const where = names.includes(skip.patternName) ? ' outside a group' : '';
    throw malformed(`The skip strategy ${skip.toString()} names no step of the pattern${where}.`);
  }
  const window = pattern.getWindow();
  const hasGap = (els: readonly PatternElement<E>[]): boolean =>
    els.some((el) => el.gap !== undefined || (el.elements !== undefined && hasGap(el.elements)));
  if (hasGap(elements) && elements.some((el) => el.kind === 'group')) {
    // Where a partial match waits around a group's states in Flink, and so which gap limit applies, is not what
    // this compiler's unrolled groups give; refused rather than answered differently.
    throw malformed(`within(ms, 'previousAndCurrent') is not supported in a pattern with a group.`);
  }
  if (window !== undefined) {
    const gaps = elements.flatMap(function gapsOf(el): number[] {
      return [...(el.gap === undefined ? [] : [el.gap]), ...(el.elements ?? []).flatMap(gapsOf)];
    });
    if (gaps.some((g) => g > window)) {
      throw malformed(
        `A previousAndCurrent window cannot be larger than the firstAndLast window (${window} ms), as in Flink.`,
      );
    }
  }

  const steps: MutableStep<E>[] = [];
  const FINAL = -1;
  const finalSet: EdgeSet = { kind: 'own', edges: [{ to: FINAL, cont: 0, head: false }] };

  let tail: PatternElement<E> | undefined;
  let body = elements;
  const last = elements[elements.length - 1];
  if (last.kind === 'notNext' || last.kind === 'notFollowedBy') {
    tail = last;
    body = elements.slice(0, -1);
    if (last.kind === 'notFollowedBy' && window === undefined && last.gap === undefined) {
      throw malformed(`A pattern cannot end with notFollowedBy (${last.name}) unless it has within().`);
    }
  }

  const buildSeq = (elems: readonly PatternElement<E>[], follow: EdgeSet): EdgeSet => {
    let f = follow;
    for (let i = elems.length - 1; i >= 0; i--) {
      const el = elems[i];
      if (el.kind === 'notNext' || el.kind === 'notFollowedBy') continue;
      const cont: Code = i === 0 ? 0 : CONTIGUITY_CODE[el.contiguity];
      const head = i === 0;
      const after = elems[i + 1];
      const not =
        after !== undefined && (after.kind === 'notNext' || after.kind === 'notFollowedBy') ? after : undefined;
      const followed = elems.slice(i + 1).some((x) => x.kind === 'step' || x.kind === 'group');
      f = el.kind === 'group' ? buildGroup(el, f, cont, head) : buildStep(el, f, cont, head, not, followed);
    }
    return f;
  };

  const buildStep = (
    el: PatternElement<E>,
    follow: EdgeSet,
    cont: Code,
    head: boolean,
    not: PatternElement<E> | undefined,
    followed: boolean,
  ): EdgeSet => {
    const q = el.quantifier;
    const index = steps.length;
    steps.push({
      name: el.name as string,
      condition: el.condition,
      until: el.until,
      min: q.min,
      max: q.max,
      skippable: q.optional,
      inner: CONTIGUITY_CODE[q.inner],
      greedy: q.greedy,
      gap: el.gap ?? Infinity,
      notNext: not?.kind === 'notNext' ? [not.condition] : [],
      middleNotNext: not?.kind === 'notNext' ? [not.condition] : [],
      followed,
      notFollowedBy: not?.kind === 'notFollowedBy' ? [not.condition] : [],
      succ: follow,
    });
    // An optional step is passed over by the closure below (it follows `succ`), not by an extra edge here:
    // both would give the same path twice.
    return { kind: 'own', edges: [{ to: index, cont, head }] };
  };

  const buildGroup = (el: PatternElement<E>, follow: EdgeSet, cont: Code, head: boolean): EdgeSet => {
    const q = el.quantifier;
    const sub = el.elements as readonly PatternElement<E>[];
    const inner = CONTIGUITY_CODE[q.inner];
    const entryOf = (raw: EdgeSet, k: number): EdgeSet =>
      ({ kind: 'relabel', base: raw, cont: k === 1 ? cont : inner, head: k === 1 ? head : false }) as const;
    let cur: EdgeSet;
    let k: number;
    if (q.max === Infinity) {
      // The last mandatory copy loops back onto itself, like Flink's looping state, but for a whole sequence.
      const loopFollow: EdgeSet = { kind: 'union', parts: [follow] };
      const raw = buildSeq(sub, loopFollow);
      loopFollow.parts.push({ kind: 'relabel', base: raw, cont: inner, head: false });
      cur = entryOf(raw, q.min);
      k = q.min - 1;
    } else {
      cur = follow;
      k = q.max;
    }
    for (; k >= 1; k--) {
      const entry = entryOf(buildSeq(sub, cur), k);
      cur = k > q.min ? { kind: 'union', parts: [entry, follow] } : entry;
    }
    return q.optional ? { kind: 'union', parts: [cur, follow] } : cur;
  };

  const bodyEntry = buildSeq(body, finalSet);

  if (tail !== undefined) {
    const prev = body[body.length - 1];
    const lastStep = steps.find((s) => s.succ === finalSet && s.name === prev.name);
    if (lastStep === undefined) throw malformed('A NOT step at the end must follow a plain step.');
    if (tail.kind === 'notNext') lastStep.notNext.push(tail.condition);
    else lastStep.notFollowedBy.push(tail.condition);
  }

  const flatten = (set: EdgeSet, stack: Set<EdgeSet>): RawEdge[] => {
    if (stack.has(set)) return [];
    stack.add(set);
    let out: RawEdge[];
    if (set.kind === 'own') out = set.edges;
    else if (set.kind === 'union') out = set.parts.flatMap((p) => flatten(p, stack));
    else {
      out = flatten(set.base, stack).map((e) => (e.head ? { to: e.to, cont: set.cont, head: set.head } : e));
    }
    stack.delete(set);
    return out;
  };

  const final = steps.length;
  const succs = steps.map((s) => dedupe(flatten(s.succ, new Set()).map((e) => toEdge(e, final))));
  // Greedy, as Flink's NFACompiler#updateWithGreedyCondition: every way out of the state right after a greedy loop
  // (or a greedy times(from, to) with from < to) also requires that the loop's condition rejects the event.
  // With `until`, an event that satisfies it leads into an unguarded copy of that state instead.
  const guardOf = steps.map((s): Condition<E> => {
    const { condition, until } = s;
    return until === undefined ? condition : (e, ctx) => condition(e, ctx) && !until(e, ctx);
  });
  const greedyAt = (k: number): boolean => steps[k].greedy && steps[k].min !== steps[k].max;
  const guards: Condition<E>[][] = steps.map(() => []);
  steps.forEach((step, index) => {
    // A notNext right after the greedy step is Flink's state after it: the guard is on its edges (see ownGuard).
    if (!greedyAt(index) || step.middleNotNext.length !== 0) return;
    for (const e of succs[index]) if (e.to !== final) guards[e.to].push(guardOf[index]);
  });
  const closure = (
    edges: readonly CompiledEdge[],
  ): { proceed: CompiledEdge[]; reachesFinal: boolean; finalVias: number[][] } => {
    const proceed: CompiledEdge[] = [];
    let reachesFinal = false;
    const finalVias: number[][] = [];
    const visited = new Set<number>();
    const visit = (list: readonly CompiledEdge[], via: readonly number[]): void => {
      for (const e of list) {
        if (e.to === final) {
          reachesFinal = true;
          if (!finalVias.some((v) => v.join(',') === via.join(','))) finalVias.push([...via]);
          continue;
        }
        proceed.push({ to: e.to, cont: e.cont, via });
        const step = steps[e.to];
        if (step.skippable && !visited.has(e.to)) {
          visited.add(e.to);
          visit(succs[e.to], guards[e.to].length > 0 ? [...via, e.to] : via);
        }
      }
    };
    visit(edges, []);
    return { proceed: dedupe(proceed), reachesFinal, finalVias };
  };

  const compiled: CompiledStep<E>[] = steps.map((s, index) => {
    const { proceed, reachesFinal, finalVias } = closure(succs[index]);
    // A notNext after the step is a state of its own in Flink, without the gap limit of the step after it.
    // Only when every way on leads into a gap-limited step (a repeated group's next iteration has no limit).
    let gapAfter = Infinity;
    if (s.notNext.length === 0 && succs[index].every((e) => e.to !== final && steps[e.to].gap !== Infinity)) {
      for (const e of succs[index]) gapAfter = Math.min(gapAfter, steps[e.to].gap);
    }
    return Object.freeze({
      index,
      name: s.name,
      condition: s.condition,
      until: s.until,
      min: s.min,
      max: s.max,
      skippable: s.skippable,
      inner: s.inner,
      greedy: s.greedy,
      guards: Object.freeze(guards[index]),
      ownGuard: greedyAt(index) ? guardOf[index] : undefined,
      finalGuard: greedyAt(index) && s.followed && s.middleNotNext.length === 0 ? guardOf[index] : undefined,
      gap: s.gap,
      gapAfter,
      notNext: Object.freeze(s.notNext),
      notFollowedBy: Object.freeze(s.notFollowedBy),
      proceed: Object.freeze(proceed),
      reachesFinal,
      finalVias: Object.freeze(finalVias.map((v) => Object.freeze(v))),
      completionNotNext: Object.freeze(reachesFinal ? s.middleNotNext : []),
    });
  });
  const start = closure(dedupe(flatten(bodyEntry, new Set()).map((e) => toEdge(e, final))));

  return Object.freeze({
    steps: Object.freeze(compiled),
    final,
    entry: Object.freeze([...new Set(start.proceed.map((e) => e.to))]),
    window,
    tailNotNext: Object.freeze(tail?.kind === 'notNext' ? [tail.condition] : []),
    tailNotFollowedBy: Object.freeze(tail?.kind === 'notFollowedBy' ? [tail.condition] : []),
    tailGap: tail?.gap ?? Infinity,
    tailGuards: Object.freeze(
      tail === undefined ? [] : guardOf.filter((_, k) => greedyAt(k) && succs[k].some((e) => e.to === final)),
    ),
    skip,
    names: Object.freeze(names),
  });
}

function toEdge(e: RawEdge, final: number): CompiledEdge {
  return { to: e.to === -1 ? final : e.to, cont: e.cont, via: [] };
}

function dedupe(edges: readonly CompiledEdge[]): CompiledEdge[] {
  const seen = new Set<string>();
  const out: CompiledEdge[] = [];
  for (const e of edges) {
    const key = `${e.to}:${e.cont}:${e.via.join(',')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(Object.freeze({ to: e.to, cont: e.cont, via: Object.freeze([...e.via]) }));
  }
  return out;
}

/**
 * Checks what can only be seen on the whole sequence (Flink's `NFACompiler` does the same before building). A
 * sequence of optional steps only is accepted, as Flink accepts it: a match still needs one event.
 */
function validateSequence<E>(
  elems: readonly PatternElement<E>[],
  top: boolean,
  names: string[],
  seen: Set<string>,
): void {
  if (elems.length === 0) throw malformed('A pattern needs at least one step.');
  elems.forEach((el, i) => {
    const isNot = el.kind === 'notNext' || el.kind === 'notFollowedBy';
    if (el.kind !== 'group') {
      const name = el.name as string;
      if (seen.has(name)) throw malformed(`Duplicate step name '${name}': names must be unique in a pattern.`);
      seen.add(name);
      if (!isNot) names.push(name);
    }
    if (isNot) {
      if (i === 0) throw malformed(`A pattern cannot begin with the NOT step ${el.name}.`);
      const prev = elems[i - 1];
      if (prev.kind === 'group') throw malformed(`A NOT step (${el.name}) cannot follow a group; put it inside.`);
      if (prev.kind === 'notNext' || prev.kind === 'notFollowedBy') {
        throw malformed(`Two NOT steps in a row (${prev.name}, ${el.name}) are not supported.`);
      }
      if (prev.quantifier.optional) throw malformed(`A NOT step (${el.name}) cannot follow an optional step.`);
      if (!top && i === elems.length - 1) throw malformed(`A group cannot end with the NOT step ${el.name}.`);
    } else {
      if (el.gap !== undefined) {
        const q = el.quantifier;
        if (el.kind === 'group' || q.looping || q.times) {
          throw malformed(
            `within(ms, 'previousAndCurrent') needs a step that takes a single event (${el.name ?? 'a group'}); ` +
              'Flink 1.20 accepts it there and ignores it.',
          );
        }
      }
      if (el.kind === 'group') validateSequence(el.elements as readonly PatternElement<E>[], false, names, seen);
    }
  });
}
