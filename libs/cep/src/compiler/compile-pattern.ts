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
  notNext: Condition<E>[];
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
  if (skip.patternName !== undefined && !names.includes(skip.patternName)) {
    throw malformed(`The skip strategy ${skip.toString()} names no step of the pattern.`);
  }
  const window = pattern.getWindow();

  const steps: MutableStep<E>[] = [];
  const FINAL = -1;
  const finalSet: EdgeSet = { kind: 'own', edges: [{ to: FINAL, cont: 0, head: false }] };

  let tail: PatternElement<E> | undefined;
  let body = elements;
  const last = elements[elements.length - 1];
  if (last.kind === 'notNext' || last.kind === 'notFollowedBy') {
    tail = last;
    body = elements.slice(0, -1);
    if (last.kind === 'notFollowedBy' && window === undefined) {
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
      f = el.kind === 'group' ? buildGroup(el, f, cont, head) : buildStep(el, f, cont, head, not);
    }
    return f;
  };

  const buildStep = (
    el: PatternElement<E>,
    follow: EdgeSet,
    cont: Code,
    head: boolean,
    not: PatternElement<E> | undefined,
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
      notNext: not?.kind === 'notNext' ? [not.condition] : [],
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
  const closure = (edges: readonly CompiledEdge[]): { proceed: CompiledEdge[]; reachesFinal: boolean } => {
    const proceed: CompiledEdge[] = [];
    let reachesFinal = false;
    const visited = new Set<number>();
    const visit = (list: readonly CompiledEdge[], via: readonly number[]): void => {
      for (const e of list) {
        if (e.to === final) {
          if (via.length > 0)
            throw malformed('A greedy optional step cannot be the last mandatory-free part of a pattern.');
          reachesFinal = true;
          continue;
        }
        proceed.push({ to: e.to, cont: e.cont, via });
        const step = steps[e.to];
        if (step.skippable && !visited.has(e.to)) {
          visited.add(e.to);
          visit(succs[e.to], step.greedy ? [...via, e.to] : via);
        }
      }
    };
    visit(edges, []);
    return { proceed: dedupe(proceed), reachesFinal };
  };

  const compiled: CompiledStep<E>[] = steps.map((s, index) => {
    const { proceed, reachesFinal } = closure(succs[index]);
    if (s.greedy && reachesFinal) {
      throw malformed(`greedy() on ${s.name} needs a mandatory step after it (a match must know where the loop ends).`);
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
      notNext: Object.freeze(s.notNext),
      notFollowedBy: Object.freeze(s.notFollowedBy),
      proceed: Object.freeze(proceed),
      reachesFinal,
    });
  });
  const start = closure(dedupe(flatten(bodyEntry, new Set()).map((e) => toEdge(e, final))));
  if (start.reachesFinal) throw malformed('The pattern can match without any event; make one step mandatory.');

  return Object.freeze({
    steps: Object.freeze(compiled),
    final,
    entry: Object.freeze([...new Set(start.proceed.map((e) => e.to))]),
    window,
    tailNotNext: Object.freeze(tail?.kind === 'notNext' ? [tail.condition] : []),
    tailNotFollowedBy: Object.freeze(tail?.kind === 'notFollowedBy' ? [tail.condition] : []),
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

/** Checks what can only be seen on the whole sequence (Flink's `NFACompiler` does the same before building). */
function validateSequence<E>(
  elems: readonly PatternElement<E>[],
  top: boolean,
  names: string[],
  seen: Set<string>,
): void {
  if (elems.length === 0) throw malformed('A pattern needs at least one step.');
  let mandatory = false;
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
      if (!el.quantifier.optional) mandatory = true;
      if (el.kind === 'group') validateSequence(el.elements as readonly PatternElement<E>[], false, names, seen);
    }
  });
  if (!mandatory) throw malformed('A pattern or group needs at least one mandatory step.');
}
