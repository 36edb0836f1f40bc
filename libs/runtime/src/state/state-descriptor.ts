/**
 * State descriptors (Flink's `StateDescriptor`): a descriptor declares a state by name and kind; the name is the
 * state's identity across restarts and savepoints. Values must be JSON-safe: snapshots serialize them as JSON, and a
 * value read while a snapshot is in flight is copied with `structuredClone`.
 */

/** Time-to-live of keyed state entries, in processing time (Flink's `StateTtlConfig`, `OnCreateAndWrite`). */
export interface StateTtl {
  /** An entry not written for this many milliseconds is gone: never returned, and dropped from snapshots. */
  ttlMs: number;
}

/**
 * The binary form of a value state's values, for values that are not JSON-safe or are cheaper to write as bytes (a
 * rule evaluator's key state). Checkpoints store `encode`'s bytes; a restored value stays bytes until its key is read,
 * then `decode` makes it live. A copy for copy-on-write during a snapshot is `decode(encode(value))`. A codec's values
 * must not themselves be `Uint8Array`s (those stand for "not decoded yet").
 */
export interface StateCodec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** Declares a keyed value state. */
export interface ValueStateDescriptor<T> {
  readonly kind: 'value';
  readonly name: string;
  readonly defaultValue?: T;
  readonly ttl?: StateTtl;
  /** Binary form of the values; without one, values must be JSON-safe. */
  readonly codec?: StateCodec<T>;
}

/** Declares a keyed list state. */
export interface ListStateDescriptor<T> {
  readonly kind: 'list';
  readonly name: string;
  readonly ttl?: StateTtl;
  /** Phantom field carrying the element type. */
  readonly __element?: T;
}

/** Declares a keyed map state. */
export interface MapStateDescriptor<V> {
  readonly kind: 'map';
  readonly name: string;
  readonly ttl?: StateTtl;
  readonly __value?: V;
}

/** Declares a broadcast (map) state: identical on every instance, written only by broadcast elements. */
export interface BroadcastStateDescriptor<V> {
  readonly kind: 'broadcast';
  readonly name: string;
  readonly __value?: V;
}

/** Any keyed state descriptor. */
export type KeyedStateDescriptor =
  ValueStateDescriptor<unknown> | ListStateDescriptor<unknown> | MapStateDescriptor<unknown>;

/** `valueState('count', { defaultValue: 0, ttl: { ttlMs: 60_000 } })` */
export function valueState<T>(
  name: string,
  options: { defaultValue?: T; ttl?: StateTtl; codec?: StateCodec<T> } = {},
): ValueStateDescriptor<T> {
  return Object.freeze({
    kind: 'value',
    name,
    defaultValue: options.defaultValue,
    ttl: options.ttl,
    codec: options.codec,
  });
}

/** `listState<Event>('buffer')` */
export function listState<T>(name: string, options: { ttl?: StateTtl } = {}): ListStateDescriptor<T> {
  return Object.freeze({ kind: 'list', name, ttl: options.ttl });
}

/** `mapState<number>('per-merchant')`; map keys are strings. */
export function mapState<V>(name: string, options: { ttl?: StateTtl } = {}): MapStateDescriptor<V> {
  return Object.freeze({ kind: 'map', name, ttl: options.ttl });
}

/** `broadcastState<Rule>('rules')`; map keys are strings. */
export function broadcastState<V>(name: string): BroadcastStateDescriptor<V> {
  return Object.freeze({ kind: 'broadcast', name });
}

/** Keyed value state of the current key. */
export interface ValueState<T> {
  value(): T | undefined;
  update(value: T): void;
  clear(): void;
}

/** Keyed list state of the current key. */
export interface ListState<T> {
  get(): readonly T[];
  add(value: T): void;
  update(values: readonly T[]): void;
  clear(): void;
}

/** Keyed map state of the current key. */
export interface MapState<V> {
  get(key: string): V | undefined;
  put(key: string, value: V): void;
  remove(key: string): void;
  has(key: string): boolean;
  entries(): IterableIterator<[string, V]>;
  clear(): void;
}

/** Broadcast state as `processElement` sees it. */
export interface ReadOnlyBroadcastState<V> {
  get(key: string): V | undefined;
  has(key: string): boolean;
  entries(): IterableIterator<[string, V]>;
  readonly size: number;
}

/** Broadcast state as `processBroadcastElement` sees it. */
export interface BroadcastState<V> extends ReadOnlyBroadcastState<V> {
  put(key: string, value: V): void;
  remove(key: string): void;
  clear(): void;
}
