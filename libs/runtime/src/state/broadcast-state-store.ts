import { createHash } from 'node:crypto';
import type { BroadcastState, BroadcastStateDescriptor } from './state-descriptor';

/**
 * Canonical JSON: object keys sorted, no whitespace, so that equal states serialize to equal bytes (RFC 8785 in
 * spirit; numbers use JavaScript's shortest round-trip form).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value instanceof Map) return canonicalJson(Object.fromEntries(value));
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}

/** Serialized broadcast state: state name -> entries sorted by key. */
export type BroadcastStateData = Record<string, [string, unknown][]>;

/**
 * sha256 (hex) of the canonical serialization of broadcast states. Every instance publishes it; equal digests mean
 * equal rules everywhere. Empty states count as absent, so that "never created" and "emptied" agree.
 */
export function broadcastStateDigest(states: ReadonlyMap<string, ReadonlyMap<string, unknown>>): string {
  const data: BroadcastStateData = {};
  for (const name of [...states.keys()].sort()) {
    const state = states.get(name)!;
    if (state.size === 0) continue;
    data[name] = [...state.keys()].sort().map((k) => [k, state.get(k)]);
  }
  return createHash('sha256').update(canonicalJson(data)).digest('hex');
}

/**
 * Broadcast state of one instance (Flink's `BroadcastState` in the operator state backend): maps by descriptor name.
 * Only broadcast elements write it; every instance applies the same broadcast elements in the same order, so the maps
 * are equal on every instance, and a checkpoint stores one copy that every instance restores.
 */
export class BroadcastStateStore {
  readonly #states = new Map<string, Map<string, unknown>>();
  /**
   * One handle per state, kept: a step that derives something costly from broadcast state (compiled rules) can cache
   * it by handle, and the handle stays the same across restores (they refill the maps rather than replace them).
   */
  readonly #handles = new Map<string, BroadcastState<unknown>>();

  #map(name: string): Map<string, unknown> {
    let m = this.#states.get(name);
    if (!m) this.#states.set(name, (m = new Map()));
    return m;
  }

  /** A read-write handle (for `processBroadcastElement`); it also serves as the read-only view. */
  get<V>(descriptor: BroadcastStateDescriptor<V>): BroadcastState<V> {
    const kept = this.#handles.get(descriptor.name);
    if (kept) return kept as BroadcastState<V>;
    const m = this.#map(descriptor.name) as Map<string, V>;
    const handle: BroadcastState<V> = {
      get: (k) => m.get(k),
      has: (k) => m.has(k),
      entries: () => m.entries(),
      get size() {
        return m.size;
      },
      put: (k, v) => void m.set(k, v),
      remove: (k) => void m.delete(k),
      clear: () => m.clear(),
    };
    this.#handles.set(descriptor.name, handle as BroadcastState<unknown>);
    return handle;
  }

  digest(): string {
    return broadcastStateDigest(this.#states);
  }

  /** Deep copy for a snapshot (broadcast state is small: rules). */
  snapshot(): BroadcastStateData {
    const data: BroadcastStateData = {};
    for (const name of [...this.#states.keys()].sort()) {
      const m = this.#states.get(name)!;
      data[name] = [...m.keys()].sort().map((k) => [k, structuredClone(m.get(k))]);
    }
    return data;
  }

  restore(data: BroadcastStateData): void {
    for (const m of this.#states.values()) m.clear();
    for (const [name, entries] of Object.entries(data)) {
      const m = this.#map(name);
      for (const [k, v] of entries) m.set(k, v);
    }
  }
}
