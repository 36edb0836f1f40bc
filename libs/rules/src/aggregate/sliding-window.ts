import type { AggregateComparison, AggregateFunction } from '../model/rule';

/** A value an aggregate keeps per event: a number for sum/avg/min/max, any primitive for distinctCount. */
export type WindowValue = number | string | boolean | null;

/**
 * The state of one aggregate rule for one group key: the events inside the window, as parallel arrays ordered by
 * event time. Plain JSON (numbers, strings, booleans), bounded by the window because every update evicts on the fly,
 * so it goes into checkpoints as it is.
 */
export interface AggregateState {
  readonly kind: 'aggregate';
  /** Event times, ascending. */
  t: number[];
  /** The aggregated value of each event (null for count). */
  v: WindowValue[];
  /** Event ids, for alerts. */
  ids: string[];
  /** The latest event time seen; the window is (latest - window, latest]. */
  latest: number;
  /** True while the comparison holds: an alert fires when it becomes true, and again only after it was false. */
  firing: boolean;
}

/** A fresh, empty aggregate state. */
export function createAggregateState(): AggregateState {
  return { kind: 'aggregate', t: [], v: [], ids: [], latest: -Infinity, firing: false };
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
  if (t.length === 0 || t[t.length - 1] <= time) {
    t.push(time);
    state.v.push(value);
    state.ids.push(id);
  } else {
    // Upper bound: equal times keep arrival order.
    let lo = 0;
    let hi = t.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (t[mid] <= time) lo = mid + 1;
      else hi = mid;
    }
    t.splice(lo, 0, time);
    state.v.splice(lo, 0, value);
    state.ids.splice(lo, 0, id);
  }
  evictWindow(state, windowMs, state.latest);
  return true;
}

/** Drops the events at or before `now - windowMs`; `now` also moves `latest` forward. Returns how many were dropped. */
export function evictWindow(state: AggregateState, windowMs: number, now: number): number {
  if (now > state.latest) state.latest = now;
  const bound = state.latest - windowMs;
  const t = state.t;
  let n = 0;
  while (n < t.length && t[n] <= bound) n++;
  if (n > 0) {
    t.splice(0, n);
    state.v.splice(0, n);
    state.ids.splice(0, n);
  }
  return n;
}

/**
 * The aggregate over the events in the window. Numeric functions see only finite numbers (others were never stored);
 * `avg`, `min` and `max` of nothing are undefined, `sum` of nothing is 0. `distinctCount` counts distinct values
 * (SameValueZero). Linear in the window: windows are per key and bounded, and the scan keeps sums exact.
 */
export function aggregateWindow(state: AggregateState, fn: AggregateFunction): number | undefined {
  const v = state.v;
  switch (fn) {
    case 'count':
      return v.length;
    case 'distinctCount':
      return new Set(v).size;
    case 'sum':
    case 'avg': {
      let s = 0;
      for (let i = 0; i < v.length; i++) s += v[i] as number;
      if (fn === 'sum') return s;
      return v.length === 0 ? undefined : s / v.length;
    }
    case 'min':
    case 'max': {
      if (v.length === 0) return undefined;
      let m = v[0] as number;
      for (let i = 1; i < v.length; i++) {
        const x = v[i] as number;
        if (fn === 'min' ? x < m : x > m) m = x;
      }
      return m;
    }
  }
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
