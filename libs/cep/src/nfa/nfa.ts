import type { AfterMatchSkipStrategy } from '../after-match/after-match-skip-strategy';
import { compilePattern } from '../compiler/compile-pattern';
import type { CompiledPattern, CompiledStep } from '../compiler/compiled-pattern';
import type { Condition, ConditionContext } from '../pattern/condition';
import type { Pattern } from '../pattern/pattern';
import {
  addEvent,
  addNode,
  nodeRefs,
  pathSeqs,
  pathSteps,
  releaseNode,
  retainNode,
  type SharedBufferData,
} from '../shared-buffer/shared-buffer';
import {
  createNfaState,
  restoreNfaState,
  snapshotNfaState,
  type HeldMatch,
  type NfaSnapshot,
  type NfaState,
  type PartialMatch,
} from './nfa-state';

/** A complete match: step name to the events it took, in order (steps that took nothing are absent). */
export type Match<E> = Record<string, E[]>;

/** A partial match discarded because its window closed, with what it had matched so far. */
export interface TimedOutMatch<E> {
  match: Match<E>;
  /** First event's timestamp plus the window. */
  timeoutTimestamp: number;
}

/** What `process` and `advanceTime` return. */
export interface NfaResult<E> {
  matches: Match<E>[];
  /** Side output: partial matches whose window closed (one per distinct event sequence). */
  timedOut: TimedOutMatch<E>[];
}

/** Figures for metrics. */
export interface NfaStats {
  /** Running partial matches plus completed matches held back for the skip strategy. */
  partialMatches: number;
  /** Events stored in the shared buffer. */
  bufferedEvents: number;
  /** Partial matches dropped so far because of `maxPartialMatches`. */
  droppedPartialMatches: number;
}

/** Options of `NFA.compile`. */
export interface NfaOptions {
  /** After-match skip strategy. @defaultValue the one given to `Pattern.begin`, else `noSkip()` */
  skip?: AfterMatchSkipStrategy;
  /**
   * Cap on running partial matches per key. When an event leaves more, the oldest (earliest first event) are
   * dropped and counted in `stats().droppedPartialMatches`; they produce no timeout either.
   * @defaultValue 10000
   */
  maxPartialMatches?: number;
}

const NO_MATCHES: Match<never>[] = Object.freeze([]) as unknown as Match<never>[];
const NO_TIMEOUTS: TimedOutMatch<never>[] = Object.freeze([]) as unknown as TimedOutMatch<never>[];
// Most events complete nothing: answering with one shared, frozen result keeps the hot path allocation-free.
const NO_EVENTS: readonly never[] = Object.freeze([]);
const EMPTY_CONTEXT: ConditionContext<never> = Object.freeze({ getEventsForPattern: () => NO_EVENTS });
const NOTHING: NfaResult<never> = Object.freeze({ matches: NO_MATCHES, timedOut: NO_TIMEOUTS });

/**
 * Reads the events already matched on a path; one instance per NFA, pointed at the path being evaluated, so that
 * evaluating a condition allocates nothing unless the condition asks.
 */
class PathContext<E> implements ConditionContext<E> {
  buf: SharedBufferData<E> | undefined;
  node = -1;

  constructor(private readonly steps: readonly CompiledStep<E>[]) {}

  getEventsForPattern(name: string): readonly E[] {
    const out: E[] = [];
    const buf = this.buf;
    if (buf === undefined) return out;
    for (let n = this.node; n >= 0; n = buf.nd[n * 4 + 2]) {
      if (this.steps[buf.nd[n * 4 + 1]].name === name) out.push(buf.ev[buf.nd[n * 4]] as E);
    }
    return out.reverse();
  }
}

/**
 * The compiled matcher: immutable, one per pattern, shared by every key; per-key state is data handed in (as in
 * Flink's `nfa/NFA.java`, which holds only states and window and works on an `NFAState` it is given).
 *
 * Contract: events of one key arrive in non-decreasing timestamp order (the runtime sorts by event time up to the
 * watermark). `process` first advances time to the event's timestamp, so a window closes at
 * `firstTimestamp + within` exactly: an event at that instant is already too late.
 */
export class NFA<E> {
  private readonly steps: readonly CompiledStep<E>[];
  private readonly final: number;
  private readonly window: number;
  private readonly hasTail: boolean;
  private readonly tailWaitsForWindow: boolean;
  private readonly skip: AfterMatchSkipStrategy;
  private readonly prunes: boolean;
  private readonly cap: number;
  private readonly ctx: PathContext<E>;
  // Scratch space reused across calls (process is synchronous and not re-entrant).
  private readonly born: PartialMatch[] = [];
  private readonly doneNode: number[] = [];
  private readonly doneStart: number[] = [];
  private buf: SharedBufferData<E> | undefined;
  private event: E | undefined;
  private ts = 0;
  private seq = 0;
  private slot = -1;

  private constructor(
    /** The compiled pattern, for tools and tests. */
    readonly compiled: CompiledPattern<E>,
    options: NfaOptions,
  ) {
    this.steps = compiled.steps;
    this.final = compiled.final;
    this.window = compiled.window ?? Infinity;
    this.hasTail = compiled.tailNotNext.length + compiled.tailNotFollowedBy.length > 0;
    this.tailWaitsForWindow = compiled.tailNotFollowedBy.length > 0;
    this.skip = compiled.skip;
    this.prunes = compiled.skip.prunes;
    this.cap = options.maxPartialMatches ?? 10_000;
    this.ctx = new PathContext(compiled.steps);
  }

  /** Validates and compiles a pattern (throws `CEP_MALFORMED_PATTERN`). Compile once, then use for every key. */
  static compile<E>(pattern: Pattern<E>, options: NfaOptions = {}): NFA<E> {
    if (options.maxPartialMatches !== undefined && !(options.maxPartialMatches >= 1)) {
      throw new RangeError('maxPartialMatches must be at least 1');
    }
    return new NFA(compilePattern(pattern, { skip: options.skip }), options);
  }

  /** A new, empty state for one key. */
  createState(): NfaState<E> {
    return createNfaState<E>();
  }

  /**
   * Feeds one event; returns the matches it completes and the partial matches its timestamp times out. When there
   * are none, the result is a shared frozen object: read it, do not change it.
   */
  process(state: NfaState<E>, event: E, timestamp: number): NfaResult<E> {
    if (state.pm.length === 0 && state.held.length === 0 && !this.starts(event)) {
      // Fast path for the common case of a key with nothing running and an event that starts nothing.
      state.seq++;
      return NOTHING as NfaResult<E>;
    }
    const doneNode = this.doneNode;
    const doneStart = this.doneStart;
    if (doneNode.length !== 0) doneNode.length = 0;
    if (doneStart.length !== 0) doneStart.length = 0;
    const timedOut = this.expire(state, timestamp);
    const buf = state.buf;
    this.buf = buf;
    this.ctx.buf = buf;
    this.event = event;
    this.ts = timestamp;
    this.seq = state.seq++;
    this.slot = -1;
    const born = this.born;
    if (born.length !== 0) born.length = 0;
    const pms = state.pm;
    let w = 0;
    for (let r = 0; r < pms.length; r++) {
      const pm = pms[r];
      if (this.advance(pm, event)) pms[w++] = pm;
      else releaseNode(buf, pm.n);
    }
    if (pms.length !== w) pms.length = w;
    const entry = this.compiled.entry;
    for (let j = 0; j < entry.length; j++) {
      const step = this.steps[entry[j]];
      if (step.condition(event, EMPTY_CONTEXT)) this.take(-1, step, 0, timestamp, this.seq);
    }
    for (let j = 0; j < born.length; j++) pms.push(born[j]);
    if (born.length !== 0) born.length = 0;
    if (pms.length > this.cap) this.dropOldest(state);
    const completedSeq = this.seq;
    this.event = undefined;
    const matches = this.emit(state, completedSeq);
    if (matches.length === 0 && timedOut.length === 0) return NOTHING as NfaResult<E>;
    return { matches, timedOut };
  }

  /**
   * Moves time forward without an event (e.g. on a watermark): closes windows, returns the timed-out partial matches
   * and the matches that completed by waiting (a NOT at the end, or matches held back for the skip strategy).
   */
  advanceTime(state: NfaState<E>, time: number): NfaResult<E> {
    if (this.doneNode.length !== 0) this.doneNode.length = 0;
    if (this.doneStart.length !== 0) this.doneStart.length = 0;
    const timedOut = this.expire(state, time);
    const matches = this.emit(state, state.seq);
    if (matches.length === 0 && timedOut.length === 0) return NOTHING as NfaResult<E>;
    return { matches, timedOut };
  }

  /** Compact, versioned, JSON-safe copy of a state for checkpoints. */
  snapshot(state: NfaState<E>): NfaSnapshot<E> {
    return snapshotNfaState(state);
  }

  /** Rebuilds a state from `snapshot`'s output; throws `CEP_STATE_VERSION` for an unknown format. */
  restore(data: NfaSnapshot<E>): NfaState<E> {
    return restoreNfaState(data);
  }

  /**
   * True when the state holds nothing (no partial or held match, no buffered event). An idle state need not be
   * stored: `createState()` gives one that behaves the same (only the `droppedPartialMatches` count is lost), so a
   * keyed store can keep idle keys absent.
   */
  isIdle(state: NfaState<E>): boolean {
    return state.pm.length === 0 && state.held.length === 0 && state.buf.events === 0;
  }

  /** Figures for metrics. */
  stats(state: NfaState<E>): NfaStats {
    return {
      partialMatches: state.pm.length + state.held.length,
      bufferedEvents: state.buf.events,
      droppedPartialMatches: state.dropped,
    };
  }

  /**
   * Applies the event to one partial match. Returns true when the match itself stays (it ignored the event); new
   * branches go to `born`. The decisions mirror Flink's TAKE / IGNORE / PROCEED edges: a match may only leave its
   * step (PROCEED) on the event right after one it took (`f`), as Flink's separate "ignore" states have no PROCEED edge.
   */
  private advance(pm: PartialMatch, e: E): boolean {
    const ctx = this.ctx;
    ctx.node = pm.n;
    if (pm.s === this.final) return this.advancePending(pm, e);
    const step = this.steps[pm.s];
    const c = pm.c;
    if (pm.f === 1) {
      // Right after a take: stay in the loop (take or ignore), and/or leave the step.
      const untilHit = step.until !== undefined && step.until(e, ctx);
      const can = c < step.max && !untilHit;
      const takes = can && step.condition(e, ctx);
      if (takes) this.take(pm.n, step, c, pm.t, pm.i);
      if (can && step.inner !== 0 && (step.inner === 2 || !takes)) {
        this.born.push({ s: pm.s, c, k: 0, l: pm.l, f: 0, t: pm.t, i: pm.i, n: pm.n });
        retainNode(this.buf as SharedBufferData<E>, pm.n);
      }
      if (c >= step.min && !(step.greedy && takes)) this.leave(pm, step, e);
      return false;
    }
    if (c === 0) {
      // Waiting for the first event of step s after having ignored at least one event.
      const takes = step.condition(e, ctx);
      if (takes) this.take(pm.n, step, 0, pm.t, pm.i);
      const ignores = pm.k === 2 || (pm.k === 1 && !takes);
      return ignores && !anyHolds(this.steps[pm.l].notFollowedBy, e, ctx);
    }
    // Inside a loop after an ignored event (inner contiguity is relaxed or any here).
    if (step.until !== undefined && step.until(e, ctx)) return false;
    const takes = c < step.max && step.condition(e, ctx);
    if (takes) this.take(pm.n, step, c, pm.t, pm.i);
    return step.inner === 2 || !takes;
  }

  /** PROCEED from a complete step: offer the event to every step that may come next. */
  private leave(pm: PartialMatch, from: CompiledStep<E>, e: E): void {
    const ctx = this.ctx;
    const last = this.steps[pm.l];
    const blockedNext = anyHolds(last.notNext, e, ctx);
    const blockedFollow = anyHolds(last.notFollowedBy, e, ctx);
    const edges = from.proceed;
    for (let j = 0; j < edges.length; j++) {
      const edge = edges[j];
      const step = this.steps[edge.to];
      ctx.node = pm.n;
      if (edge.via.length > 0 && this.greedyHolds(edge.via, e)) continue;
      const takes = step.condition(e, ctx);
      if (takes && !blockedNext) this.take(pm.n, step, 0, pm.t, pm.i);
      if (edge.cont !== 0 && (edge.cont === 2 || !takes) && !blockedNext && !blockedFollow) {
        this.born.push({ s: edge.to, c: 0, k: edge.cont, l: pm.l, f: 0, t: pm.t, i: pm.i, n: pm.n });
        retainNode(this.buf as SharedBufferData<E>, pm.n);
      }
    }
  }

  /** A greedy optional step passed over would take the event: that way is closed. */
  private greedyHolds(via: readonly number[], e: E): boolean {
    for (let j = 0; j < via.length; j++) if (this.steps[via[j]].condition(e, this.ctx)) return true;
    return false;
  }

  /** A complete match waiting out NOT steps at the end of the pattern. */
  private advancePending(pm: PartialMatch, e: E): boolean {
    const last = this.steps[pm.l];
    if ((pm.f === 1 && anyHolds(last.notNext, e, this.ctx)) || anyHolds(last.notFollowedBy, e, this.ctx)) return false;
    if (!this.tailWaitsForWindow) {
      this.complete(pm.n, pm.i);
      return false;
    }
    pm.f = 0;
    return true;
  }

  /** TAKE: the event extends the path ending at `parent` into `step`, which had taken `count` events. */
  private take(parent: number, step: CompiledStep<E>, count: number, t: number, i: number): void {
    const buf = this.buf as SharedBufferData<E>;
    if (this.slot < 0) this.slot = addEvent(buf, this.event as E, this.ts, this.seq);
    const node = addNode(buf, this.slot, step.index, parent);
    const c = count + 1;
    // Like Flink's findFinalStateAfterProceed: a take that completes the pattern is a match at once.
    if (c >= step.min && step.reachesFinal) {
      if (this.hasTail) {
        this.born.push({ s: this.final, c: 0, k: 0, l: step.index, f: 1, t, i, n: node });
        retainNode(buf, node);
      } else {
        this.complete(node, i);
      }
    }
    if (c < step.max || step.proceed.length > 0) {
      this.born.push({ s: step.index, c, k: 0, l: step.index, f: 1, t, i, n: node });
      retainNode(buf, node);
    }
    if (nodeRefs(buf, node) === 0) {
      retainNode(buf, node);
      releaseNode(buf, node);
    }
  }

  private complete(node: number, start: number): void {
    retainNode(this.buf as SharedBufferData<E>, node);
    this.doneNode.push(node);
    this.doneStart.push(start);
  }

  /** Whether the event can be a match's first event. */
  private starts(event: E): boolean {
    const entry = this.compiled.entry;
    for (let j = 0; j < entry.length; j++) if (this.steps[entry[j]].condition(event, EMPTY_CONTEXT)) return true;
    return false;
  }

  /** Closes windows: timed-out partial matches go to the side output; a pending NOT-at-end match completes. */
  private expire(state: NfaState<E>, time: number): TimedOutMatch<E>[] {
    if (this.window === Infinity || state.pm.length === 0) return NO_TIMEOUTS as TimedOutMatch<E>[];
    const pms = state.pm;
    const buf = state.buf;
    this.buf = buf;
    let out: TimedOutMatch<E>[] | undefined;
    let seen: Set<number> | undefined;
    let w = 0;
    for (let r = 0; r < pms.length; r++) {
      const pm = pms[r];
      if (time - pm.t < this.window) {
        pms[w++] = pm;
        continue;
      }
      if (pm.s === this.final && this.tailWaitsForWindow) {
        this.complete(pm.n, pm.i);
      } else if (this.hasTail || !this.pathIsMatch(buf, pm.n)) {
        // Branches that only differ in where they wait share their path: report the path once. A path that was
        // already emitted as a match (a loop that could have gone on) is not reported again as a timeout.
        seen ??= new Set();
        if (!seen.has(pm.n)) {
          seen.add(pm.n);
          out ??= [];
          out.push({ match: this.materialize(buf, pm.n), timeoutTimestamp: pm.t + this.window });
        }
      }
      releaseNode(buf, pm.n);
    }
    if (pms.length !== w) pms.length = w;
    return out ?? (NO_TIMEOUTS as TimedOutMatch<E>[]);
  }

  /**
   * Emits completed matches. Without a skip strategy they go out at once. With one, as in Flink's
   * `NFA#processMatchesAccordingToSkipStrategy`, matches go out in order of their first event and wait while a
   * partial match that began earlier still runs, so a skip never discards a match that began earlier. (So a partial
   * match that never ends, such as an unbounded loop without `within`, holds every later match back.)
   */
  private emit(state: NfaState<E>, completedSeq: number): Match<E>[] {
    const n = this.doneNode.length;
    if (n === 0 && state.held.length === 0) return NO_MATCHES as Match<E>[];
    const buf = state.buf;
    if (!this.prunes) {
      if (n === 0) return NO_MATCHES as Match<E>[];
      const order = this.orderDone(buf);
      const out: Match<E>[] = [];
      for (const j of order) {
        out.push(this.materialize(buf, this.doneNode[j]));
        releaseNode(buf, this.doneNode[j]);
      }
      return out;
    }
    for (let j = 0; j < n; j++) state.held.push({ n: this.doneNode[j], i: this.doneStart[j], q: completedSeq });
    if (state.held.length === 0) return NO_MATCHES as Match<E>[];
    let out: Match<E>[] | undefined;
    const seqCache = new Map<HeldMatch, number[]>();
    const seqsOf = (h: HeldMatch): number[] => {
      let s = seqCache.get(h);
      if (s === undefined) seqCache.set(h, (s = pathSeqs(buf, h.n)));
      return s;
    };
    while (state.held.length > 0) {
      if (state.held.length > 1) {
        state.held.sort((a, b) => a.i - b.i || a.q - b.q || compareSeqs(seqsOf(a), seqsOf(b)));
      }
      const h = state.held[0];
      let earliest = Infinity;
      for (const pm of state.pm) if (pm.i < earliest) earliest = pm.i;
      // A partial match with the same first event does not hold the match back: the match prunes it (or not).
      if (h.i > earliest) break;
      state.held.shift();
      const seqs = seqsOf(h);
      const names = pathSteps(buf, h.n).map((s) => this.steps[s].name);
      const keepFrom = this.skip.keepFrom(seqs, names);
      out ??= [];
      out.push(this.materialize(buf, h.n));
      releaseNode(buf, h.n);
      if (keepFrom > Number.NEGATIVE_INFINITY) this.prune(state, keepFrom);
    }
    return out ?? (NO_MATCHES as Match<E>[]);
  }

  /** Discards partial and held matches that began before `keepFrom` (Flink's `AfterMatchSkipStrategy#prune`). */
  private prune(state: NfaState<E>, keepFrom: number): void {
    const buf = state.buf;
    let w = 0;
    for (const pm of state.pm) {
      if (pm.i < keepFrom) releaseNode(buf, pm.n);
      else state.pm[w++] = pm;
    }
    if (state.pm.length !== w) state.pm.length = w;
    w = 0;
    for (const h of state.held) {
      if (h.i < keepFrom) releaseNode(buf, h.n);
      else state.held[w++] = h;
    }
    if (state.held.length !== w) state.held.length = w;
  }

  /** The cap policy: drop the partial matches with the earliest first event, and count them. */
  private dropOldest(state: NfaState<E>): void {
    const pms = state.pm;
    const excess = pms.length - this.cap;
    const order = pms.map((_, j) => j).sort((a, b) => pms[a].i - pms[b].i || a - b);
    const drop = new Set(order.slice(0, excess));
    let w = 0;
    for (let r = 0; r < pms.length; r++) {
      if (drop.has(r)) releaseNode(state.buf, pms[r].n);
      else pms[w++] = pms[r];
    }
    if (pms.length !== w) pms.length = w;
    state.dropped += excess;
  }

  /** Indices of this call's completed matches by first event, then by their event sequence. */
  private orderDone(buf: SharedBufferData<E>): number[] {
    const n = this.doneNode.length;
    if (n === 1) return [0];
    const seqs = this.doneNode.map((node) => pathSeqs(buf, node));
    return seqs.map((_, j) => j).sort((a, b) => compareSeqs(seqs[a], seqs[b]));
  }

  /** Whether the path ending at `node` completed the pattern when its last event was taken. */
  private pathIsMatch(buf: SharedBufferData<E>, node: number): boolean {
    const step = this.steps[buf.nd[node * 4 + 1]];
    let count = 0;
    for (let n = node; n >= 0 && buf.nd[n * 4 + 1] === step.index; n = buf.nd[n * 4 + 2]) count++;
    return count >= step.min && step.reachesFinal;
  }

  private materialize(buf: SharedBufferData<E>, node: number): Match<E> {
    const events: E[] = [];
    const names: string[] = [];
    for (let n = node; n >= 0; n = buf.nd[n * 4 + 2]) {
      events.push(buf.ev[buf.nd[n * 4]] as E);
      names.push(this.steps[buf.nd[n * 4 + 1]].name);
    }
    const match: Match<E> = {};
    for (let j = events.length - 1; j >= 0; j--) (match[names[j]] ??= []).push(events[j]);
    return match;
  }
}

function anyHolds<E>(conditions: readonly Condition<E>[], e: E, ctx: ConditionContext<E>): boolean {
  for (let j = 0; j < conditions.length; j++) if (conditions[j](e, ctx)) return true;
  return false;
}

function compareSeqs(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let j = 0; j < n; j++) if (a[j] !== b[j]) return a[j] - b[j];
  return a.length - b.length;
}
