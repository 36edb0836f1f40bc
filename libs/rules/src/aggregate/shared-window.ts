import type { AggregateFunction } from '../model/rule';
import type { WindowValue } from './sliding-window';

/*
 * Layout of one rule's running aggregate inside `SharedWindow.num`: STRIDE numbers per slot. Flat numbers rather than
 * an object per (rule, key): with 100 rules over 100k keys, per-rule objects and arrays were most of the heap and
 * every event touched ~20 of them cold (see docs/rules.md, "Aggregate state").
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
 * (latest - window, latest]; its running aggregate lives in `num`, its min/max deque or distinct-value counts (only
 * for those functions) in `aux`. Events are in time order; those no live rule needs any more are dropped in batches.
 */
export interface SharedWindow {
  readonly kind: 'aggregates';
  t: number[];
  ids: string[];
  /** Membership: `words` 32-bit words per event, bit `slot` set when the slot's rule included the event. */
  m: number[];
  words: number;
  /** The field each value column holds, and the columns (parallel to `t`; 0 where no rule of the field took it). */
  fields: string[];
  cols: WindowValue[][];
  /** STRIDE numbers per slot (rule, shape, running aggregate; see the constants above). */
  num: number[];
  /** Per slot, only for min/max (deque of member indexes) and distinctCount (live members per value); else empty. */
  aux: (number[] | Map<WindowValue, number> | null)[];
  /** Slots in use. */
  used: number;
  /** Event count at which dropping dead events is next considered. */
  compactAt: number;
}

const COMPACT_MIN = 64;

export function createSharedWindow(): SharedWindow {
  return {
    kind: 'aggregates',
    t: [],
    ids: [],
    m: [],
    words: 1,
    fields: [],
    cols: [],
    num: [],
    aux: [],
    used: 0,
    compactAt: COMPACT_MIN,
  };
}

/** The slot of a rule (by its {@link internName} code), trying `hint` first; -1 when the rule has none. */
export function findSlot(w: SharedWindow, rule: number, hint: number): number {
  const num = w.num;
  if (hint * STRIDE < num.length && num[hint * STRIDE + RULE] === rule) return hint;
  for (let k = RULE; k < num.length; k += STRIDE) if (num[k] === rule) return (k - RULE) / STRIDE;
  return -1;
}

/** Slots, free or not: valid slot indexes are below this. */
export const slotCount = (w: SharedWindow): number => w.num.length / STRIDE;
/** The rule id of a slot, undefined when free. */
export const slotRule = (w: SharedWindow, s: number): string | undefined =>
  w.num[s * STRIDE + RULE] < 0 ? undefined : names[w.num[s * STRIDE + RULE]];
/** The state shape of a slot's rule, as an {@link internName} code. */
export const slotShape = (w: SharedWindow, s: number): number => w.num[s * STRIDE + SHAPE];

export const slotLatest = (w: SharedWindow, s: number): number => w.num[s * STRIDE + LATEST];
export const slotSize = (w: SharedWindow, s: number): number => w.num[s * STRIDE + COUNT];
export const slotFiring = (w: SharedWindow, s: number): boolean => w.num[s * STRIDE + FIRING] === 1;
export const slotFunction = (w: SharedWindow, s: number): AggregateFunction => FUNCTIONS[w.num[s * STRIDE + FN]];
/** Time of the slot's oldest live member (only when it has one). */
export const slotOldest = (w: SharedWindow, s: number): number => w.t[w.num[s * STRIDE + HEAD]];

export function setFiring(w: SharedWindow, s: number, firing: boolean): void {
  w.num[s * STRIDE + FIRING] = firing ? 1 : 0;
}

function columnOf(w: SharedWindow, field: string): number {
  const i = w.fields.indexOf(field);
  if (i >= 0) return i;
  w.fields.push(field);
  w.cols.push(new Array<WindowValue>(w.t.length).fill(0));
  return w.fields.length - 1;
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
  const num = w.num;
  let s = -1;
  if (w.used * STRIDE < num.length) {
    for (let k = RULE; k < num.length; k += STRIDE) {
      if (num[k] < 0) {
        s = (k - RULE) / STRIDE;
        break;
      }
    }
  }
  if (s < 0) {
    s = num.length / STRIDE;
    if (s >= w.words * 32) widen(w);
    for (let k = 0; k < STRIDE; k++) num.push(0);
    w.aux.push(null);
  }
  const code = functionCode(fn);
  const b = s * STRIDE;
  num[b + RULE] = rule;
  num[b + SHAPE] = shape;
  num[b + LATEST] = -Infinity;
  num[b + COUNT] = 0;
  num[b + SUM] = 0;
  num[b + COMP] = 0;
  num[b + HEAD] = 0;
  num[b + TAIL] = -Infinity;
  num[b + FIRING] = 0;
  num[b + FN] = code;
  num[b + COLUMN] = field === undefined || fn === 'count' ? -1 : columnOf(w, field);
  w.aux[s] = auxFor(code);
  w.used++;
  return s;
}

function auxFor(code: number): number[] | Map<WindowValue, number> | null {
  return code === F_MIN || code === F_MAX ? [] : code === F_DISTINCT ? new Map() : null;
}

/** One more membership word per event (more than 32 slots per word in use). */
function widen(w: SharedWindow): void {
  const old = w.words;
  const n = w.t.length;
  const m = new Array<number>(n * (old + 1)).fill(0);
  for (let i = 0; i < n; i++) for (let k = 0; k < old; k++) m[i * (old + 1) + k] = w.m[i * old + k];
  w.m = m;
  w.words = old + 1;
}

/** Releases a slot (deleted rule, changed shape, or empty and quiet window): its members lose their bit. */
export function freeSlot(w: SharedWindow, s: number): void {
  const b = s * STRIDE;
  const word = s >>> 5;
  const bit = 1 << (s & 31);
  if (w.num[b + COUNT] > 0) {
    for (let i = w.num[b + HEAD], k = i * w.words + word; i < w.t.length; i++, k += w.words) w.m[k] &= ~bit;
  }
  w.num[b + RULE] = -1;
  w.aux[s] = null;
  w.num[b + COUNT] = 0;
  w.used--;
}

/**
 * Moves the slot's `latest` to `time` when later. Returns false when the event is too late for the slot's window
 * (time <= latest - window): it does not enter.
 */
export function admit(w: SharedWindow, s: number, windowMs: number, time: number): boolean {
  const k = s * STRIDE + LATEST;
  const latest = w.num[k];
  if (time > latest) {
    w.num[k] = time;
    return true;
  }
  return time > latest - windowMs;
}

/**
 * Stores an event (no members yet) at its place in time order, after events of equal time, and returns its index.
 * Indexes at or after it move up by one.
 */
export function insertEvent(w: SharedWindow, time: number, id: string): number {
  const t = w.t;
  const n = t.length;
  const words = w.words;
  if (n === 0 || t[n - 1] <= time) {
    t.push(time);
    w.ids.push(id);
    for (let k = 0; k < words; k++) w.m.push(0);
    for (let c = 0; c < w.cols.length; c++) w.cols[c].push(0);
    return n;
  }
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid] <= time) lo = mid + 1;
    else hi = mid;
  }
  t.splice(lo, 0, time);
  w.ids.splice(lo, 0, id);
  w.m.splice(lo * words, 0, ...new Array<number>(words).fill(0));
  for (let c = 0; c < w.cols.length; c++) w.cols[c].splice(lo, 0, 0);
  const num = w.num;
  for (let s = 0, b = 0; b < num.length; s++, b += STRIDE) {
    if (num[b + RULE] < 0) continue;
    if (num[b + COUNT] > 0 && num[b + HEAD] >= lo) num[b + HEAD]++;
    const q = w.aux[s];
    if (Array.isArray(q)) for (let j = 0; j < q.length; j++) if (q[j] >= lo) q[j]++;
  }
  return lo;
}

const isMember = (w: SharedWindow, i: number, s: number): boolean =>
  (w.m[i * w.words + (s >>> 5)] & (1 << (s & 31))) !== 0;

// Neumaier's compensated summation keeps a long-lived running sum (adds and evictions) within an ulp or so; the same
// arithmetic in the same order as the per-rule windows, so sums are bit-identical.
function addToSum(num: number[], b: number, x: number): void {
  const sum = num[b + SUM];
  const s = sum + x;
  num[b + COMP] += Math.abs(sum) >= Math.abs(x) ? sum - s + x : x - s + sum;
  num[b + SUM] = s;
}

function include(w: SharedWindow, s: number, i: number): void {
  const b = s * STRIDE;
  const num = w.num;
  const code = num[b + FN];
  if (code === 0) return;
  const x = w.cols[num[b + COLUMN]][i];
  if (code === F_SUM || code === F_AVG) {
    addToSum(num, b, x as number);
  } else if (code === F_MIN || code === F_MAX) {
    const q = w.aux[s] as number[];
    const v = w.cols[num[b + COLUMN]];
    if (code === F_MAX) while (q.length > 0 && (v[q[q.length - 1]] as number) <= (x as number)) q.pop();
    else while (q.length > 0 && (v[q[q.length - 1]] as number) >= (x as number)) q.pop();
    q.push(i);
  } else {
    const d = w.aux[s] as Map<WindowValue, number>;
    d.set(x, (d.get(x) ?? 0) + 1);
  }
}

function exclude(w: SharedWindow, s: number, i: number): void {
  const b = s * STRIDE;
  const num = w.num;
  const code = num[b + FN];
  if (code === 0) return;
  if (code === F_SUM || code === F_AVG) {
    addToSum(num, b, -(w.cols[num[b + COLUMN]][i] as number));
  } else if (code === F_MIN || code === F_MAX) {
    const q = w.aux[s] as number[];
    if (q.length > 0 && q[0] === i) q.shift();
  } else {
    const d = w.aux[s] as Map<WindowValue, number>;
    const x = w.cols[num[b + COLUMN]][i];
    const n = (d.get(x) as number) - 1;
    if (n === 0) d.delete(x);
    else d.set(x, n);
  }
}

/**
 * Recomputes a slot's sum, deque or distinct counts from its live members, for `fn` (after an out-of-order insert, a
 * compatible change of function, or a restore).
 */
export function rebuildSlot(w: SharedWindow, s: number, fn: AggregateFunction): void {
  const b = s * STRIDE;
  const num = w.num;
  const code = functionCode(fn);
  num[b + FN] = code;
  num[b + SUM] = 0;
  num[b + COMP] = 0;
  w.aux[s] = auxFor(code);
  if (num[b + COUNT] === 0) return;
  for (let i = num[b + HEAD]; i < w.t.length; i++) if (isMember(w, i, s)) include(w, s, i);
}

/** Makes the event at index `i` (already inserted) a member of slot `s` with `value` (ignored for count). */
export function addMember(w: SharedWindow, s: number, i: number, value: WindowValue): void {
  const b = s * STRIDE;
  const num = w.num;
  const col = num[b + COLUMN];
  if (col >= 0) w.cols[col][i] = value;
  w.m[i * w.words + (s >>> 5)] |= 1 << (s & 31);
  const time = w.t[i];
  const count = num[b + COUNT];
  num[b + COUNT] = count + 1;
  if (count === 0 || i < num[b + HEAD]) num[b + HEAD] = i;
  if (count === 0 || num[b + TAIL] <= time) {
    num[b + TAIL] = time;
    include(w, s, i);
  } else {
    rebuildSlot(w, s, FUNCTIONS[num[b + FN]]);
  }
}

/**
 * Drops the slot's members at or before `now - windowMs` (`now` also moves `latest` forward). Returns how many left.
 */
export function evictSlot(w: SharedWindow, s: number, windowMs: number, now: number): number {
  const b = s * STRIDE;
  const num = w.num;
  if (now > num[b + LATEST]) num[b + LATEST] = now;
  let count = num[b + COUNT];
  if (count === 0) return 0;
  const bound = num[b + LATEST] - windowMs;
  const t = w.t;
  const n = t.length;
  const words = w.words;
  const word = s >>> 5;
  const bit = 1 << (s & 31);
  let i = num[b + HEAD];
  let dropped = 0;
  while (count > 0 && i < n && t[i] <= bound) {
    const k = i * words + word;
    if ((w.m[k] & bit) !== 0) {
      exclude(w, s, i);
      w.m[k] &= ~bit;
      count--;
      dropped++;
    }
    i++;
  }
  if (dropped === 0) return 0;
  num[b + COUNT] = count;
  if (count === 0) {
    // Empty: reset exactly, so rounding never outlives the events.
    num[b + SUM] = 0;
    num[b + COMP] = 0;
    num[b + TAIL] = -Infinity;
    const q = w.aux[s];
    if (Array.isArray(q)) q.length = 0;
    return dropped;
  }
  while ((w.m[i * words + word] & bit) === 0) i++;
  num[b + HEAD] = i;
  return dropped;
}

/**
 * The slot's aggregate (see `aggregateWindow` of the per-rule window for the definitions: undefined for avg/min/max of
 * nothing). The slot must serve `fn`.
 */
export function slotAggregate(w: SharedWindow, s: number, fn: AggregateFunction): number | undefined {
  const b = s * STRIDE;
  const num = w.num;
  const n = num[b + COUNT];
  switch (fn) {
    case 'count':
      return n;
    case 'distinctCount':
      return (w.aux[s] as Map<WindowValue, number>).size;
    case 'sum':
      return n === 0 ? 0 : num[b + SUM] + num[b + COMP];
    case 'avg':
      return n === 0 ? undefined : (num[b + SUM] + num[b + COMP]) / n;
    case 'min':
    case 'max':
      return n === 0 ? undefined : (w.cols[num[b + COLUMN]][(w.aux[s] as number[])[0]] as number);
  }
}

/** The slot's live members, oldest first (value null for count). */
export function slotMembers(
  w: SharedWindow,
  s: number,
): { t: number[]; v: WindowValue[]; ids: string[]; at: number[] } {
  const b = s * STRIDE;
  const col = w.num[b + COLUMN];
  const out = { t: [] as number[], v: [] as WindowValue[], ids: [] as string[], at: [] as number[] };
  if (w.num[b + COUNT] === 0) return out;
  for (let i = w.num[b + HEAD]; i < w.t.length; i++) {
    if (!isMember(w, i, s)) continue;
    out.t.push(w.t[i]);
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
  const n = w.t.length;
  if (!force && n < w.compactAt) return;
  const num = w.num;
  let from = n;
  for (let b = 0; b < num.length; b += STRIDE) {
    if (num[b + RULE] >= 0 && num[b + COUNT] > 0 && num[b + HEAD] < from) from = num[b + HEAD];
  }
  if (from === n) {
    w.t.length = 0;
    w.ids.length = 0;
    w.m.length = 0;
    for (const c of w.cols) c.length = 0;
    w.compactAt = COMPACT_MIN;
    return;
  }
  if (from * 2 >= n || (force && from > 0)) {
    w.t.splice(0, from);
    w.ids.splice(0, from);
    w.m.splice(0, from * w.words);
    for (const c of w.cols) c.splice(0, from);
    for (let s = 0, b = 0; b < num.length; s++, b += STRIDE) {
      if (num[b + RULE] < 0) continue;
      if (num[b + COUNT] > 0) num[b + HEAD] -= from;
      const q = w.aux[s];
      if (Array.isArray(q)) for (let j = 0; j < q.length; j++) q[j] -= from;
    }
  }
  w.compactAt = Math.max(COMPACT_MIN, w.t.length * 2);
}

/** JSON-safe form of a shared window: live slots in slot order, with their members as event indexes. */
export interface SharedWindowSnapshot {
  t: number[];
  ids: string[];
  fields: string[];
  cols: WindowValue[][];
  slots: {
    rule: string;
    shape: string;
    fn: AggregateFunction;
    latest: number | null;
    firing: boolean;
    sum: number;
    comp: number;
    members: number[];
  }[];
}

export function snapshotSharedWindow(w: SharedWindow): SharedWindowSnapshot {
  const live: { s: number; at: number[] }[] = [];
  const needed = new Set<number>();
  for (let s = 0; s < slotCount(w); s++) {
    if (w.num[s * STRIDE + RULE] < 0) continue;
    const at = slotMembers(w, s).at;
    for (const i of at) needed.add(i);
    live.push({ s, at });
  }
  // Only the events some slot holds, renumbered: evicted events awaiting compaction are not checkpointed.
  const order = [...needed].sort((a, b) => a - b);
  const renumbered = new Map<number, number>();
  order.forEach((i, j) => renumbered.set(i, j));
  const num = w.num;
  const slots = live.map(({ s, at }) => {
    const b = s * STRIDE;
    const latest = num[b + LATEST];
    return {
      rule: names[num[b + RULE]],
      shape: names[num[b + SHAPE]],
      fn: FUNCTIONS[num[b + FN]],
      latest: Number.isFinite(latest) ? latest : null,
      firing: num[b + FIRING] === 1,
      sum: num[b + SUM],
      comp: num[b + COMP],
      members: at.map((i) => renumbered.get(i) as number),
    };
  });
  return {
    t: order.map((i) => w.t[i]),
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
    .map((slot) => ({ slot, spec: keep(slot.rule, slot.shape) }))
    .filter((x) => x.spec !== undefined);
  const needed = new Set<number>();
  for (const { slot } of kept) for (const i of slot.members) needed.add(i);
  const order = [...needed].sort((a, b) => a - b);
  const indexOf = new Map<number, number>();
  for (const i of order) indexOf.set(i, insertEvent(w, data.t[i], data.ids[i]));
  for (const { slot, spec } of kept) {
    const s = allocateSlot(w, internName(slot.rule), internName(slot.shape), slot.fn, spec?.field);
    const b = s * STRIDE;
    const col = w.num[b + COLUMN];
    const source = col < 0 ? undefined : data.cols[data.fields.indexOf(w.fields[col])];
    for (const i of slot.members) {
      const at = indexOf.get(i) as number;
      if (col >= 0) w.cols[col][at] = (source as WindowValue[])[i];
      w.m[at * w.words + (s >>> 5)] |= 1 << (s & 31);
      const count = w.num[b + COUNT];
      if (count === 0 || at < w.num[b + HEAD]) w.num[b + HEAD] = at;
      w.num[b + COUNT] = count + 1;
      if (w.t[at] > w.num[b + TAIL]) w.num[b + TAIL] = w.t[at];
    }
    rebuildSlot(w, s, slot.fn);
    w.num[b + SUM] = slot.sum;
    w.num[b + COMP] = slot.comp;
    w.num[b + LATEST] = slot.latest ?? -Infinity;
    w.num[b + FIRING] = slot.firing ? 1 : 0;
  }
  return w;
}
