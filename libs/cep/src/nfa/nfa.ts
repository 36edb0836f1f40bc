import type { AfterMatchSkipStrategy } from '../after-match/after-match-skip-strategy';
import { compilePattern } from '../compiler/compile-pattern';
import type { CompiledPattern, CompiledStep } from '../compiler/compiled-pattern';
import type { Condition, ConditionContext } from '../pattern/condition';
import type { Pattern } from '../pattern/pattern';
import * as sharedBuffer from '../shared-buffer/shared-buffer';
import type { SharedBufferData } from '../shared-buffer/shared-buffer';
import * as nfaState from './nfa-state';
import type { NfaSnapshot, NfaState } from './nfa-state';

// Module-local constants for what the hot path imports. tsx (esbuild's CommonJS output, which runs bench:cep) turns
// every use of an imported binding into a getter call on the exporting module, and those calls took about half the
// time of 100 patterns over one key; constants bound once are plain reads there and in tsc's output alike.
const { addEvent, addNode, NO_NUMBERS, nodeRefs, pathSeqs, pathSteps, releaseNode, retainNode } = sharedBuffer;
const {
  createNfaState,
  HELD_WIDTH,
  PM_WIDTH,
  restoreNfaState,
  snapshotNfaState,
  WAIT_GENERAL,
  WAIT_IDLE,
  WAIT_PROCEED,
} = nfaState;

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
  /**
   * Whether `timedOut` lists the partial matches whose window closed. A caller that ignores the side output turns it
   * off, and the events of such matches are then never gathered into result objects (with many patterns over one
   * stream most partial matches end that way).
   * @defaultValue true
   */
  reportTimeouts?: boolean;
}

/** Options for tests only, not exported from the library. */
export interface InternalNfaOptions extends NfaOptions {
  /** Turns the idle fast path off, so that a test can hold it to the general path. */
  noFastPath?: boolean;
}

/** A held match while `emit` sorts them (`HELD_WIDTH` numbers in the state). */
interface HeldMatch {
  n: number;
  i: number;
  q: number;
}

/** Idle states' columns kept per NFA for reuse: enough for the states that go idle and busy again within a window. */
const POOLED_COLUMNS = 256;

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
 * Context for evaluating a condition once for every partial match of a state without reading their paths: a condition
 * that asks for events is path-dependent, and the caller then takes the general path.
 */
class ProbeContext<E> implements ConditionContext<E> {
  asked = false;

  getEventsForPattern(): readonly E[] {
    this.asked = true;
    return NO_EVENTS;
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
  /** Whether partial matches can time out at all: a window, or a gap limit on some step. */
  private readonly expires: boolean;
  private readonly hasTail: boolean;
  private readonly tailWaitsForWindow: boolean;
  private readonly skip: AfterMatchSkipStrategy;
  private readonly prunes: boolean;
  private readonly cap: number;
  private readonly ctx: PathContext<E>;
  private readonly probe = new ProbeContext<E>();
  private readonly reportTimeouts: boolean;
  private readonly entryConditions: readonly Condition<E>[];
  private readonly fastPath: boolean;
  // Scratch space reused across calls (process is synchronous and not re-entrant). Filled up to a count rather than
  // emptied with `length = 0`, which costs a runtime call on every event.
  private readonly born: number[] = [];
  private bornLength = 0;
  private readonly doneNode: number[] = [];
  private readonly doneStart: number[] = [];
  private doneLength = 0;
  // Columns of states that went idle, for the next state that needs them: a store drops idle states, and a busy
  // state's columns live as long as its window, long enough to reach the old generation, so without reuse each
  // (key, pattern) that goes busy and idle again leaves four arrays of old garbage. Bounded by POOLED_COLUMNS.
  private readonly pooledEv: (E | null)[][] = [];
  private readonly pooledEm: number[][] = [];
  private readonly pooledNd: number[][] = [];
  private readonly pooledPm: number[][] = [];
  private buf: SharedBufferData<E> | undefined;
  private event: E | undefined;
  private ts = 0;
  private seq = 0;
  private slot = -1;
  /** Set while a NOT discards the partial match being advanced: its takes may complete matches, nothing else. */
  private stopping = false;

  private constructor(
    /** The compiled pattern, for tools and tests. */
    readonly compiled: CompiledPattern<E>,
    options: NfaOptions,
  ) {
    this.steps = compiled.steps;
    this.final = compiled.final;
    this.window = compiled.window ?? Infinity;
    const gaps = compiled.tailGap !== Infinity || compiled.steps.some((step) => step.gap !== Infinity);
    this.expires = this.window !== Infinity || gaps;
    this.hasTail = compiled.tailNotNext.length + compiled.tailNotFollowedBy.length > 0;
    this.tailWaitsForWindow = compiled.tailNotFollowedBy.length > 0;
    this.skip = compiled.skip;
    this.prunes = compiled.skip.prunes;
    this.cap = options.maxPartialMatches ?? 10_000;
    this.reportTimeouts = options.reportTimeouts ?? true;
    this.ctx = new PathContext(compiled.steps);
    this.entryConditions = compiled.entry.map((j) => compiled.steps[j].condition);
    // The fast paths decide from the first-event window alone; gap limits take the general path.
    this.fastPath = (options as InternalNfaOptions).noFastPath !== true && !gaps;
  }

  /**
   * The options this NFA runs with, for `NfaGroup`, which runs some patterns itself and must honour them.
   * @internal
   */
  get settings(): { readonly cap: number; readonly reportTimeouts: boolean; readonly fastPath: boolean } {
    return { cap: this.cap, reportTimeouts: this.reportTimeouts, fastPath: this.fastPath };
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
    // Two fast paths, both answered from the state object alone and allocation-free; kept apart from the general path
    // so that this method stays small enough for V8 to inline into the caller's loop. With many patterns over one
    // stream most calls find a key with nothing running and an event that starts nothing; most of the rest find
    // partial matches that wait for a step the event does not satisfy, inside their window. Either way the event
    // changes nothing but the sequence number.
    const wait = state.wait;
    if (wait === WAIT_IDLE) {
      if (this.fastPath && !this.starts(event)) {
        state.seq++;
        return NOTHING as NfaResult<E>;
      }
    } else if (
      wait >= 0 &&
      timestamp - state.oldest < this.window &&
      this.fastPath &&
      !this.waitingMayTake(wait, event) &&
      !this.starts(event)
    ) {
      state.seq++;
      return NOTHING as NfaResult<E>;
    }
    return this.processInGeneral(state, event, timestamp);
  }

  /**
   * Whether `process` would change nothing but the sequence number of a state whose `wait` and `oldest` are these,
   * for this event: the two fast paths of `process`, answered without the state object. `NfaGroup` keeps every busy
   * pattern's `wait` and `oldest` in one list per key, so that most of its patterns cost no read of their state.
   * @internal
   */
  leavesUnchanged(wait: number, oldest: number, event: E, timestamp: number): boolean {
    if (!this.fastPath) return false;
    if (wait === WAIT_IDLE) return !this.starts(event);
    return wait >= 0 && timestamp - oldest < this.window && !this.waitingMayTake(wait, event) && !this.starts(event);
  }

  /**
   * A third fast path: the single partial match has just taken the last event its step can take, and its only way
   * on is one relaxed (or any) edge. An event inside the window that the next step and the entry steps reject turns
   * it into a match waiting at the next step (what the general path's PROCEED, ignore and release amount to), with
   * no node touched. Returns false, changing nothing, when the general path must run.
   */
  private proceedQuietly(state: NfaState<E>, wait: number, event: E, timestamp: number): boolean {
    if (timestamp - state.oldest >= this.window) return false;
    const edge = this.steps[WAIT_PROCEED - wait].proceed[0];
    if (this.waitingMayTake(edge.to, event) || this.starts(event)) return false;
    const pm = state.pm;
    pm[0] = edge.to;
    pm[1] = 0;
    pm[2] = edge.cont;
    pm[4] = 0;
    state.seq++;
    // What summarize finds for this match: its last step has no NOT (required for WAIT_PROCEED), contiguity not strict.
    state.wait = edge.to;
    return true;
  }

  /** Gives an idle state pooled columns in place of the shared empty ones (see `pooledEv`). */
  private lendColumns(state: NfaState<E>): void {
    if ((state.ev as unknown) === NO_NUMBERS && this.pooledEv.length !== 0)
      state.ev = this.pooledEv.pop() as (E | null)[];
    if (state.em === NO_NUMBERS && this.pooledEm.length !== 0) state.em = this.pooledEm.pop() as number[];
    if (state.nd === NO_NUMBERS && this.pooledNd.length !== 0) state.nd = this.pooledNd.pop() as number[];
    if (state.pm === NO_NUMBERS && this.pooledPm.length !== 0) state.pm = this.pooledPm.pop() as number[];
  }

  /**
   * Takes an idle state's columns back into the pool, emptied; the state gets the shared empty ones, as a new state
   * has. Idle means no partial and no held match, hence no node and no event: the free lists point nowhere useful.
   */
  private reclaimColumns(state: NfaState<E>): void {
    const ev = state.ev as unknown as number[];
    if (ev !== NO_NUMBERS) {
      truncate(ev, 0);
      if (this.pooledEv.length < POOLED_COLUMNS) this.pooledEv.push(state.ev);
      state.ev = NO_NUMBERS as unknown as (E | null)[];
    }
    if (state.em !== NO_NUMBERS) {
      truncate(state.em, 0);
      if (this.pooledEm.length < POOLED_COLUMNS) this.pooledEm.push(state.em);
      state.em = NO_NUMBERS;
    }
    if (state.nd !== NO_NUMBERS) {
      truncate(state.nd, 0);
      if (this.pooledNd.length < POOLED_COLUMNS) this.pooledNd.push(state.nd);
      state.nd = NO_NUMBERS;
    }
    if (state.pm !== NO_NUMBERS) {
      if (this.pooledPm.length < POOLED_COLUMNS) this.pooledPm.push(state.pm);
      state.pm = NO_NUMBERS;
    }
    state.ef = -1;
    state.nf = -1;
  }

  /** Whether step `step`'s condition may hold for the event on some path (true when it reads the path). */
  private waitingMayTake(step: number, event: E): boolean {
    const probe = this.probe;
    probe.asked = false;
    const s = this.steps[step];
    if (s.condition(event, probe) || probe.asked) return true;
    // A greedy guard that holds closes the waiting match: that is a change too.
    return s.guards.length !== 0 && anyHolds(s.guards, event, probe);
  }

  /**
   * Sets `state.wait` and `state.oldest` after a change. The step fast path needs every partial match waiting for the
   * first event of one step after an ignored event (`c` 0, `f` 0) with relaxed or any contiguity and no NOT after its
   * last step: for such a match an event the step's condition rejects is ignored, and the match stays as it is.
   */
  private summarize(state: NfaState<E>): void {
    const pm = state.pm;
    const length = pm.length;
    if (state.held.length !== 0) {
      state.wait = WAIT_GENERAL;
      return;
    }
    if (length === 0) {
      state.wait = WAIT_IDLE;
      this.reclaimColumns(state);
      return;
    }
    const s = pm[0];
    let oldest = pm[5];
    if (length === PM_WIDTH && pm[4] === 1 && s !== this.final) {
      const step = this.steps[s];
      const last = this.steps[pm[3]];
      const edge = step.proceed.length === 1 ? step.proceed[0] : undefined;
      if (
        edge !== undefined &&
        pm[1] >= step.max &&
        edge.cont !== 0 &&
        edge.via.length === 0 &&
        edge.to !== this.final &&
        last.notNext.length === 0 &&
        last.notFollowedBy.length === 0
      ) {
        state.wait = WAIT_PROCEED - s;
        state.oldest = oldest;
        return;
      }
    }
    for (let r = 0; r < length; r += PM_WIDTH) {
      if (
        pm[r] !== s ||
        s === this.final ||
        pm[r + 1] !== 0 ||
        pm[r + 2] === 0 ||
        pm[r + 4] !== 0 ||
        this.steps[pm[r + 3]].notFollowedBy.length !== 0
      ) {
        state.wait = WAIT_GENERAL;
        return;
      }
      if (pm[r + 5] < oldest) oldest = pm[r + 5];
    }
    state.wait = s;
    state.oldest = oldest;
  }

  /** `process` when the state holds something or the event may start a match. */
  private processInGeneral(state: NfaState<E>, event: E, timestamp: number): NfaResult<E> {
    const wait = state.wait;
    // Checked here rather than in process, which must stay small enough to be inlined.
    if (wait <= WAIT_PROCEED && this.fastPath && this.proceedQuietly(state, wait, event, timestamp)) {
      return NOTHING as NfaResult<E>;
    }
    if (wait === WAIT_IDLE) this.lendColumns(state);
    this.doneLength = 0;
    const timedOut = this.expire(state, timestamp);
    this.buf = state;
    this.ctx.buf = state;
    this.event = event;
    this.ts = timestamp;
    this.seq = state.seq++;
    this.slot = -1;
    this.bornLength = 0;
    const pm = state.pm;
    const length = pm.length;
    let w = 0;
    for (let r = 0; r < length; r += PM_WIDTH) {
      if (this.advance(pm, r, event)) {
        if (w !== r) for (let j = 0; j < PM_WIDTH; j++) pm[w + j] = pm[r + j];
        w += PM_WIDTH;
      } else {
        releaseNode(state, pm[r + 7]);
      }
    }
    truncate(pm, w);
    const entry = this.compiled.entry;
    for (let j = 0; j < entry.length; j++) {
      const step = this.steps[entry[j]];
      if (!step.condition(event, EMPTY_CONTEXT)) continue;
      if (step.until !== undefined && step.until(event, EMPTY_CONTEXT)) continue;
      if (step.guards.length !== 0 && anyHolds(step.guards, event, EMPTY_CONTEXT)) continue;
      this.take(-1, step, 0, timestamp, this.seq);
    }
    const born = this.born;
    const bornLength = this.bornLength;
    if (bornLength !== 0) {
      // An exact-size list for a state's first partial matches (see createNfaState).
      if (pm === NO_NUMBERS) state.pm = born.slice(0, bornLength);
      else for (let j = 0; j < bornLength; j++) pm.push(born[j]);
    }
    if (state.pm.length > this.cap * PM_WIDTH) this.dropOldest(state);
    const completedSeq = this.seq;
    this.event = undefined;
    const matches = this.emit(state, completedSeq);
    this.summarize(state);
    if (matches.length === 0 && timedOut.length === 0) return NOTHING as NfaResult<E>;
    return { matches, timedOut };
  }

  /**
   * Moves time forward without an event (e.g. on a watermark): closes windows, returns the timed-out partial matches
   * and the matches that completed by waiting (a NOT at the end, or matches held back for the skip strategy).
   */
  advanceTime(state: NfaState<E>, time: number): NfaResult<E> {
    this.doneLength = 0;
    const timedOut = this.expire(state, time);
    const matches = this.emit(state, state.seq);
    this.summarize(state);
    if (matches.length === 0 && timedOut.length === 0) return NOTHING as NfaResult<E>;
    return { matches, timedOut };
  }

  /** Compact, versioned, JSON-safe copy of a state for checkpoints. */
  snapshot(state: NfaState<E>): NfaSnapshot<E> {
    return snapshotNfaState(state);
  }

  /** Rebuilds a state from `snapshot`'s output; throws `CEP_STATE_VERSION` for an unknown format. */
  restore(data: NfaSnapshot<E>): NfaState<E> {
    const state = restoreNfaState(data);
    this.summarize(state);
    return state;
  }

  /**
   * True when the state holds nothing (no partial or held match, no buffered event). An idle state need not be
   * stored: `createState()` gives one that behaves the same (only the `droppedPartialMatches` count is lost), so a
   * keyed store can keep idle keys absent.
   */
  isIdle(state: NfaState<E>): boolean {
    // No partial and no held match leaves no node, hence no event; `wait` says so without reading the lists, which a
    // store calling this after every event would otherwise fetch from memory once more.
    return state.wait === WAIT_IDLE;
  }

  /** Figures for metrics. */
  stats(state: NfaState<E>): NfaStats {
    return {
      partialMatches: state.pm.length / PM_WIDTH + state.held.length / HELD_WIDTH,
      bufferedEvents: state.events,
      droppedPartialMatches: state.dropped,
    };
  }

  /**
   * Applies the event to one partial match. Returns true when the match itself stays (it ignored the event); new
   * branches go to `born`. The decisions mirror Flink's TAKE / IGNORE / PROCEED edges: a match may only leave its
   * step (PROCEED) on the event right after one it took (`f`), as Flink's separate "ignore" states have no PROCEED edge.
   */
  private advance(pm: number[], p: number, e: E): boolean {
    const ctx = this.ctx;
    const s = pm[p];
    const c = pm[p + 1];
    const l = pm[p + 3];
    const t = pm[p + 5];
    const i = pm[p + 6];
    const n = pm[p + 7];
    ctx.node = n;
    if (s === this.final) return this.advancePending(pm, p, e);
    const step = this.steps[s];
    if (c === 0) {
      // Waiting for the first event of step s after having ignored at least one event. An optional step waits in a
      // state of its own in Flink (its ignore state), which a greedy guard does not reach.
      if (!step.skippable && step.guards.length !== 0 && anyHolds(step.guards, e, ctx)) return false;
      const stop = anyHolds(this.steps[l].notFollowedBy, e, ctx);
      this.stopping = stop;
      const holds = step.condition(e, ctx);
      // `until` forbids taking the event, not skipping it (Flink extends the take condition only).
      if (holds && (step.until === undefined || !step.until(e, ctx))) this.take(n, step, 0, t, i);
      this.stopping = false;
      const k = pm[p + 2];
      return !stop && (k === 2 || (k === 1 && !holds));
    }
    // NOT steps work as Flink's stop states: an event satisfying the NOT discards the whole partial match, what it
    // could still take or skip included; only a match the event completes is still emitted. notFollowedBy holds from
    // the step's first event until the next step took its event (that event included); notNext on the event right
    // after a take that completed the step's minimum.
    const fresh = pm[p + 4] === 1;
    // A notNext after a greedy step is guarded like any state after it: the loop's event does not stop the match.
    const stopNext =
      fresh &&
      c >= step.min &&
      step.notNext.length !== 0 &&
      anyHolds(step.notNext, e, ctx) &&
      (step.ownGuard === undefined || !step.ownGuard(e, ctx));
    // After an ignored event, Flink's optional times states have an ignore state of their own, without the stop edge.
    const guarded = fresh || step.max === Infinity || c < step.min;
    const stop = stopNext || (guarded && step.notFollowedBy.length !== 0 && anyHolds(step.notFollowedBy, e, ctx));
    this.stopping = stop;
    let stays = false;
    if (fresh) {
      // Right after a take: stay in the loop (take or ignore), and/or leave the step.
      const untilHit = step.until !== undefined && step.until(e, ctx);
      const can = c < step.max && !untilHit;
      const takes = can && step.condition(e, ctx);
      if (takes) this.take(n, step, c, t, i);
      if (can && step.inner !== 0 && (step.inner === 2 || !takes)) this.bear(s, c, 0, l, 0, t, i, n);
      if (c >= step.min && !stopNext) this.leave(step, e, l, t, i, n);
      // A loop that may end the pattern before a NOT at its end reaches Flink's state for that NOT only now, through
      // the PROCEED on this event (a take at the maximum went there at once, see take).
      if (c >= step.min && c < step.max && this.hasTail && step.reachesFinal && !stopNext) {
        const guards = this.compiled.tailGuards;
        if (guards.length === 0 || !anyHolds(guards, e, ctx)) {
          // notNext: its IGNORE edge into the final state completes the match on this event.
          if (this.tailWaitsForWindow) this.bear(this.final, 0, 0, l, 0, t, i, n);
          else if (!stop) this.complete(n, i);
        }
      }
    } else if (step.until === undefined || !step.until(e, ctx)) {
      // Inside a loop after an ignored event (inner contiguity is relaxed or any here).
      const takes = c < step.max && step.condition(e, ctx);
      if (takes) this.take(n, step, c, t, i);
      stays = step.inner === 2 || !takes;
    }
    this.stopping = false;
    return stays && !stop;
  }

  /** Adds a partial match to this event's newcomers and retains its node. */
  private bear(s: number, c: number, k: number, l: number, f: number, t: number, i: number, n: number): void {
    if (this.stopping) return;
    const born = this.born;
    const j = this.bornLength;
    born[j] = s;
    born[j + 1] = c;
    born[j + 2] = k;
    born[j + 3] = l;
    born[j + 4] = f;
    born[j + 5] = t;
    born[j + 6] = i;
    born[j + 7] = n;
    this.bornLength = j + PM_WIDTH;
    retainNode(this.buf as SharedBufferData<E>, n);
  }

  /**
   * PROCEED from a complete step: offer the event to every step that may come next. The NOT steps after `from` were
   * checked by the caller; a greedy guard of the next step (or of an optional step passed over) closes that way.
   */
  private leave(from: CompiledStep<E>, e: E, l: number, t: number, i: number, n: number): void {
    const ctx = this.ctx;
    // The notNext state after a greedy step carries the step's guard: no hand-over on an event the loop accepts.
    if (from.ownGuard !== undefined && from.notNext.length !== 0 && from.ownGuard(e, ctx)) return;
    const edges = from.proceed;
    for (let j = 0; j < edges.length; j++) {
      const edge = edges[j];
      const step = this.steps[edge.to];
      ctx.node = n;
      if (edge.via.length > 0 && this.guardHolds(edge.via, e)) continue;
      if (step.guards.length !== 0 && anyHolds(step.guards, e, ctx)) continue;
      const holds = step.condition(e, ctx);
      if (holds && (step.until === undefined || !step.until(e, ctx))) this.take(n, step, 0, t, i);
      if (edge.cont === 2 || (edge.cont === 1 && !holds)) this.bear(edge.to, 0, edge.cont, l, 0, t, i, n);
    }
  }

  /** An optional step passed over has a greedy guard that accepts the event: that way is closed. */
  private guardHolds(via: readonly number[], e: E): boolean {
    for (let j = 0; j < via.length; j++) if (anyHolds(this.steps[via[j]].guards, e, this.ctx)) return true;
    return false;
  }

  /** A complete match waiting out NOT steps at the end of the pattern. */
  private advancePending(pm: number[], p: number, e: E): boolean {
    const last = this.steps[pm[p + 3]];
    const guards = this.compiled.tailGuards;
    if (guards.length !== 0 && anyHolds(guards, e, this.ctx)) return false;
    if ((pm[p + 4] === 1 && anyHolds(last.notNext, e, this.ctx)) || anyHolds(last.notFollowedBy, e, this.ctx)) {
      return false;
    }
    if (!this.tailWaitsForWindow) {
      this.complete(pm[p + 7], pm[p + 6]);
      return false;
    }
    pm[p + 4] = 0;
    return true;
  }

  /** TAKE: the event extends the path ending at `parent` into `step`, which had taken `count` events. */
  private take(parent: number, step: CompiledStep<E>, count: number, t: number, i: number): void {
    const buf = this.buf as SharedBufferData<E>;
    if (this.slot < 0) this.slot = addEvent(buf, this.event as E, this.ts, this.seq);
    const node = addNode(buf, this.slot, step.index, parent);
    const c = count + 1;
    // Like Flink's findFinalStateAfterProceed: a take that completes the pattern is a match at once.
    if (c >= step.min && step.reachesFinal && this.completes(step, parent)) {
      if (this.hasTail) {
        if (c >= step.max) this.bear(this.final, 0, 0, step.index, 1, t, i, node);
      } else this.complete(node, i);
    }
    // Under a NOT that discards the partial match (`stopping`), bear keeps nothing: only a completed match survives.
    if (c < step.max || step.proceed.length > 0) this.bear(step.index, c, 0, step.index, 1, t, i, node);
    if (nodeRefs(buf, node) === 0) {
      retainNode(buf, node);
      releaseNode(buf, node);
      // A take under a stopping NOT may leave the event unreferenced, hence freed: a later take adds it again.
      if (buf.em[this.slot * 3 + 2] === 0) this.slot = -1;
    }
  }

  /** Whether a take into `step` that reached its minimum completes the match on the current event. */
  private completes(step: CompiledStep<E>, parent: number): boolean {
    const e = this.event as E;
    // Flink evaluates these edges with the partial match as it was before the take.
    this.ctx.node = parent;
    if (step.completionNotNext.length !== 0 && anyHolds(step.completionNotNext, e, this.ctx)) return false;
    const vias = step.finalVias;
    for (let j = 0; j < vias.length; j++) {
      const via = vias[j];
      if (
        via.length === 0 ? step.finalGuard === undefined || !step.finalGuard(e, this.ctx) : !this.guardHolds(via, e)
      ) {
        return true;
      }
    }
    return false;
  }

  private complete(node: number, start: number): void {
    retainNode(this.buf as SharedBufferData<E>, node);
    this.doneNode[this.doneLength] = node;
    this.doneStart[this.doneLength] = start;
    this.doneLength++;
  }

  /** Whether the event can be a match's first event. */
  private starts(event: E): boolean {
    const conditions = this.entryConditions;
    if (conditions.length === 1) return conditions[0](event, EMPTY_CONTEXT);
    for (let j = 0; j < conditions.length; j++) if (conditions[j](event, EMPTY_CONTEXT)) return true;
    return false;
  }

  /** Closes windows: timed-out partial matches go to the side output; a pending NOT-at-end match completes. */
  private expire(state: NfaState<E>, time: number): TimedOutMatch<E>[] {
    if (!this.expires || state.pm.length === 0) return NO_TIMEOUTS as TimedOutMatch<E>[];
    const pm = state.pm;
    const length = pm.length;
    this.buf = state;
    let out: TimedOutMatch<E>[] | undefined;
    let seen: Set<number> | undefined;
    let w = 0;
    for (let r = 0; r < length; r += PM_WIDTH) {
      const t = pm[r + 5];
      const n = pm[r + 7];
      const gap = this.gapOf(pm, r);
      // As Flink's NFA#advanceTime: the gap limit (from the match's latest event) first, then the window.
      const last = gap === Infinity ? 0 : state.em[state.nd[n * 4] * 3];
      const gapClosed = gap !== Infinity && time - last >= gap;
      if (!gapClosed && time - t < this.window) {
        if (w !== r) for (let j = 0; j < PM_WIDTH; j++) pm[w + j] = pm[r + j];
        w += PM_WIDTH;
        continue;
      }
      if (pm[r] === this.final && this.tailWaitsForWindow) {
        this.complete(n, pm[r + 6]);
      } else if (this.reportTimeouts) {
        // Branches that only differ in where they wait share their path: report the path once. A path that was
        // already emitted as a match (a loop that could have gone on) is reported too, as Flink does.
        seen ??= new Set();
        if (!seen.has(n)) {
          seen.add(n);
          out ??= [];
          out.push({ match: this.materialize(state, n), timeoutTimestamp: gapClosed ? last + gap : t + this.window });
        }
      }
      releaseNode(state, n);
    }
    truncate(pm, w);
    return out ?? (NO_TIMEOUTS as TimedOutMatch<E>[]);
  }

  /**
   * The gap limit a partial match is under: that of the step whose first event it waits for (a mandatory step, after
   * an ignored event: Flink's separate ignore state of an optional step has none), or, right after the take that
   * completed a step, that of the step after it (Flink's take edge leads straight into that step's state).
   */
  private gapOf(pm: readonly number[], r: number): number {
    const s = pm[r];
    if (s === this.final) return this.compiled.tailGap;
    const step = this.steps[s];
    if (pm[r + 1] === 0) return step.skippable ? Infinity : step.gap;
    return pm[r + 4] === 1 && pm[r + 1] >= step.max ? step.gapAfter : Infinity;
  }

  /**
   * Emits completed matches. Without a skip strategy they go out at once. With one, as in Flink's
   * `NFA#processMatchesAccordingToSkipStrategy`, matches go out in order of their first event and wait while a
   * partial match that began earlier still runs, so a skip never discards a match that began earlier. (So a partial
   * match that never ends, such as an unbounded loop without `within`, holds every later match back.)
   */
  private emit(state: NfaState<E>, completedSeq: number): Match<E>[] {
    const n = this.doneLength;
    if (n === 0 && state.held.length === 0) return NO_MATCHES as Match<E>[];
    if (!this.prunes) {
      if (n === 0) return NO_MATCHES as Match<E>[];
      const order = this.orderDone(state);
      const out: Match<E>[] = [];
      for (const j of order) {
        out.push(this.materialize(state, this.doneNode[j]));
        releaseNode(state, this.doneNode[j]);
      }
      return out;
    }
    const held: HeldMatch[] = [];
    const flat = state.held;
    for (let j = 0; j < flat.length; j += HELD_WIDTH) held.push({ n: flat[j], i: flat[j + 1], q: flat[j + 2] });
    for (let j = 0; j < n; j++) held.push({ n: this.doneNode[j], i: this.doneStart[j], q: completedSeq });
    let out: Match<E>[] | undefined;
    const seqCache = new Map<HeldMatch, number[]>();
    const seqsOf = (h: HeldMatch): number[] => {
      let s = seqCache.get(h);
      if (s === undefined) seqCache.set(h, (s = pathSeqs(state, h.n)));
      return s;
    };
    while (held.length > 0) {
      if (held.length > 1) held.sort((a, b) => a.i - b.i || a.q - b.q || compareSeqs(seqsOf(a), seqsOf(b)));
      const h = held[0];
      let earliest = Infinity;
      const pm = state.pm;
      for (let p = 6; p < pm.length; p += PM_WIDTH) if (pm[p] < earliest) earliest = pm[p];
      // A partial match with the same first event does not hold the match back: the match prunes it (or not).
      if (h.i > earliest) break;
      held.shift();
      const seqs = seqsOf(h);
      const names = pathSteps(state, h.n).map((s) => this.steps[s].name);
      const keepFrom = this.skip.keepFrom(seqs, names);
      out ??= [];
      out.push(this.materialize(state, h.n));
      releaseNode(state, h.n);
      if (keepFrom > Number.NEGATIVE_INFINITY) this.prune(state, held, keepFrom);
    }
    if (flat === NO_NUMBERS && held.length !== 0) state.held = [];
    truncate(state.held, 0);
    for (const h of held) state.held.push(h.n, h.i, h.q);
    return out ?? (NO_MATCHES as Match<E>[]);
  }

  /** Discards partial and held matches that began before `keepFrom` (Flink's `AfterMatchSkipStrategy#prune`). */
  private prune(state: NfaState<E>, held: HeldMatch[], keepFrom: number): void {
    const pm = state.pm;
    const length = pm.length;
    let w = 0;
    for (let r = 0; r < length; r += PM_WIDTH) {
      if (pm[r + 6] < keepFrom) {
        releaseNode(state, pm[r + 7]);
      } else {
        if (w !== r) for (let j = 0; j < PM_WIDTH; j++) pm[w + j] = pm[r + j];
        w += PM_WIDTH;
      }
    }
    truncate(pm, w);
    w = 0;
    for (const h of held) {
      if (h.i < keepFrom) releaseNode(state, h.n);
      else held[w++] = h;
    }
    if (held.length !== w) held.length = w;
  }

  /** The cap policy: drop the partial matches with the earliest first event, and count them. */
  private dropOldest(state: NfaState<E>): void {
    const pm = state.pm;
    const count = pm.length / PM_WIDTH;
    const excess = count - this.cap;
    const order = Array.from({ length: count }, (_, j) => j).sort(
      (a, b) => pm[a * PM_WIDTH + 6] - pm[b * PM_WIDTH + 6] || a - b,
    );
    const drop = new Set(order.slice(0, excess));
    let w = 0;
    for (let j = 0; j < count; j++) {
      const r = j * PM_WIDTH;
      if (drop.has(j)) {
        releaseNode(state, pm[r + 7]);
      } else {
        if (w !== r) for (let x = 0; x < PM_WIDTH; x++) pm[w + x] = pm[r + x];
        w += PM_WIDTH;
      }
    }
    truncate(pm, w);
    state.dropped += excess;
  }

  /** Indices of this call's completed matches by first event, then by their event sequence. */
  private orderDone(buf: SharedBufferData<E>): number[] {
    const n = this.doneLength;
    if (n === 1) return [0];
    const seqs = this.doneNode.slice(0, n).map((node) => pathSeqs(buf, node));
    return seqs.map((_, j) => j).sort((a, b) => compareSeqs(seqs[a], seqs[b]));
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

/** Shortens an array to `length` without a runtime call (`array.length = n` is one): a few pops are inlined. */
function truncate(array: number[], length: number): void {
  while (array.length > length) array.pop();
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
