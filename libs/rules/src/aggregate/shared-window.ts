import type { ByteReader, ByteWriter } from '@cepheus/common';
import type { AggregateComparison, AggregateFunction } from '../model/rule';
import { compareAggregate, type WindowValue } from './sliding-window';

/*
 * Layout of one rule's running aggregate inside `SharedWindow.d`: STRIDE numbers per slot, slots first, then the
 * events. Flat numbers in one array rather than objects per (rule, key): with 100 rules over 100k keys, per-rule
 * objects and arrays were most of the heap and every event touched ~20 of them cold; each further array of a key is
 * one more cache miss per event (see docs/rules.md, "Aggregate state").
 */
const LATEST = 0; // latest event time seen by the rule (or reached by advanceTime); the window is (latest - w, latest]
const COUNT = 1; // member events still in the window
const SUM = 2; // Neumaier running sum of the members' values (sum/avg) ...
const COMP = 3; // ... and its compensation
const HEAD = 4; // index of the oldest live member (meaningful while COUNT > 0)
const TAIL = 5; // time of the newest live member: an insert before it rebuilds, as a per-rule window did
const FIRING = 6; // 1 while the comparison holds (edge-triggered alerts)
const FN = 7; // the function the auxiliary structures serve (FUNCTIONS index)
const COLUMN = 8; // index of the value column in `cols`, -1 for count
const RULE = 9; // interned rule id (see internName), -1 when the slot is free
const SHAPE = 10; // interned state shape
const STRIDE = 11;

const FUNCTIONS: readonly AggregateFunction[] = ['count', 'sum', 'avg', 'min', 'max', 'distinctCount'];
const F_SUM = 1;
const F_AVG = 2;
const F_MIN = 3;
const F_MAX = 4;
const F_DISTINCT = 5;

/*
 * Rule ids and state shapes as small integers, so that finding a rule's slot compares numbers in the slot's own array
 * rather than strings in arrays of their own. The table only grows with the distinct ids and shapes ever loaded (one
 * per rule and incompatible version), which is bounded by rule churn, not by traffic.
 */
const nameCodes = new Map<string, number>();
const names: string[] = [];

/** The process-wide code of a rule id or state shape. */
export function internName(name: string): number {
  let code = nameCodes.get(name);
  if (code === undefined) {
    code = names.length;
    names.push(name);
    nameCodes.set(name, code);
  }
  return code;
}

/** The code of an aggregate function in a {@link SharedWindow}. */
export function functionCode(fn: AggregateFunction): number {
  return FUNCTIONS.indexOf(fn);
}

/**
 * The aggregate rules' state for one routing key (one grouping and value): every event some rule of the key included
 * is stored once (time, id, and the values of the fields the rules aggregate, one column per field), with a bitset of
 * the rules ("slots") that included it. Each rule's window is the subsequence of its members inside
 * (latest - window, latest]; its running aggregate is a slot record in `d`, its min/max deque or distinct-value counts
 * (only for those functions, and only for larger windows) in `aux`. Events are in time order; those no live rule needs
 * any more are dropped in batches.
 */
export interface SharedWindow {
  readonly kind: 'aggregates';
  /**
   * `slots` slot records of STRIDE numbers, then `n` event records of `1 + words` numbers: the event time, then
   * `words` 32-bit membership words (bit `slot` set when that slot's rule included the event).
   */
  d: number[];
  slots: number;
  n: number;
  words: number;
  /** Event ids, parallel to the event records. */
  ids: string[];
  /** The field each value column holds, and the columns (parallel to the events; 0 where no rule of the field took it). */
  fields: string[];
  cols: WindowValue[][];
  /**
   * Per slot, only for min/max (deque of member indexes) and distinctCount (live members per value), and only from
   * AUX_FROM members on: below that the aggregate is a scan of the members, cheaper than keeping the structure.
   */
  aux: (number[] | Map<WindowValue, number> | undefined)[];
  /** Slots in use. */
  used: number;
  /**
   * From INDEX_FROM slots on, an open-addressing table of the live slots by rule code (slot + 1, 0 when empty), built
   * on the first lookup after a change that invalidates it; not part of the snapshot.
   */
  index: Int32Array | undefined;
  /** Event count at which dropping dead events is next considered. */
  compactAt: number;
}

const COMPACT_MIN = 64;
const AUX_FROM = 8;
/*
 * Below this many slots a lookup scans the slot records; above it the scan (one cache line or two per record) cost
 * more than the index: with 1,000 rules a merchant's key has ~250 slots, and each rule's lookup scanned half of them.
 */
const INDEX_FROM = 8;

export function createSharedWindow(): SharedWindow {
  return {
    kind: 'aggregates',
    d: [],
    slots: 0,
    n: 0,
    words: 1,
    ids: [],
    fields: [],
    cols: [],
    aux: [],
    used: 0,
    index: undefined,
    compactAt: COMPACT_MIN,
  };
}

/** Offset in `d` of event `i`'s record. */
const at = (w: SharedWindow, i: number): number => w.slots * STRIDE + i * (1 + w.words);
/** Time of event `i`. */
const timeOf = (w: SharedWindow, i: number): number => w.d[w.slots * STRIDE + i * (1 + w.words)];
const isMember = (w: SharedWindow, i: number, s: number): boolean =>
  (w.d[w.slots * STRIDE + i * (1 + w.words) + 1 + (s >>> 5)] & (1 << (s & 31))) !== 0;

/** The slot of a rule (by its {@link internName} code), trying `hint` first; -1 when the rule has none. */
export function findSlot(w: SharedWindow, rule: number, hint: number): number {
  const d = w.d;
  if (hint < w.slots && d[hint * STRIDE + RULE] === rule) return hint;
  if (w.slots >= INDEX_FROM) {
    const index = w.index ?? buildIndex(w);
    const mask = index.length - 1;
    for (let h = hashCode(rule) & mask; ; h = (h + 1) & mask) {
      const e = index[h];
      if (e === 0) return -1;
      if (d[(e - 1) * STRIDE + RULE] === rule) return e - 1;
    }
  }
  const end = w.slots * STRIDE;
  for (let k = RULE; k < end; k += STRIDE) if (d[k] === rule) return (k - RULE) / STRIDE;
  return -1;
}

// Codes are consecutive (a rule's id and shape interleaved): mix them so that they spread over the table.
function hashCode(code: number): number {
  const h = Math.imul(code, 0x9e3779b1);
  return h ^ (h >>> 15);
}

function buildIndex(w: SharedWindow): Int32Array {
  let size = 16;
  while (size < w.used * 2) size *= 2;
  const index = new Int32Array(size);
  for (let s = 0; s < w.slots; s++) if (w.d[s * STRIDE + RULE] >= 0) indexSlot(index, w.d[s * STRIDE + RULE], s);
  w.index = index;
  return index;
}

function indexSlot(index: Int32Array, rule: number, s: number): void {
  const mask = index.length - 1;
  let h = hashCode(rule) & mask;
  while (index[h] !== 0) h = (h + 1) & mask;
  index[h] = s + 1;
}

/** Slots, free or not: valid slot indexes are below this. */
export const slotCount = (w: SharedWindow): number => w.slots;
/** The rule id of a slot, undefined when free. */
export const slotRule = (w: SharedWindow, s: number): string | undefined =>
  w.d[s * STRIDE + RULE] < 0 ? undefined : names[w.d[s * STRIDE + RULE]];
/** The state shape of a slot's rule, as an {@link internName} code. */
export const slotShape = (w: SharedWindow, s: number): number => w.d[s * STRIDE + SHAPE];

export const slotLatest = (w: SharedWindow, s: number): number => w.d[s * STRIDE + LATEST];
export const slotSize = (w: SharedWindow, s: number): number => w.d[s * STRIDE + COUNT];
export const slotFiring = (w: SharedWindow, s: number): boolean => w.d[s * STRIDE + FIRING] === 1;
export const slotFunction = (w: SharedWindow, s: number): AggregateFunction => FUNCTIONS[w.d[s * STRIDE + FN]];
/** The {@link functionCode} of the function a slot serves. */
export const slotFunctionCode = (w: SharedWindow, s: number): number => w.d[s * STRIDE + FN];
/** Time of the slot's oldest live member (only when it has one). */
export const slotOldest = (w: SharedWindow, s: number): number => timeOf(w, w.d[s * STRIDE + HEAD]);

export function setFiring(w: SharedWindow, s: number, firing: boolean): void {
  w.d[s * STRIDE + FIRING] = firing ? 1 : 0;
}

function columnOf(w: SharedWindow, field: string): number {
  const i = w.fields.indexOf(field);
  if (i >= 0) return i;
  w.fields.push(field);
  w.cols.push(zeros(w.n));
  return w.fields.length - 1;
}

/*
 * Arrays are built packed (never `new Array(n)`, which is holey): every key's `d` then has the same elements kind, so
 * the element loads of this module stay monomorphic across keys.
 */
const FRESH_SLOT: readonly number[] = [-Infinity, 0, 0, 0, 0, -Infinity, 0, 0, -1, -1, -1];

function zeros(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(0);
  return out;
}

/**
 * A fresh slot for a rule: empty window, latest -Infinity, not firing. `field` is the aggregated field (undefined for
 * count).
 */
export function allocateSlot(
  w: SharedWindow,
  rule: number,
  shape: number,
  fn: AggregateFunction,
  field: string | undefined,
): number {
  let s = -1;
  if (w.used < w.slots) {
    for (let k = RULE; k < w.slots * STRIDE; k += STRIDE) {
      if (w.d[k] < 0) {
        s = (k - RULE) / STRIDE;
        break;
      }
    }
  }
  if (s < 0) {
    s = w.slots;
    if (s >= w.words * 32) widen(w);
    // Slot records come before the events: a new one moves them up, in place. Once per rule and key, but most keys
    // are small and see a new rule at most of their events; a splice copied the whole array each time (with a spread
    // argument list), a third of the benchmark's allocation.
    const d = w.d;
    const end = d.length;
    for (let k = 0; k < STRIDE; k++) d.push(FRESH_SLOT[k]);
    for (let k = end - 1; k >= s * STRIDE; k--) d[k + STRIDE] = d[k];
    w.slots++;
  }
  const d = w.d;
  const b = s * STRIDE;
  d[b + RULE] = rule;
  d[b + SHAPE] = shape;
  d[b + LATEST] = -Infinity;
  d[b + COUNT] = 0;
  d[b + SUM] = 0;
  d[b + COMP] = 0;
  d[b + HEAD] = 0;
  d[b + TAIL] = -Infinity;
  d[b + FIRING] = 0;
  d[b + FN] = functionCode(fn);
  d[b + COLUMN] = field === undefined || fn === 'count' ? -1 : columnOf(w, field);
  setAux(w, s, undefined);
  w.used++;
  if (w.index !== undefined) {
    if (w.used * 2 > w.index.length) w.index = undefined;
    else indexSlot(w.index, rule, s);
  }
  return s;
}

function setAux(w: SharedWindow, s: number, aux: number[] | Map<WindowValue, number> | undefined): void {
  if (s < w.aux.length) w.aux[s] = aux;
  else if (aux !== undefined) {
    while (w.aux.length < s) w.aux.push(undefined);
    w.aux.push(aux);
  }
}

/** Builds a slot's deque or distinct counts from its live members (AUX_FROM members reached, or a rebuild). */
function buildAux(w: SharedWindow, s: number): void {
  const b = s * STRIDE;
  const code = w.d[b + FN];
  const v = w.cols[w.d[b + COLUMN]];
  if (code === F_MIN || code === F_MAX) {
    const q: number[] = [];
    for (let i = w.d[b + HEAD]; i < w.n; i++) {
      if (!isMember(w, i, s)) continue;
      const x = v[i] as number;
      if (code === F_MAX) while (q.length > 0 && (v[q[q.length - 1]] as number) <= x) q.pop();
      else while (q.length > 0 && (v[q[q.length - 1]] as number) >= x) q.pop();
      q.push(i);
    }
    setAux(w, s, q);
  } else {
    const m = new Map<WindowValue, number>();
    for (let i = w.d[b + HEAD]; i < w.n; i++) if (isMember(w, i, s)) m.set(v[i], (m.get(v[i]) ?? 0) + 1);
    setAux(w, s, m);
  }
}

/** One more membership word per event (more than 32 slots per word in use). */
function widen(w: SharedWindow): void {
  const old = 1 + w.words;
  const base = w.slots * STRIDE;
  const d = w.d.slice(0, base);
  for (let i = 0; i < w.n; i++) {
    for (let k = 0; k < old; k++) d.push(w.d[base + i * old + k]);
    d.push(0);
  }
  w.d = d;
  w.words++;
}

/** Releases a slot (deleted rule, changed shape, or empty and quiet window): its members lose their bit. */
export function freeSlot(w: SharedWindow, s: number): void {
  const d = w.d;
  const b = s * STRIDE;
  const bit = 1 << (s & 31);
  const es = 1 + w.words;
  if (d[b + COUNT] > 0) {
    for (let k = at(w, d[b + HEAD]) + 1 + (s >>> 5); k < d.length; k += es) d[k] &= ~bit;
  }
  d[b + RULE] = -1;
  d[b + COUNT] = 0;
  setAux(w, s, undefined);
  w.used--;
  // Open addressing cannot just clear an entry (later ones of the same probe run would be lost): rebuilt when next used.
  w.index = undefined;
}

/**
 * Moves the slot's `latest` to `time` when later. Returns false when the event is too late for the slot's window
 * (time <= latest - window): it does not enter.
 */
export function admit(w: SharedWindow, s: number, windowMs: number, time: number): boolean {
  const k = s * STRIDE + LATEST;
  const latest = w.d[k];
  if (time > latest) {
    w.d[k] = time;
    return true;
  }
  return time > latest - windowMs;
}

/**
 * Stores an event (no members yet) at its place in time order, after events of equal time, and returns its index.
 * Indexes at or after it move up by one.
 */
export function insertEvent(w: SharedWindow, time: number, id: string): number {
  const d = w.d;
  const n = w.n;
  const words = w.words;
  const es = 1 + words;
  const base = w.slots * STRIDE;
  w.n = n + 1;
  if (n === 0 || d[base + (n - 1) * es] <= time) {
    d.push(time);
    for (let k = 0; k < words; k++) d.push(0);
    w.ids.push(id);
    for (let c = 0; c < w.cols.length; c++) w.cols[c].push(0);
    return n;
  }
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (d[base + mid * es] <= time) lo = mid + 1;
    else hi = mid;
  }
  d.splice(base + lo * es, 0, time, ...zeros(words));
  w.ids.splice(lo, 0, id);
  for (let c = 0; c < w.cols.length; c++) w.cols[c].splice(lo, 0, 0);
  for (let s = 0, b = 0; s < w.slots; s++, b += STRIDE) {
    if (d[b + RULE] < 0) continue;
    if (d[b + COUNT] > 0 && d[b + HEAD] >= lo) d[b + HEAD]++;
    const q = w.aux[s];
    if (Array.isArray(q)) for (let j = 0; j < q.length; j++) if (q[j] >= lo) q[j]++;
  }
  return lo;
}

// Neumaier's compensated summation keeps a long-lived running sum (adds and evictions) within an ulp or so; the same
// arithmetic in the same order as the per-rule windows, so sums are bit-identical.
function addToSum(d: number[], b: number, x: number): void {
  const sum = d[b + SUM];
  const s = sum + x;
  d[b + COMP] += Math.abs(sum) >= Math.abs(x) ? sum - s + x : x - s + sum;
  d[b + SUM] = s;
}

function include(w: SharedWindow, s: number, i: number): void {
  const b = s * STRIDE;
  const d = w.d;
  const code = d[b + FN];
  if (code === 0) return;
  if (code === F_SUM || code === F_AVG) {
    addToSum(d, b, w.cols[d[b + COLUMN]][i] as number);
    return;
  }
  const aux = s < w.aux.length ? w.aux[s] : undefined;
  if (aux === undefined) {
    if (d[b + COUNT] >= AUX_FROM) buildAux(w, s);
    return;
  }
  const v = w.cols[d[b + COLUMN]];
  const x = v[i];
  if (code === F_DISTINCT) {
    const m = aux as Map<WindowValue, number>;
    m.set(x, (m.get(x) ?? 0) + 1);
    return;
  }
  const q = aux as number[];
  if (code === F_MAX) while (q.length > 0 && (v[q[q.length - 1]] as number) <= (x as number)) q.pop();
  else while (q.length > 0 && (v[q[q.length - 1]] as number) >= (x as number)) q.pop();
  q.push(i);
}

function exclude(w: SharedWindow, s: number, i: number): void {
  const b = s * STRIDE;
  const d = w.d;
  const code = d[b + FN];
  if (code === 0) return;
  if (code === F_SUM || code === F_AVG) {
    addToSum(d, b, -(w.cols[d[b + COLUMN]][i] as number));
    return;
  }
  const aux = s < w.aux.length ? w.aux[s] : undefined;
  if (aux === undefined) return;
  if (code === F_DISTINCT) {
    const m = aux as Map<WindowValue, number>;
    const x = w.cols[d[b + COLUMN]][i];
    const n = (m.get(x) as number) - 1;
    if (n === 0) m.delete(x);
    else m.set(x, n);
    return;
  }
  const q = aux as number[];
  if (q.length > 0 && q[0] === i) q.shift();
}

/**
 * Recomputes a slot's sum, deque or distinct counts from its live members, for `fn` (after an out-of-order insert, a
 * compatible change of function, or a restore).
 */
export function rebuildSlot(w: SharedWindow, s: number, fn: AggregateFunction): void {
  const b = s * STRIDE;
  const d = w.d;
  const code = functionCode(fn);
  d[b + FN] = code;
  d[b + SUM] = 0;
  d[b + COMP] = 0;
  setAux(w, s, undefined);
  if (d[b + COUNT] === 0) return;
  if (code === F_SUM || code === F_AVG) {
    for (let i = d[b + HEAD]; i < w.n; i++) if (isMember(w, i, s)) include(w, s, i);
  } else if (code !== 0 && d[b + COUNT] >= AUX_FROM) {
    buildAux(w, s);
  }
}

/** Makes the event at index `i` (already inserted) a member of slot `s` with `value` (ignored for count). */
export function addMember(w: SharedWindow, s: number, i: number, value: WindowValue): void {
  const b = s * STRIDE;
  const d = w.d;
  const col = d[b + COLUMN];
  if (col >= 0) w.cols[col][i] = value;
  const e = at(w, i);
  d[e + 1 + (s >>> 5)] |= 1 << (s & 31);
  const time = d[e];
  const count = d[b + COUNT];
  d[b + COUNT] = count + 1;
  if (count === 0 || i < d[b + HEAD]) d[b + HEAD] = i;
  if (count === 0 || d[b + TAIL] <= time) {
    d[b + TAIL] = time;
    include(w, s, i);
  } else {
    rebuildSlot(w, s, FUNCTIONS[d[b + FN]]);
  }
}

/**
 * Drops the slot's members at or before `now - windowMs` (`now` also moves `latest` forward). Returns how many left.
 */
export function evictSlot(w: SharedWindow, s: number, windowMs: number, now: number): number {
  const b = s * STRIDE;
  const d = w.d;
  if (now > d[b + LATEST]) d[b + LATEST] = now;
  let count = d[b + COUNT];
  if (count === 0) return 0;
  const bound = d[b + LATEST] - windowMs;
  const es = 1 + w.words;
  const word = 1 + (s >>> 5);
  const bit = 1 << (s & 31);
  let i = d[b + HEAD];
  let e = at(w, i);
  let dropped = 0;
  while (count > 0 && i < w.n && d[e] <= bound) {
    if ((d[e + word] & bit) !== 0) {
      exclude(w, s, i);
      d[e + word] &= ~bit;
      count--;
      dropped++;
    }
    i++;
    e += es;
  }
  if (dropped === 0) return 0;
  d[b + COUNT] = count;
  if (count === 0) {
    // Empty: reset exactly, so rounding never outlives the events.
    d[b + SUM] = 0;
    d[b + COMP] = 0;
    d[b + TAIL] = -Infinity;
    setAux(w, s, undefined);
    return dropped;
  }
  while ((d[e + word] & bit) === 0) {
    i++;
    e += es;
  }
  d[b + HEAD] = i;
  return dropped;
}

/**
 * The slot's aggregate (see `aggregateWindow` of the per-rule window for the definitions: undefined for avg/min/max of
 * nothing). The slot must serve `fn`.
 */
export function slotAggregate(w: SharedWindow, s: number, fn: AggregateFunction): number | undefined {
  const b = s * STRIDE;
  const d = w.d;
  const n = d[b + COUNT];
  switch (fn) {
    case 'count':
      return n;
    case 'sum':
      return n === 0 ? 0 : d[b + SUM] + d[b + COMP];
    case 'avg':
      return n === 0 ? undefined : (d[b + SUM] + d[b + COMP]) / n;
    default:
      return scannedAggregate(w, s, fn, n);
  }
}

/**
 * Whether `slotAggregate(w, s, fn) <operator> limit` holds, without the aggregate itself: a sum or average held as a
 * `number | undefined` is a boxed heap number, one per comparison, and the comparison runs for every event a rule
 * takes, where the value is needed only for the rare alert.
 */
export function slotHolds(
  w: SharedWindow,
  s: number,
  fn: AggregateFunction,
  operator: AggregateComparison,
  limit: number,
): boolean {
  const b = s * STRIDE;
  const d = w.d;
  const n = d[b + COUNT];
  switch (fn) {
    case 'count':
      return compareAggregate(operator, n, limit);
    case 'sum':
      return compareAggregate(operator, n === 0 ? 0 : d[b + SUM] + d[b + COMP], limit);
    case 'avg':
      return n !== 0 && compareAggregate(operator, (d[b + SUM] + d[b + COMP]) / n, limit);
    default:
      return compareAggregate(operator, scannedAggregate(w, s, fn, n), limit);
  }
}

/** min, max and distinctCount: a scan of the members, or the kept deque or counts. */
function scannedAggregate(w: SharedWindow, s: number, fn: AggregateFunction, n: number): number | undefined {
  const b = s * STRIDE;
  const d = w.d;
  const aux = s < w.aux.length ? w.aux[s] : undefined;
  const v = w.cols[d[b + COLUMN]];
  if (fn === 'distinctCount') {
    if (aux !== undefined) return (aux as Map<WindowValue, number>).size;
    // No counts kept (fewer than AUX_FROM members): a member counts when no earlier member has its value. Quadratic in
    // a handful of members, and nothing allocated per call.
    let distinct = 0;
    for (let i = d[b + HEAD], left = n; left > 0; i++) {
      if (!isMember(w, i, s)) continue;
      left--;
      const x = v[i];
      let earlier = false;
      for (let j = d[b + HEAD]; j < i; j++) {
        if (isMember(w, j, s) && sameValueZero(v[j], x)) {
          earlier = true;
          break;
        }
      }
      if (!earlier) distinct++;
    }
    return distinct;
  }
  if (n === 0) return undefined;
  if (aux !== undefined) return v[(aux as number[])[0]] as number;
  // The deque keeps the latest of equal extremes (it pops on ties): so does the scan, which tells 0 from -0 alike.
  let best: number | undefined;
  for (let i = d[b + HEAD], left = n; left > 0; i++) {
    if (!isMember(w, i, s)) continue;
    left--;
    const x = v[i] as number;
    if (best === undefined || (fn === 'max' ? x >= best : x <= best)) best = x;
  }
  return best;
}

/** Equality as Map keys see it: 0 and -0 together, NaN equal to itself. */
function sameValueZero(a: WindowValue, b: WindowValue): boolean {
  return a === b || (a !== a && b !== b);
}

/** The slot's live members, oldest first (value null for count). */
export function slotMembers(
  w: SharedWindow,
  s: number,
): { t: number[]; v: WindowValue[]; ids: string[]; at: number[] } {
  const b = s * STRIDE;
  const col = w.d[b + COLUMN];
  const out = { t: [] as number[], v: [] as WindowValue[], ids: [] as string[], at: [] as number[] };
  if (w.d[b + COUNT] === 0) return out;
  for (let i = w.d[b + HEAD]; i < w.n; i++) {
    if (!isMember(w, i, s)) continue;
    out.t.push(timeOf(w, i));
    out.v.push(col < 0 ? null : w.cols[col][i]);
    out.ids.push(w.ids[i]);
    out.at.push(i);
  }
  return out;
}

/**
 * Drops the events no slot needs any more (before every live slot's oldest member) once enough have accumulated, or
 * all of them when no slot has a live member. `force` considers it now.
 */
export function compactWindow(w: SharedWindow, force: boolean): void {
  const n = w.n;
  if (!force && n < w.compactAt) return;
  const d = w.d;
  const base = w.slots * STRIDE;
  let from = n;
  for (let b = 0; b < base; b += STRIDE) {
    if (d[b + RULE] >= 0 && d[b + COUNT] > 0 && d[b + HEAD] < from) from = d[b + HEAD];
  }
  if (from === n || from * 2 >= n || (force && from > 0)) {
    d.splice(base, from * (1 + w.words));
    w.ids.splice(0, from);
    for (const c of w.cols) c.splice(0, from);
    w.n = n - from;
    for (let s = 0, b = 0; b < base; s++, b += STRIDE) {
      if (d[b + RULE] < 0) continue;
      if (d[b + COUNT] > 0) d[b + HEAD] -= from;
      const q = w.aux[s];
      if (Array.isArray(q)) for (let j = 0; j < q.length; j++) q[j] -= from;
    }
  }
  w.compactAt = Math.max(COMPACT_MIN, w.n * 2);
}

/** JSON-safe form of a shared window: live slots in slot order, with their members as event indexes. */
export interface SharedWindowSnapshot {
  t: number[];
  ids: string[];
  fields: string[];
  cols: WindowValue[][];
  /** Tuples since key-state format 3 (half the bytes of objects, and quicker to write); objects in format 2. */
  slots: (SlotSnapshot | SlotSnapshotV2)[];
}

/** One rule's slot: rule, state shape, function, latest firing check time, firing (1/0), sum, compensation, members. */
export type SlotSnapshot = [
  rule: string,
  shape: string,
  fn: AggregateFunction,
  latest: number | null,
  firing: 0 | 1,
  sum: number,
  comp: number,
  members: number[],
];

/** A slot as key-state format 2 wrote it; still read. */
export interface SlotSnapshotV2 {
  rule: string;
  shape: string;
  fn: AggregateFunction;
  latest: number | null;
  firing: boolean;
  sum: number;
  comp: number;
  members: number[];
}

function slotFromSnapshot(slot: SlotSnapshot | SlotSnapshotV2): SlotSnapshotV2 {
  if (!Array.isArray(slot)) return slot;
  const [rule, shape, fn, latest, firing, sum, comp, members] = slot;
  return { rule, shape, fn, latest, firing: firing === 1, sum, comp, members };
}

export function snapshotSharedWindow(w: SharedWindow): SharedWindowSnapshot {
  const live: { s: number; members: number[] }[] = [];
  const needed = new Set<number>();
  for (let s = 0; s < w.slots; s++) {
    if (w.d[s * STRIDE + RULE] < 0) continue;
    const members = slotMembers(w, s).at;
    for (const i of members) needed.add(i);
    live.push({ s, members });
  }
  // Only the events some slot holds, renumbered: evicted events awaiting compaction are not checkpointed.
  const order = [...needed].sort((a, b) => a - b);
  const renumbered = new Map<number, number>();
  order.forEach((i, j) => renumbered.set(i, j));
  const d = w.d;
  const slots = live.map(({ s, members }): SlotSnapshot => {
    const b = s * STRIDE;
    const latest = d[b + LATEST];
    return [
      names[d[b + RULE]],
      names[d[b + SHAPE]],
      FUNCTIONS[d[b + FN]],
      Number.isFinite(latest) ? latest : null,
      d[b + FIRING] === 1 ? 1 : 0,
      d[b + SUM],
      d[b + COMP],
      members.map((i) => renumbered.get(i) as number),
    ];
  });
  return {
    t: order.map((i) => timeOf(w, i)),
    ids: order.map((i) => w.ids[i]),
    fields: [...w.fields],
    cols: w.cols.map((c) => order.map((i) => c[i])),
    slots,
  };
}

/**
 * Rebuilds a shared window from {@link snapshotSharedWindow}, keeping only the slots `keep` accepts (known rule,
 * same shape), and only the events those slots hold. Sums are restored as saved (not recomputed) so that they stay
 * bit-identical to an uninterrupted run.
 */
export function restoreSharedWindow(
  data: SharedWindowSnapshot,
  keep: (rule: string, shape: string) => { field: string | undefined } | undefined,
): SharedWindow {
  const w = createSharedWindow();
  const kept = data.slots
    .map(slotFromSnapshot)
    .map((slot) => ({ slot, spec: keep(slot.rule, slot.shape) }))
    .filter((x) => x.spec !== undefined);
  // Slots first (allocating one moves the events), then the events, then memberships.
  const slotOf = kept.map(({ slot, spec }) =>
    allocateSlot(w, internName(slot.rule), internName(slot.shape), slot.fn, spec?.field),
  );
  const needed = new Set<number>();
  for (const { slot } of kept) for (const i of slot.members) needed.add(i);
  const order = [...needed].sort((a, b) => a - b);
  const indexOf = new Map<number, number>();
  for (const i of order) indexOf.set(i, insertEvent(w, data.t[i], data.ids[i]));
  kept.forEach(({ slot }, k) => {
    const s = slotOf[k];
    const b = s * STRIDE;
    const d = w.d;
    const col = d[b + COLUMN];
    const source = col < 0 ? undefined : data.cols[data.fields.indexOf(w.fields[col])];
    for (const i of slot.members) {
      const j = indexOf.get(i) as number;
      if (col >= 0) w.cols[col][j] = (source as WindowValue[])[i];
      d[at(w, j) + 1 + (s >>> 5)] |= 1 << (s & 31);
      const count = d[b + COUNT];
      if (count === 0 || j < d[b + HEAD]) d[b + HEAD] = j;
      d[b + COUNT] = count + 1;
      if (timeOf(w, j) > d[b + TAIL]) d[b + TAIL] = timeOf(w, j);
    }
    rebuildSlot(w, s, slot.fn);
    d[b + SUM] = slot.sum;
    d[b + COMP] = slot.comp;
    d[b + LATEST] = slot.latest ?? -Infinity;
    d[b + FIRING] = slot.firing ? 1 : 0;
  });
  return w;
}

/*
 * Binary form (key-state format 4): the content of `snapshotSharedWindow`, written straight from the slot records. A
 * rule id or shape is written in full at its first use in a window and as its index after that (a key's slots mostly
 * share a shape); the table is per window, so each key's bytes stand alone.
 */
let tableEpoch = new Int32Array(0);
let tableIndex = new Int32Array(0);
let epoch = 0;

const V_NULL = 0;
const V_NUMBER = 1;
const V_STRING = 2;
const V_TRUE = 3;
const V_FALSE = 4;

function writeName(out: ByteWriter, code: number, next: number): number {
  if (code >= tableEpoch.length) {
    const size = Math.max(64, names.length * 2);
    const grownEpoch = new Int32Array(size);
    grownEpoch.set(tableEpoch);
    const grownIndex = new Int32Array(size);
    grownIndex.set(tableIndex);
    tableEpoch = grownEpoch;
    tableIndex = grownIndex;
  }
  if (tableEpoch[code] === epoch) {
    out.varuint(tableIndex[code] + 1);
    return next;
  }
  tableEpoch[code] = epoch;
  tableIndex[code] = next;
  out.varuint(0);
  out.str(names[code]);
  return next + 1;
}

function readName(r: ByteReader, table: string[]): string {
  const ref = r.varuint();
  if (ref === 0) {
    const name = r.str();
    table.push(name);
    return name;
  }
  if (ref > table.length) throw new RangeError(`name reference ${ref} before its definition`);
  return table[ref - 1];
}

/** A number as the JSON form would restore it: the sign of a zero is lost there, so it is here too. */
const plain = (x: number): number => (x === 0 ? 0 : x);

function writeValue(out: ByteWriter, v: WindowValue): void {
  if (typeof v === 'number') {
    out.u8(V_NUMBER);
    out.f64(plain(v));
  } else if (typeof v === 'string') {
    out.u8(V_STRING);
    out.str(v);
  } else if (v === null) {
    out.u8(V_NULL);
  } else {
    out.u8(v ? V_TRUE : V_FALSE);
  }
}

function readValue(r: ByteReader): WindowValue {
  const tag = r.u8();
  switch (tag) {
    case V_NUMBER:
      return r.f64();
    case V_STRING:
      return r.str();
    case V_NULL:
      return null;
    case V_TRUE:
      return true;
    case V_FALSE:
      return false;
    default:
      throw new RangeError(`unknown value tag ${tag}`);
  }
}

/** Writes what {@link snapshotSharedWindow} holds, in binary; {@link readSharedWindow} reads it back. */
export function writeSharedWindow(w: SharedWindow, out: ByteWriter): void {
  if (epoch === 0x7fffffff) {
    // Stamps of the previous round must not pass for this window's.
    tableEpoch.fill(0);
    epoch = 0;
  }
  epoch++;
  const d = w.d;
  const words = w.words;
  const es = 1 + words;
  const base = w.slots * STRIDE;
  // Events no live slot holds (evicted, awaiting compaction) are left out and the rest renumbered, as in the JSON form:
  // `renumber` (only once such an event is found) maps each event to its new index, -1 when left out.
  let needed = 0;
  let renumber: Int32Array | undefined;
  for (let i = 0; i < w.n; i++) {
    let bits = 0;
    for (let k = 1; k <= words; k++) bits |= d[base + i * es + k];
    if (bits !== 0) {
      if (renumber !== undefined) renumber[i] = needed;
      needed++;
    } else {
      if (renumber === undefined) {
        renumber = new Int32Array(w.n);
        for (let j = 0; j < i; j++) renumber[j] = j;
      }
      renumber[i] = -1;
    }
  }
  out.varuint(needed);
  for (let i = 0; i < w.n; i++) {
    if (renumber !== undefined && renumber[i] < 0) continue;
    out.f64(d[base + i * es]);
    out.str(w.ids[i]);
  }
  out.varuint(w.fields.length);
  for (let f = 0; f < w.fields.length; f++) {
    out.str(w.fields[f]);
    const col = w.cols[f];
    for (let i = 0; i < w.n; i++) if (renumber === undefined || renumber[i] >= 0) writeValue(out, col[i]);
  }
  out.varuint(w.used);
  let next = 0;
  for (let s = 0, b = 0; s < w.slots; s++, b += STRIDE) {
    if (d[b + RULE] < 0) continue;
    next = writeName(out, d[b + RULE] | 0, next);
    next = writeName(out, d[b + SHAPE] | 0, next);
    out.u8(d[b + FN]);
    out.f64(d[b + LATEST]);
    out.u8(d[b + FIRING] === 1 ? 1 : 0);
    out.f64(plain(d[b + SUM]));
    out.f64(plain(d[b + COMP]));
    const word = 1 + (s >>> 5);
    const bit = 1 << (s & 31);
    const from = d[b + COUNT] > 0 ? d[b + HEAD] : w.n;
    out.varuint(d[b + COUNT]);
    // Members ascending, each as the gap from the previous one (small numbers, one byte each).
    let previous = 0;
    for (let i = from; i < w.n; i++) {
      if ((d[base + i * es + word] & bit) === 0) continue;
      const j = renumber === undefined ? i : renumber[i];
      out.varuint(j - previous);
      previous = j;
    }
  }
}

/** Reads {@link writeSharedWindow}'s bytes as the snapshot `restoreSharedWindow` takes. */
export function readSharedWindow(r: ByteReader): SharedWindowSnapshot {
  const n = r.varuint();
  const t: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    t.push(r.f64());
    ids.push(r.str());
  }
  const fields: string[] = [];
  const cols: WindowValue[][] = [];
  const fieldCount = r.varuint();
  for (let f = 0; f < fieldCount; f++) {
    fields.push(r.str());
    const col: WindowValue[] = [];
    for (let i = 0; i < n; i++) col.push(readValue(r));
    cols.push(col);
  }
  const table: string[] = [];
  const slots: SlotSnapshot[] = [];
  const slotCount = r.varuint();
  for (let s = 0; s < slotCount; s++) {
    const rule = readName(r, table);
    const shape = readName(r, table);
    const fn = FUNCTIONS[r.u8()];
    if (fn === undefined) throw new RangeError('unknown aggregate function code');
    const latest = r.f64();
    const firing = r.u8() === 1 ? 1 : 0;
    const sum = r.f64();
    const comp = r.f64();
    const members: number[] = [];
    const count = r.varuint();
    let j = 0;
    for (let m = 0; m < count; m++) {
      j += r.varuint();
      if (j >= n) throw new RangeError(`member ${j} of a window of ${n} events`);
      members.push(j);
    }
    slots.push([rule, shape, fn, Number.isFinite(latest) ? latest : null, firing, sum, comp, members]);
  }
  return { t, ids, fields, cols, slots };
}
