import type { AggregateComparison, AggregateFunction } from '../model/rule';

/** A value an aggregate keeps per event: a number for sum/avg/min/max, any primitive for distinctCount. */
export type WindowValue = number | string | boolean | null;

/**
 * The state of one aggregate rule for one group key: the events inside the window as parallel arrays ordered by event
 * time, plus what makes each function O(1) amortised per event: a running sum, a monotonic deque for min/max and
 * per-value counts for distinctCount. Plain JSON (numbers, strings, booleans, one string-keyed object), bounded by
 * the window because every update evicts on the fly, so it goes into checkpoints as it is.
 */
export interface AggregateState {
  readonly kind: 'aggregate';
  /** The function the auxiliary structures serve (a compatible new rule version may change it: they are rebuilt). */
  fn: AggregateFunction;
  /** Event times, ascending, from index `h` on. */
  t: number[];
  /** The aggregated value of each event (null for count). */
  v: WindowValue[];
  /** Event ids, for alerts. */
  ids: string[];
  /** Index of the first event still in the window; the arrays are compacted lazily. */
  h: number;
  /** The latest event time seen; the window is (latest - window, latest]. */
  latest: number;
  /** True while the comparison holds: an alert fires when it becomes true, and again only after it was false. */
  firing: boolean;
  /** sum/avg: running sum of the live values and its Neumaier compensation. */
  sum: number;
  comp: number;
  /** min/max: indexes of the live values that can still become the extreme, values monotonic (empty otherwise). */
  q: number[];
  /**
   * distinctCount: live events per value (keys typed: `s:` string, `n:` number, `b:` boolean, `z` null); null for
   * other functions, to keep the many small per-key states small.
   */
  d: Record<string, number> | null;
  /** distinctCount: number of keys in `d`. */
  dn: number;
}

/** A fresh, empty aggregate state for `fn`. */
export function createAggregateState(fn: AggregateFunction): AggregateState {
  return {
    kind: 'aggregate',
    fn,
    t: [],
    v: [],
    ids: [],
    h: 0,
    latest: -Infinity,
    firing: false,
    sum: 0,
    comp: 0,
    q: [],
    d: fn === 'distinctCount' ? {} : null,
    dn: 0,
  };
}

/** Events currently in the window. */
export function windowSize(state: AggregateState): number {
  return state.t.length - state.h;
}

function distinctKey(v: WindowValue): string {
  return v === null ? 'z' : typeof v === 'string' ? `s:${v}` : typeof v === 'number' ? `n:${v}` : `b:${v}`;
}

// Neumaier's compensated summation keeps a long-lived running sum (adds and evictions) within an ulp or so.
function addToSum(state: AggregateState, x: number): void {
  const s = state.sum + x;
  state.comp += Math.abs(state.sum) >= Math.abs(x) ? state.sum - s + x : x - s + state.sum;
  state.sum = s;
}

function include(state: AggregateState, i: number): void {
  const x = state.v[i];
  switch (state.fn) {
    case 'sum':
    case 'avg':
      addToSum(state, x as number);
      break;
    case 'min':
    case 'max': {
      const q = state.q;
      const max = state.fn === 'max';
      while (
        q.length > 0 &&
        (max
          ? (state.v[q[q.length - 1]] as number) <= (x as number)
          : (state.v[q[q.length - 1]] as number) >= (x as number))
      ) {
        q.pop();
      }
      q.push(i);
      break;
    }
    case 'distinctCount': {
      const d = (state.d ??= {});
      const k = distinctKey(x);
      const n = d[k];
      if (n === undefined) {
        d[k] = 1;
        state.dn++;
      } else {
        d[k] = n + 1;
      }
      break;
    }
    case 'count':
      break;
  }
}

function exclude(state: AggregateState, i: number): void {
  switch (state.fn) {
    case 'sum':
    case 'avg':
      addToSum(state, -(state.v[i] as number));
      break;
    case 'min':
    case 'max':
      if (state.q.length > 0 && state.q[0] === i) state.q.shift();
      break;
    case 'distinctCount': {
      const d = state.d as Record<string, number>;
      const k = distinctKey(state.v[i]);
      const n = d[k] - 1;
      if (n === 0) {
        delete d[k];
        state.dn--;
      } else {
        d[k] = n;
      }
      break;
    }
    case 'count':
      break;
  }
}

/** Recomputes the auxiliary structures from the live events (after an out-of-order insert or a change of function). */
export function rebuildAggregate(state: AggregateState, fn: AggregateFunction = state.fn): void {
  compact(state, true);
  state.fn = fn;
  state.sum = 0;
  state.comp = 0;
  state.q = [];
  state.d = fn === 'distinctCount' ? {} : null;
  state.dn = 0;
  for (let i = 0; i < state.t.length; i++) include(state, i);
}

function compact(state: AggregateState, force: boolean): void {
  const h = state.h;
  if (h === 0 || (!force && (h < 64 || h * 2 < state.t.length))) return;
  state.t.splice(0, h);
  state.v.splice(0, h);
  state.ids.splice(0, h);
  for (let j = 0; j < state.q.length; j++) state.q[j] -= h;
  state.h = 0;
}

/**
 * Adds an event to the window and evicts what fell out of it. Returns false for an event too late to be in the window
 * (time <= latest - window), which is dropped. Out-of-order events inside the window are inserted in time order.
 */
export function addToWindow(
  state: AggregateState,
  windowMs: number,
  time: number,
  value: WindowValue,
  id: string,
): boolean {
  if (time > state.latest) {
    state.latest = time;
  } else if (time <= state.latest - windowMs) {
    return false;
  }
  const t = state.t;
  if (t.length === state.h || t[t.length - 1] <= time) {
    t.push(time);
    state.v.push(value);
    state.ids.push(id);
    include(state, t.length - 1);
  } else {
    // Upper bound among live events: equal times keep arrival order.
    let lo = state.h;
    let hi = t.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (t[mid] <= time) lo = mid + 1;
      else hi = mid;
    }
    t.splice(lo, 0, time);
    state.v.splice(lo, 0, value);
    state.ids.splice(lo, 0, id);
    rebuildAggregate(state);
  }
  evictWindow(state, windowMs, state.latest);
  return true;
}

/** Drops the events at or before `now - windowMs`; `now` also moves `latest` forward. Returns how many were dropped. */
export function evictWindow(state: AggregateState, windowMs: number, now: number): number {
  if (now > state.latest) state.latest = now;
  const bound = state.latest - windowMs;
  const t = state.t;
  const from = state.h;
  let h = from;
  while (h < t.length && t[h] <= bound) exclude(state, h++);
  state.h = h;
  if (h === t.length && h > 0) {
    // Empty: reset exactly, so rounding never outlives the events.
    t.length = 0;
    state.v.length = 0;
    state.ids.length = 0;
    state.q.length = 0;
    state.h = 0;
    state.sum = 0;
    state.comp = 0;
  } else {
    compact(state, false);
  }
  return h - from;
}

/**
 * The aggregate over the events in the window. Numeric functions see only finite numbers (others were never stored);
 * `avg`, `min` and `max` of nothing are undefined, `sum` of nothing is 0. `distinctCount` counts distinct values
 * (strings, numbers, booleans and null apart; 0 and -0 together). The state must serve `fn` (see `rebuildAggregate`).
 */
export function aggregateWindow(state: AggregateState, fn: AggregateFunction): number | undefined {
  const n = state.t.length - state.h;
  switch (fn) {
    case 'count':
      return n;
    case 'distinctCount':
      return state.dn;
    case 'sum':
      return n === 0 ? 0 : state.sum + state.comp;
    case 'avg':
      return n === 0 ? undefined : (state.sum + state.comp) / n;
    case 'min':
    case 'max':
      return n === 0 ? undefined : (state.v[state.q[0]] as number);
  }
}

/** The live entries, oldest first: [time, value, id]. */
export function windowEntries(state: AggregateState): { t: number[]; v: WindowValue[]; ids: string[] } {
  return { t: state.t.slice(state.h), v: state.v.slice(state.h), ids: state.ids.slice(state.h) };
}

/** The comparison of an aggregate with its limit; undefined never holds. */
export function compareAggregate(op: AggregateComparison, value: number | undefined, limit: number): boolean {
  if (value === undefined) return false;
  switch (op) {
    case 'greaterThan':
      return value > limit;
    case 'greaterThanInclusive':
      return value >= limit;
    case 'lessThan':
      return value < limit;
    case 'lessThanInclusive':
      return value <= limit;
    case 'equal':
      return value === limit;
    case 'notEqual':
      return value !== limit;
  }
}

/** Whether a field value may enter a window of `fn`: finite numbers for numeric functions, primitives for distinct. */
export function windowValueOf(fn: AggregateFunction, raw: unknown): WindowValue | undefined {
  if (fn === 'count') return null;
  if (fn === 'distinctCount') {
    return raw === null || typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean'
      ? raw
      : undefined;
  }
  return typeof raw === 'number' && Number.isFinite(raw) ? raw : undefined;
}
