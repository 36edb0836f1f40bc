import { isCepheusError } from '@cepheus/common';
import {
  AfterMatchSkipStrategy,
  NFA,
  Pattern,
  type Condition,
  type Contiguity,
  type Match,
  type NfaResult,
  type NfaState,
} from '@cepheus/cep';

// A pattern described as data, built both into a libs/cep pattern (here) and into a Flink pattern (by
// infra/flink-cep/FlinkCepRunner.java, which reads the same JSON). Conditions are data too: each engine evaluates
// them with its own few lines, never code from the description.

/** One event of a keyed stream; `t` is its type, `v` a small value for value and iterative conditions. */
export interface FlinkEvent {
  id: number;
  key: string;
  ts: number;
  t: string;
  v: number;
}

/** A condition as data. `parity` and `sum` are iterative: they read the events the partial match took for `step`. */
export type ConditionDescription =
  | { kind: 'type'; types: string[] }
  | { kind: 'value'; min: number }
  /** `(v + number of events taken by step) % 2 == 0` */
  | { kind: 'parity'; step: string }
  /** `v >= sum of v over the events taken by step` */
  | { kind: 'sum'; step: string }
  | { kind: 'and'; all: ConditionDescription[] };

export interface QuantifierDescription {
  kind: 'one' | 'times' | 'range' | 'oneOrMore' | 'timesOrMore';
  n?: number;
  from?: number;
  to?: number;
  optional?: boolean;
  /** Contiguity between a quantified element's events: `consecutive()` (strict) or `allowCombinations()` (any). */
  inner?: Contiguity;
  greedy?: boolean;
}

export type ElementDescription =
  | {
      kind: 'step';
      name: string;
      /** Contiguity to the previous element (ignored for the first). */
      contiguity: Contiguity;
      where: ConditionDescription;
      or?: ConditionDescription;
      quantifier: QuantifierDescription;
      until?: ConditionDescription;
    }
  | { kind: 'notNext'; name: string; where: ConditionDescription }
  | { kind: 'notFollowedBy'; name: string; where: ConditionDescription }
  | { kind: 'group'; contiguity: Contiguity; elements: ElementDescription[]; quantifier: QuantifierDescription };

export type SkipKind = 'noSkip' | 'skipToNext' | 'skipPastLastEvent' | 'skipToFirst' | 'skipToLast';

export interface PatternDescription {
  elements: ElementDescription[];
  skip: { kind: SkipKind; step?: string; throwOnMiss?: boolean };
  within: { ms: number; type: 'FIRST_AND_LAST' | 'PREVIOUS_AND_CURRENT' } | null;
}

/** One differential case: a pattern and a keyed stream (timestamps non-decreasing over the whole stream). */
export interface FlinkCase {
  id: string;
  pattern: PatternDescription;
  events: FlinkEvent[];
}

/**
 * What an engine made of a case: refused the pattern, failed while running, or its outputs: `M <match>` per match
 * and `T@<timeout timestamp> <partial match>` per timed-out partial match, a match written `s0:1,2 s1:4` (steps by
 * name, event ids in match order).
 */
export type CaseOutcome = { refused: string } | { error: string } | { outputs: string[] };

export function toCondition(d: ConditionDescription): Condition<FlinkEvent> {
  switch (d.kind) {
    case 'type':
      return (e) => d.types.includes(e.t);
    case 'value':
      return (e) => e.v >= d.min;
    case 'parity':
      return (e, ctx) => (e.v + ctx.getEventsForPattern(d.step).length) % 2 === 0;
    case 'sum':
      return (e, ctx) => e.v >= ctx.getEventsForPattern(d.step).reduce((s, x) => s + x.v, 0);
    case 'and': {
      const parts = d.all.map(toCondition);
      return (e, ctx) => parts.every((p) => p(e, ctx));
    }
  }
}

export function toSkipStrategy(skip: PatternDescription['skip']): AfterMatchSkipStrategy {
  switch (skip.kind) {
    case 'noSkip':
      return AfterMatchSkipStrategy.noSkip();
    case 'skipToNext':
      return AfterMatchSkipStrategy.skipToNext();
    case 'skipPastLastEvent':
      return AfterMatchSkipStrategy.skipPastLastEvent();
    case 'skipToFirst':
    case 'skipToLast': {
      const s =
        skip.kind === 'skipToFirst'
          ? AfterMatchSkipStrategy.skipToFirst(skip.step ?? '')
          : AfterMatchSkipStrategy.skipToLast(skip.step ?? '');
      return skip.throwOnMiss === true ? s.throwExceptionOnMiss() : s;
    }
  }
}

function quantify(p: Pattern<FlinkEvent>, q: QuantifierDescription): Pattern<FlinkEvent> {
  if (q.kind === 'times') p.times(q.n ?? 1);
  if (q.kind === 'range') p.times(q.from ?? 0, q.to ?? 1);
  if (q.kind === 'oneOrMore') p.oneOrMore();
  if (q.kind === 'timesOrMore') p.timesOrMore(q.n ?? 1);
  if (q.optional === true) p.optional();
  if (q.inner === 'strict') p.consecutive();
  if (q.inner === 'any') p.allowCombinations();
  if (q.greedy === true) p.greedy();
  return p;
}

function sequence(elements: readonly ElementDescription[], skip?: AfterMatchSkipStrategy): Pattern<FlinkEvent> {
  let p: Pattern<FlinkEvent> | undefined;
  for (const el of elements) {
    if (el.kind === 'group') {
      const sub = sequence(el.elements);
      if (p === undefined) p = Pattern.begin<FlinkEvent>(sub, skip);
      else if (el.contiguity === 'strict') p = p.next(sub);
      else if (el.contiguity === 'relaxed') p = p.followedBy(sub);
      else p = p.followedByAny(sub);
      quantify(p, el.quantifier);
    } else if (el.kind === 'notNext' || el.kind === 'notFollowedBy') {
      if (p === undefined) p = Pattern.begin<FlinkEvent>(el.name, skip);
      p = el.kind === 'notNext' ? p.notNext(el.name) : p.notFollowedBy(el.name);
      p.where(toCondition(el.where));
    } else {
      if (p === undefined) p = Pattern.begin<FlinkEvent>(el.name, skip);
      else if (el.contiguity === 'strict') p = p.next(el.name);
      else if (el.contiguity === 'relaxed') p = p.followedBy(el.name);
      else p = p.followedByAny(el.name);
      p.where(toCondition(el.where));
      if (el.or !== undefined) p.or(toCondition(el.or));
      quantify(p, el.quantifier);
      if (el.until !== undefined) p.until(toCondition(el.until));
    }
  }
  if (p === undefined) throw new Error('a pattern description needs at least one element');
  return p;
}

/** Builds and compiles the libs/cep pattern; a `CEP_MALFORMED_PATTERN` refusal is returned as its message. */
export function toNfa(d: PatternDescription): NFA<FlinkEvent> | { refused: string } {
  try {
    const pattern = sequence(d.elements, toSkipStrategy(d.skip));
    if (d.within !== null) {
      pattern.within(d.within.ms, d.within.type === 'FIRST_AND_LAST' ? 'firstAndLast' : 'previousAndCurrent');
    }
    return NFA.compile(pattern);
  } catch (error) {
    if (isCepheusError(error, 'CEP_MALFORMED_PATTERN')) return { refused: error.message };
    throw error;
  }
}

/** A match as the runner writes it: steps by name, event ids in match order. */
export function showMatch(match: Record<string, readonly FlinkEvent[]>): string {
  return Object.keys(match)
    .filter((k) => match[k].length > 0)
    .sort()
    .map((k) => `${k}:${match[k].map((e) => e.id).join(',')}`)
    .join(' ');
}

// Numbers per partial match in `NfaState.pm` and per held match in `NfaState.held`, and where the sequence number of
// the first event sits in each (nfa/nfa-state.ts).
const PM_WIDTH = 8;
const PM_FIRST_SEQ = 6;
const HELD_WIDTH = 3;
const HELD_FIRST_SEQ = 1;

/** Whether the event just processed (sequence number `seq`) began a partial or complete match. */
function startedMatch(state: NfaState<FlinkEvent>, seq: number, matches: readonly Match<FlinkEvent>[], e: FlinkEvent) {
  for (let r = PM_FIRST_SEQ; r < state.pm.length; r += PM_WIDTH) if (state.pm[r] === seq) return true;
  for (let r = HELD_FIRST_SEQ; r < state.held.length; r += HELD_WIDTH) if (state.held[r] === seq) return true;
  return matches.some((m) => Math.min(...Object.values(m).flatMap((list) => list.map((x) => x.id))) === e.id);
}

/**
 * Runs a case through libs/cep as Flink 1.20's CepOperator drives its NFA in event time. Each key has event-time
 * timers: one at each of its events' timestamps, and one at `start + within` when an event begins a match (only for
 * a `firstAndLast` window). The watermark moves to every event's timestamp; each key with a timer due then processes
 * its events up to the watermark (`process` advances time to the event first) and advances its time to the
 * watermark. The final watermark (MAX) fires every remaining timer. A key without a due timer is not advanced: as in
 * Flink, a partial match of such a key times out only when the key is advanced again.
 */
export function runCepheus(c: FlinkCase): CaseOutcome {
  const nfa = toNfa(c.pattern);
  if (!(nfa instanceof NFA)) return nfa;
  const window = nfa.compiled.window ?? 0;
  const states = new Map<string, NfaState<FlinkEvent>>();
  const timers = new Map<string, number[]>();
  const outputs: string[] = [];
  const collect = (r: NfaResult<FlinkEvent>): void => {
    for (const m of r.matches) outputs.push(`M ${showMatch(m)}`);
    for (const t of r.timedOut) outputs.push(`T@${t.timeoutTimestamp} ${showMatch(t.match)}`);
  };
  const stateOf = (key: string): NfaState<FlinkEvent> => {
    let state = states.get(key);
    if (state === undefined) states.set(key, (state = nfa.createState()));
    return state;
  };
  const addTimer = (key: string, at: number): void => {
    const list = timers.get(key) ?? [];
    if (!list.includes(at)) list.push(at);
    timers.set(key, list);
  };
  /** Removes the key's timers up to `watermark`; true when there was one. */
  const fires = (key: string, watermark: number): boolean => {
    const list = timers.get(key) ?? [];
    const left = list.filter((t) => t > watermark);
    timers.set(key, left);
    return left.length !== list.length;
  };
  try {
    for (const e of c.events) {
      addTimer(e.key, e.ts);
      for (const key of [...timers.keys()]) {
        if (!fires(key, e.ts)) continue;
        const state = stateOf(key);
        if (key === e.key) {
          const seq = state.seq;
          const r = nfa.process(state, e, e.ts);
          collect(r);
          if (window > 0 && startedMatch(state, seq, r.matches, e)) addTimer(key, e.ts + window);
        }
        collect(nfa.advanceTime(state, e.ts));
      }
    }
    for (const key of [...timers.keys()]) {
      if (fires(key, Number.MAX_SAFE_INTEGER)) collect(nfa.advanceTime(stateOf(key), Number.MAX_SAFE_INTEGER));
    }
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
  return { outputs };
}
