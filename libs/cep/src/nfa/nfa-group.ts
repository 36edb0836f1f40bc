import { CepheusError } from '@cepheus/common';
import type { CompiledStep } from '../compiler/compiled-pattern';
import type { Condition, ConditionContext } from '../pattern/condition';
import type { Pattern } from '../pattern/pattern';
import { NFA } from './nfa';
import type { Match, NfaOptions, NfaResult, NfaStats, TimedOutMatch } from './nfa';
import * as nfaState from './nfa-state';
import type { NfaSnapshot, NfaState } from './nfa-state';

// Bound once, as in nfa.ts: tsx reads an imported binding through a getter at every use.
const { WAIT_IDLE } = nfaState;

/** A match of one pattern of a group: `pattern` is its index in the list the group was made from. */
export interface PatternMatch<E> {
  pattern: number;
  match: Match<E>;
}

/** A timed-out partial match of one pattern of a group (see `TimedOutMatch`). */
export interface PatternTimedOutMatch<E> extends TimedOutMatch<E> {
  pattern: number;
}

/** What `NfaGroup.process` and `NfaGroup.advanceTime` return: by pattern index, then in each NFA's own order. */
export interface NfaGroupResult<E> {
  matches: PatternMatch<E>[];
  timedOut: PatternTimedOutMatch<E>[];
}

/** Current format of `NfaGroupSnapshot`. */
export const NFA_GROUP_SNAPSHOT_VERSION = 1;

/**
 * Numbers per busy pattern in `NfaGroupState.busy`: the pattern index, and its state's `wait` and `oldest` (the
 * summary the NFA's fast paths read), so that a pattern the event leaves alone costs no read of its state object.
 */
const BUSY_WIDTH = 3;

/**
 * Per-key state of a group: one object for all the patterns, holding the partial matches of the sequences in two flat
 * lists, plus one `NfaState` per busy pattern of the others (one with partial or held matches). Idle patterns hold
 * nothing. Plain data mutated in place; treat it as opaque and checkpoint it with `NfaGroup.snapshot`.
 */
export interface NfaGroupState<E> {
  /** Sequence number the next event gets; every pattern's state numbers events with it. */
  seq: number;
  /** Partial matches dropped (`maxPartialMatches`) by sequences and by patterns' states since gone idle. */
  dropped: number;
  /**
   * Partial matches of the patterns the group runs itself (see `NfaGroup`), all patterns in one list, `PARTIAL_HEAD`
   * numbers plus one sequence number per event the longest of those patterns may hold.
   */
  partial: number[];
  /** Their events, as many a partial match as its sequence numbers (`null` past the events it took). */
  events: (E | null)[];
  /** Busy patterns by ascending index, `BUSY_WIDTH` numbers each. */
  busy: number[];
  /** The busy patterns' states, in the order of `busy`. */
  states: NfaState<E>[];
}

/** Checkpoint form of an `NfaGroupState`: versioned and JSON-safe when the events are. */
export interface NfaGroupSnapshot<E> {
  version: 1;
  seq: number;
  dropped: number;
  /**
   * Partial matches of the patterns the group runs itself, each as pattern, step, `f`, first timestamp and the
   * sequence numbers of the `step` events it took.
   */
  partial: number[];
  /** Their events, `step` a partial match, in the order of `partial`. */
  events: E[];
  /** Indices of the busy patterns, ascending. */
  patterns: number[];
  /** Their states, in the same order. */
  states: NfaSnapshot<E>[];
}

/**
 * Numbers before the sequence numbers of a partial match in `NfaGroupState.partial`: pattern, step it waits for
 * (also the count of events it took), `f` (1 right after a take: see `PM_WIDTH`), first event's timestamp.
 */
const PARTIAL_HEAD = 4;

// The lists of an idle group state: frozen, so that a write that forgot to give the state its own list throws.
const NO_NUMBERS: number[] = Object.freeze([]) as unknown as number[];
const NO_EVENTS: null[] = Object.freeze([]) as unknown as null[];
const NO_STATES: NfaState<never>[] = Object.freeze([]) as unknown as NfaState<never>[];
const NOTHING: NfaGroupResult<never> = Object.freeze({
  matches: Object.freeze([]) as unknown as PatternMatch<never>[],
  timedOut: Object.freeze([]) as unknown as PatternTimedOutMatch<never>[],
});
const NO_PATH_EVENTS: readonly never[] = Object.freeze([]);
const EMPTY_CONTEXT: ConditionContext<never> = Object.freeze({ getEventsForPattern: () => NO_PATH_EVENTS });

/** Idle states kept per pattern for reuse, so that a pattern going busy again on some key allocates nothing. */
const POOLED_STATES = 64;

/**
 * A pattern the group runs itself: a sequence of steps that each take exactly one event (no quantifier, optional,
 * until or NOT), with any contiguity between them, and no after-match skip. Its partial matches are a few numbers
 * and event references in the key's one list, rather than an `NfaState` with a shared buffer of its own.
 */
interface Sequence<E> {
  readonly conditions: readonly Condition<E>[];
  /** `contiguity[s]`: of the way into step `s` (0 strict, 1 relaxed, 2 any). */
  readonly contiguity: readonly number[];
  readonly names: readonly string[];
  readonly window: number;
  readonly cap: number;
  readonly reportTimeouts: boolean;
}

/** The pattern as a `Sequence`, or undefined when the group must run it with its NFA. */
function sequenceOf<E>(nfa: NFA<E>): Sequence<E> | undefined {
  const { steps, entry, skip, tailNotNext, tailNotFollowedBy, window } = nfa.compiled;
  const { cap, reportTimeouts, fastPath } = nfa.settings;
  if (!fastPath || skip.prunes || tailNotNext.length + tailNotFollowedBy.length !== 0) return undefined;
  if (entry.length !== 1) return undefined;
  // The compiler numbers steps from the end of the pattern; a sequence is the chain of single ways from the entry.
  const chain: CompiledStep<E>[] = [];
  const contiguity: number[] = [0];
  for (let k = entry[0]; ;) {
    const step = steps[k];
    const single = step.min === 1 && step.max === 1 && !step.skippable && step.until === undefined;
    if (!single || step.notNext.length + step.notFollowedBy.length !== 0 || chain.length === steps.length) {
      return undefined;
    }
    chain.push(step);
    if (step.reachesFinal) {
      if (step.proceed.length !== 0) return undefined;
      break;
    }
    if (step.proceed.length !== 1 || step.proceed[0].via.length !== 0) return undefined;
    contiguity.push(step.proceed[0].cont);
    k = step.proceed[0].to;
  }
  if (chain.length !== steps.length) return undefined;
  return {
    conditions: chain.map((step) => step.condition),
    contiguity,
    names: chain.map((step) => step.name),
    window: window ?? Infinity,
    cap,
    reportTimeouts,
  };
}

/** Reads the events a sequence's partial match took, for conditions that ask; pointed at the match evaluated. */
class SequenceContext<E> implements ConditionContext<E> {
  events: readonly (E | null)[] = NO_EVENTS;
  at = 0;
  count = 0;
  names: readonly string[] = [];

  getEventsForPattern(name: string): readonly E[] {
    const out: E[] = [];
    for (let k = 0; k < this.count; k++) if (this.names[k] === name) out.push(this.events[this.at + k] as E);
    return out;
  }
}

/** A match a sequence completed, with its events' sequence numbers for ordering as `NFA` orders them. */
interface Completed<E> {
  pattern: number;
  seqs: number[];
  match: Match<E>;
}

/**
 * Many patterns over one keyed stream, with one state object per key for all of them. It gives the same matches and
 * timeouts as running each pattern's `NFA` with a state of its own (each pattern's in the order its NFA gives them),
 * and costs much less with many patterns and many keys, because a key's partial matches are in a few flat lists.
 *
 * Patterns that are sequences of single-event steps (any contiguity, a window or none, no quantifier, optional,
 * until, NOT or after-match skip) the group runs itself: their partial matches are numbers and event references in
 * the key's one list, tagged with the pattern. Every other pattern runs on its own `NFA` with an `NfaState` per
 * busy key; the group keeps their `wait` summaries in one list so that an event that changes nothing for such a
 * pattern costs no read of its state.
 *
 * Same contract as `NFA`: events of one key in non-decreasing timestamp order; `process` is synchronous.
 */
export class NfaGroup<E> {
  private readonly sequences: readonly (Sequence<E> | undefined)[];
  /** Patterns the group runs itself, and the ones it runs with their NFA, by ascending index. */
  private readonly sequenceIndices: readonly number[];
  private readonly nfaIndices: readonly number[];
  /** Events a sequence's partial match may hold: one fewer than its steps, the last step completing it. */
  private readonly width: number;
  private readonly minCap: number;
  private readonly anyWindow: boolean;
  private readonly ctx = new SequenceContext<E>();
  private readonly pooled: NfaState<E>[][];
  // Scratch lists `process` writes the new busy list into; they change places with the state's lists when the busy
  // list changed, so that a busy key is not given new lists on every event.
  private busyOut: number[] = [];
  private statesOut: NfaState<E>[] = [];
  // Partial matches an event begets, appended to the key's list once every old one has seen the event.
  private readonly bornNumbers: number[] = [];
  private readonly bornEvents: (E | null)[] = [];
  private bornCount = 0;
  private completed: Completed<E>[] | undefined;
  private matches: PatternMatch<E>[] | undefined;
  private timedOut: PatternTimedOutMatch<E>[] | undefined;
  private unordered = false;
  private lastPattern = -1;

  private constructor(
    /** The patterns' NFAs, by index. */
    readonly nfas: readonly NFA<E>[],
  ) {
    this.pooled = nfas.map(() => []);
    this.sequences = nfas.map((nfa) => sequenceOf(nfa));
    this.sequenceIndices = nfas.flatMap((_, j) => (this.sequences[j] === undefined ? [] : [j]));
    this.nfaIndices = nfas.flatMap((_, j) => (this.sequences[j] === undefined ? [j] : []));
    let width = 1;
    let minCap = Infinity;
    let anyWindow = false;
    for (const sequence of this.sequences) {
      if (sequence === undefined) continue;
      width = Math.max(width, sequence.names.length - 1);
      minCap = Math.min(minCap, sequence.cap);
      anyWindow ||= sequence.window !== Infinity;
    }
    this.width = width;
    this.minCap = minCap;
    this.anyWindow = anyWindow;
  }

  /** Compiles every pattern with the same options (throws `CEP_MALFORMED_PATTERN` for the first malformed one). */
  static compile<E>(patterns: readonly Pattern<E>[], options: NfaOptions = {}): NfaGroup<E> {
    return new NfaGroup(patterns.map((pattern) => NFA.compile(pattern, options)));
  }

  /** A group of NFAs already compiled (with options of their own). An NFA may belong to several groups. */
  static of<E>(nfas: readonly NFA<E>[]): NfaGroup<E> {
    return new NfaGroup([...nfas]);
  }

  /** How many of the patterns the group runs itself rather than with their NFA (for tools and tests). */
  get sequenceCount(): number {
    return this.sequenceIndices.length;
  }

  /** A new, empty state for one key. */
  createState(): NfaGroupState<E> {
    return {
      seq: 0,
      dropped: 0,
      partial: NO_NUMBERS,
      events: NO_EVENTS,
      busy: NO_NUMBERS,
      states: NO_STATES as NfaState<E>[],
    };
  }

  /**
   * Feeds one event to every pattern; returns the matches it completes and the partial matches its timestamp times
   * out, tagged with their pattern. When there are none, the result is a shared frozen object: read it, do not
   * change it.
   */
  process(state: NfaGroupState<E>, event: E, timestamp: number): NfaGroupResult<E> {
    const seq = state.seq++;
    this.begin();
    this.runSequences(state, event, timestamp, seq);
    if (this.nfaIndices.length !== 0) this.runNfas(state, event, timestamp, seq);
    return this.result();
  }

  /**
   * Moves time forward without an event (e.g. on a watermark) for every pattern: see `NFA.advanceTime`.
   */
  advanceTime(state: NfaGroupState<E>, time: number): NfaGroupResult<E> {
    this.begin();
    if (state.partial.length !== 0) this.expireSequences(state, time);
    const busy = state.busy;
    if (busy.length !== 0) {
      const states = state.states;
      let w = 0;
      for (let r = 0; r < states.length; r++) {
        const j = busy[r * BUSY_WIDTH];
        const nfa = this.nfas[j];
        const patternState = states[r];
        patternState.seq = state.seq;
        this.collect(j, nfa.advanceTime(patternState, time));
        w = this.keepIfBusy(state, j, patternState, w);
      }
      this.adopt(state, w);
    }
    return this.result();
  }

  /**
   * True when no pattern holds anything for the key. An idle state need not be stored: `createState()` gives one
   * that behaves the same (only the `droppedPartialMatches` count is lost).
   */
  isIdle(state: NfaGroupState<E>): boolean {
    return state.partial.length === 0 && state.busy.length === 0;
  }

  /** Figures for metrics, summed over the patterns. */
  stats(state: NfaGroupState<E>): NfaStats {
    const stride = PARTIAL_HEAD + this.width;
    const partial = state.partial;
    const count = partial.length / stride;
    const eventsOf = new Map<number, Set<number>>();
    for (let r = 0; r < count; r++) {
      const at = r * stride;
      let seqs = eventsOf.get(partial[at]);
      if (seqs === undefined) eventsOf.set(partial[at], (seqs = new Set()));
      for (let k = 0; k < partial[at + 1]; k++) seqs.add(partial[at + PARTIAL_HEAD + k]);
    }
    let bufferedEvents = 0;
    for (const seqs of eventsOf.values()) bufferedEvents += seqs.size;
    const total: NfaStats = { partialMatches: count, bufferedEvents, droppedPartialMatches: state.dropped };
    for (let r = 0; r < state.states.length; r++) {
      const one = this.nfas[state.busy[r * BUSY_WIDTH]].stats(state.states[r]);
      total.partialMatches += one.partialMatches;
      total.bufferedEvents += one.bufferedEvents;
      total.droppedPartialMatches += one.droppedPartialMatches;
    }
    return total;
  }

  /** Compact, versioned, JSON-safe copy of a state for checkpoints. */
  snapshot(state: NfaGroupState<E>): NfaGroupSnapshot<E> {
    const stride = PARTIAL_HEAD + this.width;
    const partial: number[] = [];
    const events: E[] = [];
    for (let at = 0; at < state.partial.length; at += stride) {
      const taken = state.partial[at + 1];
      for (let k = 0; k < PARTIAL_HEAD + taken; k++) partial.push(state.partial[at + k]);
      const from = (at / stride) * this.width;
      for (let k = 0; k < taken; k++) events.push(state.events[from + k] as E);
    }
    const patterns: number[] = [];
    const states: NfaSnapshot<E>[] = [];
    for (let r = 0; r < state.states.length; r++) {
      const j = state.busy[r * BUSY_WIDTH];
      patterns.push(j);
      states.push(this.nfas[j].snapshot(state.states[r]));
    }
    return { version: 1, seq: state.seq, dropped: state.dropped, partial, events, patterns, states };
  }

  /**
   * Rebuilds a state from `snapshot`'s output; throws `CEP_STATE_VERSION` for an unknown format and
   * `STATE_RESTORE_FAILED` for a snapshot that does not fit this group's patterns.
   */
  restore(data: NfaGroupSnapshot<E>): NfaGroupState<E> {
    const version = (data as { version?: unknown } | null)?.version;
    if (version !== NFA_GROUP_SNAPSHOT_VERSION) {
      throw new CepheusError(
        'CEP_STATE_VERSION',
        `Unknown NFA group state version ${String(version)}; this build reads ${NFA_GROUP_SNAPSHOT_VERSION}.`,
        { details: { version } },
      );
    }
    const state = this.createState();
    state.seq = data.seq;
    state.dropped = data.dropped;
    this.restoreSequences(state, data);
    const { patterns, states } = data;
    if (patterns.length !== states.length) throw misfit('as many patterns as states', {});
    const busy: number[] = [];
    const restored: NfaState<E>[] = [];
    for (let k = 0; k < patterns.length; k++) {
      const j = patterns[k];
      const ascending = k === 0 || j > patterns[k - 1];
      if (!Number.isInteger(j) || j < 0 || j >= this.nfas.length || !ascending || this.sequences[j] !== undefined) {
        throw misfit(`pattern ${String(j)} run by its NFA`, { pattern: j });
      }
      const nfa = this.nfas[j];
      const patternState = nfa.restore(states[k]);
      if (nfa.isIdle(patternState)) {
        state.dropped += patternState.dropped;
        continue;
      }
      busy.push(j, patternState.wait, patternState.oldest);
      restored.push(patternState);
    }
    if (busy.length !== 0) {
      state.busy = busy;
      state.states = restored;
    }
    return state;
  }

  private restoreSequences(state: NfaGroupState<E>, data: NfaGroupSnapshot<E>): void {
    const { partial, events } = data;
    const width = this.width;
    const numbers: number[] = [];
    const refs: (E | null)[] = [];
    let at = 0;
    let e = 0;
    while (at < partial.length) {
      const j = partial[at];
      const taken = partial[at + 1];
      const f = partial[at + 2];
      const sequence = Number.isInteger(j) ? this.sequences[j] : undefined;
      const fits =
        sequence !== undefined &&
        Number.isInteger(taken) &&
        taken >= 1 &&
        taken < sequence.names.length &&
        (f === 1 || (f === 0 && sequence.contiguity[taken] !== 0)) &&
        at + PARTIAL_HEAD + taken <= partial.length &&
        e + taken <= events.length;
      if (!fits) throw misfit(`a partial match of pattern ${String(j)} that this group does not run so`, { at });
      for (let k = 0; k < PARTIAL_HEAD + taken; k++) numbers.push(partial[at + k]);
      for (let k = taken; k < width; k++) numbers.push(0);
      for (let k = 0; k < taken; k++) refs.push(events[e + k]);
      for (let k = taken; k < width; k++) refs.push(null);
      at += PARTIAL_HEAD + taken;
      e += taken;
    }
    if (numbers.length !== 0) {
      state.partial = numbers;
      state.events = refs;
    }
  }

  private begin(): void {
    this.matches = undefined;
    this.timedOut = undefined;
    this.completed = undefined;
    this.unordered = false;
    this.lastPattern = -1;
  }

  /**
   * Applies the event to the sequences' partial matches, as `NFA.process` would to each pattern's: windows close
   * first, then every partial match sees the event (in list order, which per pattern is the NFA's order), then
   * the event may start each sequence.
   */
  private runSequences(state: NfaGroupState<E>, event: E, timestamp: number, seq: number): void {
    const sequences = this.sequences;
    const width = this.width;
    const stride = PARTIAL_HEAD + width;
    const partial = state.partial;
    const refs = state.events;
    const count = partial.length / stride;
    const ctx = this.ctx;
    const bornNumbers = this.bornNumbers;
    const bornEvents = this.bornEvents;
    let born = 0;
    let w = 0;
    for (let r = 0; r < count; r++) {
      const at = r * stride;
      const j = partial[at];
      const sequence = sequences[j] as Sequence<E>;
      const t = partial[at + 3];
      if (timestamp - t >= sequence.window && sequence.window !== Infinity) {
        if (sequence.reportTimeouts) this.timeOut(j, sequence, partial, refs, r, t);
        continue;
      }
      const taken = partial[at + 1];
      const f = partial[at + 2];
      ctx.events = refs;
      ctx.at = r * width;
      ctx.count = taken;
      ctx.names = sequence.names;
      const takes = sequence.conditions[taken](event, ctx);
      if (takes) {
        if (taken + 1 === sequence.names.length) {
          this.complete(j, sequence, partial, refs, r, event, seq);
        } else {
          this.bear(born++, partial, refs, r, taken + 1, 1, event, seq);
        }
      }
      const contiguity = sequence.contiguity[taken];
      let keep: boolean;
      if (f === 1) {
        // Right after a take: the match leaves its step, and waits for the next one unless contiguity is strict.
        if (contiguity !== 0 && (contiguity === 2 || !takes)) this.bear(born++, partial, refs, r, taken, 0, event, seq);
        keep = false;
      } else {
        keep = contiguity === 2 || !takes;
      }
      if (keep) {
        if (w !== r) {
          const to = w * stride;
          for (let k = 0; k < stride; k++) partial[to + k] = partial[at + k];
          const from = r * width;
          const into = w * width;
          for (let k = 0; k < width; k++) refs[into + k] = refs[from + k];
        }
        w++;
      }
    }
    const sequenceIndices = this.sequenceIndices;
    for (let x = 0; x < sequenceIndices.length; x++) {
      const j = sequenceIndices[x];
      const sequence = sequences[j] as Sequence<E>;
      if (!sequence.conditions[0](event, EMPTY_CONTEXT)) continue;
      if (sequence.names.length === 1) {
        this.completeFirst(j, sequence, event, seq);
        continue;
      }
      const to = born * stride;
      bornNumbers[to] = j;
      bornNumbers[to + 1] = 1;
      bornNumbers[to + 2] = 1;
      bornNumbers[to + 3] = timestamp;
      bornNumbers[to + PARTIAL_HEAD] = seq;
      for (let k = 1; k < width; k++) bornNumbers[to + PARTIAL_HEAD + k] = 0;
      bornEvents[born * width] = event;
      for (let k = 1; k < width; k++) bornEvents[born * width + k] = null;
      born++;
    }
    if (this.completed !== undefined) this.emitCompleted();
    if (w === count && born === 0) return;
    this.bornCount = born;
    this.settle(state, w);
  }

  /** Windows closed by time alone: `advanceTime` for the sequences. */
  private expireSequences(state: NfaGroupState<E>, time: number): void {
    if (!this.anyWindow) return;
    const stride = PARTIAL_HEAD + this.width;
    const width = this.width;
    const partial = state.partial;
    const refs = state.events;
    const count = partial.length / stride;
    let w = 0;
    for (let r = 0; r < count; r++) {
      const at = r * stride;
      const j = partial[at];
      const sequence = this.sequences[j] as Sequence<E>;
      const t = partial[at + 3];
      if (time - t >= sequence.window && sequence.window !== Infinity) {
        if (sequence.reportTimeouts) this.timeOut(j, sequence, partial, refs, r, t);
        continue;
      }
      if (w !== r) {
        for (let k = 0; k < stride; k++) partial[w * stride + k] = partial[at + k];
        for (let k = 0; k < width; k++) refs[w * width + k] = refs[r * width + k];
      }
      w++;
    }
    if (w === count) return;
    this.bornCount = 0;
    this.settle(state, w);
  }

  /** Cuts the key's list to its `kept` survivors, appends this event's newcomers and applies the caps. */
  private settle(state: NfaGroupState<E>, kept: number): void {
    const width = this.width;
    const stride = PARTIAL_HEAD + width;
    const born = this.bornCount;
    const total = kept + born;
    if (total === 0) {
      state.partial = NO_NUMBERS;
      state.events = NO_EVENTS;
      return;
    }
    let partial = state.partial;
    let refs = state.events;
    if (partial === NO_NUMBERS) {
      // An exact-size list for a key's first partial matches, as NFA states get.
      state.partial = partial = this.bornNumbers.slice(0, born * stride);
      state.events = refs = this.bornEvents.slice(0, born * width);
    } else {
      truncate(partial, kept * stride);
      truncate(refs, kept * width);
      const bornNumbers = this.bornNumbers;
      const bornEvents = this.bornEvents;
      for (let k = 0; k < born * stride; k++) partial.push(bornNumbers[k]);
      for (let k = 0; k < born * width; k++) refs.push(bornEvents[k]);
    }
    if (total > this.minCap) this.dropOldest(state);
  }

  /** Copies partial match `r` into newcomer `b`, at step `taken`, with the event appended when `f` is 1. */
  private bear(
    b: number,
    partial: readonly number[],
    refs: readonly (E | null)[],
    r: number,
    taken: number,
    f: number,
    event: E,
    seq: number,
  ): void {
    const width = this.width;
    const stride = PARTIAL_HEAD + width;
    const bornNumbers = this.bornNumbers;
    const bornEvents = this.bornEvents;
    const from = r * stride;
    const to = b * stride;
    for (let k = 0; k < stride; k++) bornNumbers[to + k] = partial[from + k];
    bornNumbers[to + 1] = taken;
    bornNumbers[to + 2] = f;
    for (let k = 0; k < width; k++) bornEvents[b * width + k] = refs[r * width + k];
    if (f === 1) {
      bornNumbers[to + PARTIAL_HEAD + taken - 1] = seq;
      bornEvents[b * width + taken - 1] = event;
    }
  }

  private complete(
    pattern: number,
    sequence: Sequence<E>,
    partial: readonly number[],
    refs: readonly (E | null)[],
    r: number,
    event: E,
    seq: number,
  ): void {
    const taken = partial[r * (PARTIAL_HEAD + this.width) + 1];
    const match: Match<E> = {};
    const seqs: number[] = [];
    for (let k = 0; k < taken; k++) {
      match[sequence.names[k]] = [refs[r * this.width + k] as E];
      seqs.push(partial[r * (PARTIAL_HEAD + this.width) + PARTIAL_HEAD + k]);
    }
    match[sequence.names[taken]] = [event];
    seqs.push(seq);
    (this.completed ??= []).push({ pattern, seqs, match });
  }

  private completeFirst(pattern: number, sequence: Sequence<E>, event: E, seq: number): void {
    (this.completed ??= []).push({ pattern, seqs: [seq], match: { [sequence.names[0]]: [event] } });
  }

  /** This event's completed matches, per pattern in the order of their events (`NFA`'s order). */
  private emitCompleted(): void {
    const completed = this.completed as Completed<E>[];
    if (completed.length > 1) completed.sort((a, b) => a.pattern - b.pattern || compareSeqs(a.seqs, b.seqs));
    for (const c of completed) this.addMatch(c.pattern, c.match);
  }

  private timeOut(
    pattern: number,
    sequence: Sequence<E>,
    partial: readonly number[],
    refs: readonly (E | null)[],
    r: number,
    t: number,
  ): void {
    const taken = partial[r * (PARTIAL_HEAD + this.width) + 1];
    const match: Match<E> = {};
    for (let k = 0; k < taken; k++) match[sequence.names[k]] = [refs[r * this.width + k] as E];
    this.addTimedOut(pattern, match, t + sequence.window);
  }

  /** The cap policy of `NFA`, per pattern: drop the partial matches with the earliest first event, and count them. */
  private dropOldest(state: NfaGroupState<E>): void {
    const width = this.width;
    const stride = PARTIAL_HEAD + width;
    const partial = state.partial;
    const count = partial.length / stride;
    const byPattern = new Map<number, number[]>();
    for (let r = 0; r < count; r++) {
      let rows = byPattern.get(partial[r * stride]);
      if (rows === undefined) byPattern.set(partial[r * stride], (rows = []));
      rows.push(r);
    }
    const drop = new Set<number>();
    for (const [j, rows] of byPattern) {
      const excess = rows.length - (this.sequences[j] as Sequence<E>).cap;
      if (excess <= 0) continue;
      const first = (r: number): number => partial[r * stride + PARTIAL_HEAD];
      const order = [...rows].sort((a, b) => first(a) - first(b) || a - b);
      for (let k = 0; k < excess; k++) drop.add(order[k]);
      state.dropped += excess;
    }
    if (drop.size === 0) return;
    const refs = state.events;
    let w = 0;
    for (let r = 0; r < count; r++) {
      if (drop.has(r)) continue;
      if (w !== r) {
        for (let k = 0; k < stride; k++) partial[w * stride + k] = partial[r * stride + k];
        for (let k = 0; k < width; k++) refs[w * width + k] = refs[r * width + k];
      }
      w++;
    }
    truncate(partial, w * stride);
    truncate(refs, w * width);
    if (w === 0) {
      state.partial = NO_NUMBERS;
      state.events = NO_EVENTS;
    }
  }

  /** The patterns run by their NFA: the busy ones through their summaries, the idle ones by their entry steps. */
  private runNfas(state: NfaGroupState<E>, event: E, timestamp: number, seq: number): void {
    const nfas = this.nfas;
    const indices = this.nfaIndices;
    const busy = state.busy;
    const states = state.states;
    const busyCount = states.length;
    // Entries read from the state's busy list and written to the scratch one.
    let r = 0;
    let w = 0;
    let changed = false;
    for (let x = 0; x < indices.length; x++) {
      const j = indices[x];
      const nfa = nfas[j];
      let patternState: NfaState<E>;
      if (r < busyCount && busy[r * BUSY_WIDTH] === j) {
        const wait = busy[r * BUSY_WIDTH + 1];
        const oldest = busy[r * BUSY_WIDTH + 2];
        patternState = states[r];
        r++;
        if (nfa.leavesUnchanged(wait, oldest, event, timestamp)) {
          this.keepBusy(w++, j, wait, oldest, patternState);
          continue;
        }
      } else {
        if (nfa.leavesUnchanged(WAIT_IDLE, 0, event, timestamp)) continue;
        patternState = this.pooled[j].pop() ?? nfa.createState();
      }
      changed = true;
      patternState.seq = seq;
      this.collect(j, nfa.process(patternState, event, timestamp));
      w = this.keepIfBusy(state, j, patternState, w);
    }
    if (changed) this.adopt(state, w);
  }

  private collect(pattern: number, result: NfaResult<E>): void {
    const { matches, timedOut } = result;
    for (let k = 0; k < matches.length; k++) this.addMatch(pattern, matches[k]);
    for (let k = 0; k < timedOut.length; k++)
      this.addTimedOut(pattern, timedOut[k].match, timedOut[k].timeoutTimestamp);
  }

  private addMatch(pattern: number, match: Match<E>): void {
    this.note(pattern);
    (this.matches ??= []).push({ pattern, match });
  }

  private addTimedOut(pattern: number, match: Match<E>, timeoutTimestamp: number): void {
    this.note(pattern);
    (this.timedOut ??= []).push({ pattern, match, timeoutTimestamp });
  }

  /** Outputs arrive pattern by pattern in each source's order; a pattern lower than the last calls for a sort. */
  private note(pattern: number): void {
    if (pattern < this.lastPattern) this.unordered = true;
    this.lastPattern = pattern;
  }

  private result(): NfaGroupResult<E> {
    const matches = this.matches;
    const timedOut = this.timedOut;
    if (matches === undefined && timedOut === undefined) return NOTHING as NfaGroupResult<E>;
    this.matches = undefined;
    this.timedOut = undefined;
    // Stable sorts: each pattern's outputs keep their order.
    if (this.unordered) {
      matches?.sort((a, b) => a.pattern - b.pattern);
      timedOut?.sort((a, b) => a.pattern - b.pattern);
    }
    return {
      matches: matches ?? (NOTHING.matches as PatternMatch<E>[]),
      timedOut: timedOut ?? (NOTHING.timedOut as PatternTimedOutMatch<E>[]),
    };
  }

  /** A pattern's state went idle: keep its dropped count on the group state and the object for reuse. */
  private release(state: NfaGroupState<E>, pattern: number, patternState: NfaState<E>): void {
    state.dropped += patternState.dropped;
    patternState.dropped = 0;
    const pool = this.pooled[pattern];
    if (pool.length < POOLED_STATES) pool.push(patternState);
  }

  /** Writes entry `w` of the scratch busy list: pattern `j`, its state and that state's summary. */
  private keepBusy(w: number, j: number, wait: number, oldest: number, patternState: NfaState<E>): void {
    this.busyOut[w * BUSY_WIDTH] = j;
    this.busyOut[w * BUSY_WIDTH + 1] = wait;
    this.busyOut[w * BUSY_WIDTH + 2] = oldest;
    this.statesOut[w] = patternState;
  }

  /**
   * After pattern `j`'s NFA ran on its state: an idle state goes back to the pool, a busy one becomes entry `w` of the
   * scratch busy list. Returns the next entry's index.
   */
  private keepIfBusy(state: NfaGroupState<E>, j: number, patternState: NfaState<E>, w: number): number {
    if (this.nfas[j].isIdle(patternState)) {
      this.release(state, j, patternState);
      return w;
    }
    this.keepBusy(w, j, patternState.wait, patternState.oldest, patternState);
    return w + 1;
  }

  /** Gives the state the scratch lists holding its new busy list (`w` entries), and takes its old ones as scratch. */
  private adopt(state: NfaGroupState<E>, w: number): void {
    const out = this.busyOut;
    const outStates = this.statesOut;
    if (w === 0) {
      if (state.busy !== NO_NUMBERS) {
        state.busy = NO_NUMBERS;
        state.states = NO_STATES as NfaState<E>[];
      }
      return;
    }
    truncate(out, w * BUSY_WIDTH);
    while (outStates.length > w) outStates.pop();
    const oldBusy = state.busy;
    const oldStates = state.states;
    state.busy = out;
    state.states = outStates;
    this.busyOut = oldBusy === NO_NUMBERS ? [] : oldBusy;
    this.statesOut = oldStates === NO_STATES ? [] : oldStates;
  }
}

function misfit(what: string, details: Record<string, unknown>): CepheusError {
  return new CepheusError('STATE_RESTORE_FAILED', `NFA group snapshot does not fit the group: ${what}`, { details });
}

/** Shortens an array to `length` without a runtime call (`array.length = n` is one): a few pops are inlined. */
function truncate<T>(array: T[], length: number): void {
  while (array.length > length) array.pop();
}

function compareSeqs(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let j = 0; j < n; j++) if (a[j] !== b[j]) return a[j] - b[j];
  return a.length - b.length;
}
