import { CepheusError } from '@cepheus/common';
import { assignToKeyGroup, type KeyGroupRange } from './key-group';
import type {
  KeyedStateDescriptor,
  ListState,
  ListStateDescriptor,
  MapState,
  MapStateDescriptor,
  ValueState,
  ValueStateDescriptor,
} from './state-descriptor';

/** A stored value with its expiry (0 = none) and the backend version that created it (for copy-on-write). */
interface Entry {
  v: unknown;
  exp: number;
  ver: number;
}

interface ActiveSnapshot {
  /** Entries with `ver <= version` existed at the barrier. */
  readonly version: number;
  /** Key groups not serialized yet. */
  readonly pending: Set<number>;
  /** Barrier-time entries replaced or removed since, by table and key group. */
  readonly shadow: Map<StateTable, Map<number, Map<string, Entry>>>;
}

interface StateTable {
  readonly name: string;
  readonly kind: 'value' | 'list' | 'map';
  readonly ttlMs: number;
  /** One map per key group, indexed by key group; undefined when the key group holds nothing. */
  readonly groups: (Map<string, Entry> | undefined)[];
}

/** Serialized form of one key group of one state, as written in a `kg-<n>` chunk. */
export interface KeyGroupStateData {
  kind: 'value' | 'list' | 'map';
  /**
   * Columns of equal length: keys, values (map state values are `[mapKey, value][]`) and expiry times (0 = none).
   * Columns rather than one small array per entry: fewer allocations when a checkpoint is written and read.
   */
  keys: string[];
  values: unknown[];
  expires: number[];
}

/**
 * A synchronous, shallow copy of the state of a key-group range, taken at a barrier. Serialization happens later
 * (asynchronously) from this copy while processing goes on: the entries it shares with the live tables are protected
 * by copy-on-write in {@link KeyedStateBackend} until {@link KeyedStateSnapshot.release} is called.
 */
export interface KeyedStateSnapshot {
  /** Key groups with data, ascending. */
  readonly keyGroups: number[];
  /** The JSON-safe content of one key group: state name -> data. */
  keyGroupData(keyGroup: number): Record<string, KeyGroupStateData>;
  release(): void;
}

/**
 * Heap keyed state backend (Flink's `HeapKeyedStateBackend` with `CopyOnWriteStateMap`'s idea, reduced): state lives
 * in JS maps per state and key group; `setCurrentKey` selects the key that handles read and write.
 *
 * Snapshots are asynchronous in Flink's sense, with copy-on-write per entry: the synchronous part records a version
 * and copies nothing; every entry existing at that moment is "shared" with the snapshot, and a read, write or removal
 * of a shared entry first sets the old entry aside for the snapshot (until it has serialized that key group) and
 * gives the live table a private copy, so that the snapshot sees every value as of the barrier.
 */
export class KeyedStateBackend {
  readonly #maxParallelism: number;
  readonly #range: KeyGroupRange;
  readonly #now: () => number;
  readonly #tables = new Map<string, StateTable>();
  #key = '';
  #keyGroup = -1;
  /** Version stamped on new entries; bumped by every snapshot. */
  #version = 1;
  /** Entries with `ver <= #sharedVersion` may be needed by an in-flight snapshot (0: no snapshot in flight). */
  #sharedVersion = 0;
  readonly #active: ActiveSnapshot[] = [];

  constructor(maxParallelism: number, range: KeyGroupRange, now: () => number) {
    this.#maxParallelism = maxParallelism;
    this.#range = range;
    this.#now = now;
  }

  get keyGroupRange(): KeyGroupRange {
    return this.#range;
  }

  get currentKey(): string {
    return this.#key;
  }

  get currentKeyGroup(): number {
    return this.#keyGroup;
  }

  /** Selects the key that state handles act on. `keyGroup` may be passed when the caller already computed it. */
  setCurrentKey(key: string, keyGroup = assignToKeyGroup(key, this.#maxParallelism)): void {
    if (keyGroup < this.#range.start || keyGroup > this.#range.end) {
      throw new CepheusError('JOB_FAILED', `key '${key}' (key group ${keyGroup}) is not owned by this instance`);
    }
    this.#key = key;
    this.#keyGroup = keyGroup;
  }

  #table(descriptor: KeyedStateDescriptor): StateTable {
    let table = this.#tables.get(descriptor.name);
    if (!table) {
      table = {
        name: descriptor.name,
        kind: descriptor.kind,
        ttlMs: descriptor.ttl?.ttlMs ?? 0,
        groups: new Array<Map<string, Entry> | undefined>(this.#maxParallelism),
      };
      this.#tables.set(descriptor.name, table);
    } else if (table.kind !== descriptor.kind) {
      throw new CepheusError(
        'JOB_FAILED',
        `state '${descriptor.name}' is a ${table.kind} state, not ${descriptor.kind}`,
      );
    }
    return table;
  }

  /**
   * Keeps the barrier-time entry of the current key for every in-flight snapshot that has not serialized its key
   * group yet, before the live table replaces or drops it (Flink's `CopyOnWriteStateMap` keeps old entry versions
   * for running snapshots in the same way).
   */
  #preserve(table: StateTable, old: Entry): void {
    for (const snap of this.#active) {
      if (old.ver > snap.version || !snap.pending.has(this.#keyGroup)) continue;
      let byGroup = snap.shadow.get(table);
      if (!byGroup) snap.shadow.set(table, (byGroup = new Map()));
      let shadow = byGroup.get(this.#keyGroup);
      if (!shadow) byGroup.set(this.#keyGroup, (shadow = new Map()));
      if (!shadow.has(this.#key)) shadow.set(this.#key, old);
    }
  }

  /** The live entry of the current key, private to the live table (copied first if a snapshot shares it). */
  #read(table: StateTable): Entry | undefined {
    const group = table.groups[this.#keyGroup];
    if (!group) return undefined;
    let entry = group.get(this.#key);
    if (!entry) return undefined;
    if (entry.exp !== 0 && entry.exp <= this.#now()) {
      if (entry.ver <= this.#sharedVersion) this.#preserve(table, entry);
      group.delete(this.#key);
      return undefined;
    }
    if (entry.ver <= this.#sharedVersion) {
      // The caller may change the value in place: give the live table its own copy.
      this.#preserve(table, entry);
      const v = entry.v;
      entry = { v: typeof v === 'object' && v !== null ? structuredClone(v) : v, exp: entry.exp, ver: this.#version };
      group.set(this.#key, entry);
    }
    return entry;
  }

  #write(table: StateTable, value: unknown): void {
    let group = table.groups[this.#keyGroup];
    if (!group) table.groups[this.#keyGroup] = group = new Map();
    const exp = table.ttlMs > 0 ? this.#now() + table.ttlMs : 0;
    const entry = group.get(this.#key);
    if (entry && entry.ver > this.#sharedVersion) {
      entry.v = value;
      entry.exp = exp;
    } else {
      if (entry) this.#preserve(table, entry);
      group.set(this.#key, { v: value, exp, ver: this.#version });
    }
  }

  #clear(table: StateTable): void {
    const group = table.groups[this.#keyGroup];
    const entry = group?.get(this.#key);
    if (!entry) return;
    if (entry.ver <= this.#sharedVersion) this.#preserve(table, entry);
    group!.delete(this.#key);
  }

  /** A handle on a value state; handles act on the current key. */
  getValueState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T> {
    const table = this.#table(descriptor as KeyedStateDescriptor);
    return {
      value: () => {
        const entry = this.#read(table);
        return entry ? (entry.v as T) : descriptor.defaultValue;
      },
      update: (value: T) => this.#write(table, value),
      clear: () => this.#clear(table),
    };
  }

  /** A handle on a list state. */
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    const table = this.#table(descriptor as KeyedStateDescriptor);
    return {
      get: () => (this.#read(table)?.v as T[] | undefined) ?? [],
      add: (value: T) => {
        const entry = this.#read(table);
        if (entry) {
          (entry.v as T[]).push(value);
          if (table.ttlMs > 0) entry.exp = this.#now() + table.ttlMs;
        } else this.#write(table, [value]);
      },
      update: (values: readonly T[]) => this.#write(table, [...values]),
      clear: () => this.#clear(table),
    };
  }

  /** A handle on a map state. */
  getMapState<V>(descriptor: MapStateDescriptor<V>): MapState<V> {
    const table = this.#table(descriptor as KeyedStateDescriptor);
    const map = (): Map<string, V> | undefined => this.#read(table)?.v as Map<string, V> | undefined;
    return {
      get: (key) => map()?.get(key),
      has: (key) => map()?.has(key) ?? false,
      put: (key, value) => {
        const entry = this.#read(table);
        if (entry) {
          (entry.v as Map<string, V>).set(key, value);
          if (table.ttlMs > 0) entry.exp = this.#now() + table.ttlMs;
        } else this.#write(table, new Map([[key, value]]));
      },
      remove: (key) => {
        const m = map();
        m?.delete(key);
        if (m && m.size === 0) this.#clear(table);
      },
      entries: () => (map() ?? new Map<string, V>()).entries(),
      clear: () => this.#clear(table),
    };
  }

  /** Keys that have a (live) entry in the state, in this instance's key groups: `[key, keyGroup]`. */
  keys(stateName: string): [string, number][] {
    const table = this.#tables.get(stateName);
    if (!table) return [];
    const out: [string, number][] = [];
    const now = this.#now();
    for (let kg = this.#range.start; kg <= this.#range.end; kg++) {
      const group = table.groups[kg];
      if (group) for (const [key, entry] of group) if (entry.exp === 0 || entry.exp > now) out.push([key, kg]);
    }
    return out;
  }

  /** Number of entries across all states (expired ones included until touched or snapshotted). */
  get size(): number {
    let n = 0;
    for (const table of this.#tables.values()) for (const group of table.groups) n += group?.size ?? 0;
    return n;
  }

  /**
   * Synchronous part of a snapshot: it only records the version and the key groups to write, O(key groups). Entries
   * changed afterwards are preserved for the snapshot until it has serialized their key group.
   */
  snapshot(range: KeyGroupRange = this.#range): KeyedStateSnapshot {
    const pending = new Set<number>();
    for (const table of this.#tables.values()) {
      for (let kg = range.start; kg <= range.end; kg++) if ((table.groups[kg]?.size ?? 0) > 0) pending.add(kg);
    }
    const snap: ActiveSnapshot = { version: this.#version, pending, shadow: new Map() };
    this.#version++;
    this.#active.push(snap);
    this.#sharedVersion = snap.version;
    const now = this.#now();
    const alive = (e: Entry): boolean => e.exp === 0 || e.exp > now;
    let released = false;
    return {
      keyGroups: [...pending].sort((x, y) => x - y),
      keyGroupData: (kg) => {
        const out: Record<string, KeyGroupStateData> = {};
        if (released || !snap.pending.has(kg)) return out;
        for (const table of this.#tables.values()) {
          const group = table.groups[kg];
          const shadow = snap.shadow.get(table)?.get(kg);
          const keys: string[] = [];
          const values: unknown[] = [];
          const expires: number[] = [];
          const isMap = table.kind === 'map';
          const add = (key: string, e: Entry): void => {
            // Flink's "cleanup in full snapshot": expired entries never reach a checkpoint.
            if (!alive(e)) return;
            keys.push(key);
            values.push(isMap ? [...(e.v as Map<string, unknown>)] : e.v);
            expires.push(e.exp);
          };
          if (group) {
            for (const [key, e] of group) {
              const old = shadow?.get(key);
              if (old) add(key, old);
              else if (e.ver <= snap.version) add(key, e);
            }
          }
          if (shadow) for (const [key, old] of shadow) if (!group?.has(key)) add(key, old);
          if (keys.length > 0) out[table.name] = { kind: table.kind, keys, values, expires };
          snap.shadow.get(table)?.delete(kg);
        }
        snap.pending.delete(kg);
        return out;
      },
      release: () => {
        if (released) return;
        released = true;
        this.#active.splice(this.#active.indexOf(snap), 1);
        this.#sharedVersion = this.#active.reduce((v, x) => Math.max(v, x.version), 0);
      },
    };
  }

  /** Loads one key group from a snapshot; the key group must be in this backend's range. */
  restoreKeyGroup(keyGroup: number, data: Record<string, KeyGroupStateData>): void {
    if (keyGroup < this.#range.start || keyGroup > this.#range.end) {
      throw new CepheusError('STATE_RESTORE_FAILED', `key group ${keyGroup} is outside this instance's range`);
    }
    for (const [name, state] of Object.entries(data)) {
      const table = this.#table({ kind: state.kind, name } as KeyedStateDescriptor);
      const group = new Map<string, Entry>();
      const { keys, values, expires } = state;
      const isMap = state.kind === 'map';
      const ver = this.#version;
      for (let i = 0; i < keys.length; i++) {
        const value = values[i];
        group.set(keys[i]!, { v: isMap ? new Map(value as [string, unknown][]) : value, exp: expires[i]!, ver });
      }
      table.groups[keyGroup] = group;
    }
  }
}
