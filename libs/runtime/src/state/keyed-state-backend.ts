import { CepheusError } from '@cepheus/common';
import { ByteReader, ByteWriter } from '../codec/byte-codec';
import { assignToKeyGroup, type KeyGroupRange } from './key-group';
import type {
  KeyedStateDescriptor,
  ListState,
  ListStateDescriptor,
  MapState,
  MapStateDescriptor,
  StateCodec,
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
  /**
   * The values' binary form, once a descriptor with one was seen (a table made by a restore has none until then; its
   * values stay bytes and are written back as such).
   */
  codec: StateCodec<unknown> | undefined;
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
  /**
   * One key group in the binary checkpoint form (read back with {@link decodeKeyGroupState} or
   * {@link KeyedStateBackend.restoreKeyGroupBytes}). Each key group is handed out once.
   */
  keyGroupBytes(keyGroup: number): Uint8Array;
  /**
   * Appends the same bytes as {@link keyGroupBytes} to `writer`: a checkpoint writes its key groups into one chunk
   * buffer instead of a buffer each (less memory outside the heap to collect).
   */
  writeKeyGroup(keyGroup: number, writer: ByteWriter): void;
  /** The same content as JSON-safe columns: state name -> data. */
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
  /**
   * Per key group, the in-flight snapshots that have not serialized it yet. Once a key group is written out, its
   * entries are private to the live table again: changing them needs no copy, which halves the copies (and the old
   * generation garbage) of a snapshot on average.
   */
  readonly #pendingIn: Uint8Array;

  constructor(maxParallelism: number, range: KeyGroupRange, now: () => number) {
    this.#maxParallelism = maxParallelism;
    this.#range = range;
    this.#now = now;
    this.#pendingIn = new Uint8Array(maxParallelism);
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
        codec: undefined,
      };
      this.#tables.set(descriptor.name, table);
    } else if (table.kind !== descriptor.kind) {
      throw new CepheusError(
        'JOB_FAILED',
        `state '${descriptor.name}' is a ${table.kind} state, not ${descriptor.kind}`,
      );
    }
    if (descriptor.kind === 'value' && descriptor.codec && !table.codec) table.codec = descriptor.codec;
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
    const entry = group.get(this.#key);
    if (!entry) return undefined;
    const shared = entry.ver <= this.#sharedVersion && this.#pendingIn[this.#keyGroup] !== 0;
    if (entry.exp !== 0 && entry.exp <= this.#now()) {
      if (shared) this.#preserve(table, entry);
      group.delete(this.#key);
      return undefined;
    }
    if (shared) {
      // The caller may change the value in place: the snapshot keeps the barrier-time value, the live entry gets its
      // own copy of an object value.
      this.#preserve(table, { v: entry.v, exp: entry.exp, ver: entry.ver });
      const v = entry.v;
      const codec = table.codec;
      if (codec) entry.v = codec.decode(v instanceof Uint8Array ? v : codec.encode(v));
      else if (typeof v === 'object' && v !== null) entry.v = structuredClone(v);
      entry.ver = this.#version;
    } else if (table.codec && entry.v instanceof Uint8Array) {
      entry.v = table.codec.decode(entry.v);
    }
    return entry;
  }

  #write(table: StateTable, value: unknown): void {
    let group = table.groups[this.#keyGroup];
    if (!group) table.groups[this.#keyGroup] = group = new Map();
    const exp = table.ttlMs > 0 ? this.#now() + table.ttlMs : 0;
    const entry = group.get(this.#key);
    if (entry && (entry.ver > this.#sharedVersion || this.#pendingIn[this.#keyGroup] === 0)) {
      entry.v = value;
      entry.exp = exp;
    } else if (entry) {
      // The copy goes to the snapshot and the live entry changes in place, not the other way round: the copy dies
      // young once its key group is written, where a new live entry would be promoted and the old one left as old-
      // generation garbage (a mark-compact pause on a heap of a million entries).
      this.#preserve(table, { v: entry.v, exp: entry.exp, ver: entry.ver });
      entry.v = value;
      entry.exp = exp;
      entry.ver = this.#version;
    } else {
      group.set(this.#key, { v: value, exp, ver: this.#version });
    }
  }

  #clear(table: StateTable): void {
    const group = table.groups[this.#keyGroup];
    const entry = group?.get(this.#key);
    if (!entry) return;
    if (entry.ver <= this.#sharedVersion && this.#pendingIn[this.#keyGroup] !== 0) this.#preserve(table, entry);
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
    for (const kg of pending) this.#pendingIn[kg]!++;
    this.#version++;
    this.#active.push(snap);
    this.#sharedVersion = snap.version;
    const now = this.#now();
    const alive = (e: Entry): boolean => e.exp === 0 || e.exp > now;
    let released = false;
    /** Visits the barrier-time entries of one key group, state by state, then lets the key group go. */
    const visit = (kg: number, sink: SnapshotSink): void => {
      if (released || !snap.pending.has(kg)) return;
      for (const table of this.#tables.values()) {
        const group = table.groups[kg];
        const shadow = snap.shadow.get(table)?.get(kg);
        sink.begin(table);
        if (group) {
          for (const [key, e] of group) {
            const old = shadow?.get(key);
            const entry = old ?? (e.ver <= snap.version ? e : undefined);
            // Flink's "cleanup in full snapshot": expired entries never reach a checkpoint.
            if (entry && alive(entry)) sink.entry(key, entry);
          }
        }
        if (shadow) for (const [key, old] of shadow) if (!group?.has(key) && alive(old)) sink.entry(key, old);
        sink.end(table);
        snap.shadow.get(table)?.delete(kg);
      }
      snap.pending.delete(kg);
      this.#pendingIn[kg]!--;
    };
    return {
      keyGroups: [...pending].sort((x, y) => x - y),
      keyGroupBytes: (kg) => {
        const w = new ByteWriter(this.#sizeHint(kg));
        const sink = new BinarySink(w);
        visit(kg, sink);
        sink.finish();
        return new Uint8Array(w.buf.slice(0, w.pos));
      },
      writeKeyGroup: (kg, w) => {
        w.ensure(this.#sizeHint(kg));
        const sink = new BinarySink(w);
        visit(kg, sink);
        sink.finish();
      },
      keyGroupData: (kg) => {
        const out: Record<string, KeyGroupStateData> = {};
        let current: KeyGroupStateData | undefined;
        let codec: StateCodec<unknown> | undefined;
        visit(kg, {
          begin: (table) => {
            current = { kind: table.kind, keys: [], values: [], expires: [] };
            codec = table.codec;
          },
          entry: (key, e) => {
            current!.keys.push(key);
            const v = codec !== undefined && !(e.v instanceof Uint8Array) ? codec.encode(e.v) : e.v;
            current!.values.push(current!.kind === 'map' ? [...(v as Map<string, unknown>)] : v);
            current!.expires.push(e.exp);
          },
          end: (table) => {
            if (current!.keys.length > 0) out[table.name] = current!;
          },
        });
        return out;
      },
      release: () => {
        if (released) return;
        released = true;
        for (const kg of snap.pending) this.#pendingIn[kg]!--;
        snap.pending.clear();
        this.#active.splice(this.#active.indexOf(snap), 1);
        this.#sharedVersion = this.#active.reduce((v, x) => Math.max(v, x.version), 0);
      },
    };
  }

  /** Entries of a key group across states, to size its encoding buffer once. */
  #sizeHint(kg: number): number {
    let n = 0;
    for (const table of this.#tables.values()) n += table.groups[kg]?.size ?? 0;
    return 64 + n * 32;
  }

  /** Loads one key group from its binary checkpoint form ({@link KeyedStateSnapshot.keyGroupBytes}). */
  restoreKeyGroupBytes(keyGroup: number, bytes: Uint8Array): void {
    this.restoreKeyGroup(keyGroup, decodeKeyGroupState(bytes));
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

/** Receives the entries of one key group of a snapshot, state by state. */
interface SnapshotSink {
  begin(table: StateTable): void;
  entry(key: string, entry: Entry): void;
  end(table: StateTable): void;
}

const KINDS = ['value', 'list', 'map'] as const;
/** Value tags (low bits), and a flag for an expiry time that follows the tag. */
const TAG_F64 = 0;
const TAG_I32 = 1;
const TAG_JSON = 2;
/** A state codec's bytes (or restored bytes not decoded yet): u32 length, then the bytes. */
const TAG_BYTES = 3;
const TAG_TYPE = 0x0f;
const HAS_EXPIRY = 0x80;

/**
 * The binary form of one key group: u32 number of states, then per state its name, kind (u8) and entry count (u32),
 * then per entry the key, a tag (u8), the expiry (f64, only when the tag says there is one) and the value: an int32
 * or a double as such, anything else as JSON text (map state as its entry list). Keys are written as they are, not
 * inside JSON text: no escaping, no big intermediate strings, and numbers, the common case of small state, need no
 * parsing on restore.
 */
class BinarySink implements SnapshotSink {
  readonly #w: ByteWriter;
  readonly #statesAt: number;
  #states = 0;
  #start = 0;
  #countAt = 0;
  #count = 0;
  #codec: StateCodec<unknown> | undefined;

  constructor(writer: ByteWriter) {
    this.#w = writer;
    this.#statesAt = writer.pos;
    writer.u32(0);
  }

  begin(table: StateTable): void {
    const w = this.#w;
    this.#start = w.pos;
    this.#codec = table.codec;
    w.string(table.name);
    w.u8(KINDS.indexOf(table.kind));
    this.#countAt = w.pos;
    w.u32(0);
    this.#count = 0;
  }

  entry(key: string, e: Entry): void {
    const w = this.#w;
    w.string(key);
    const v = e.v;
    const expiry = e.exp !== 0 ? HAS_EXPIRY : 0;
    const bytes = v instanceof Uint8Array ? v : this.#codec !== undefined ? this.#codec.encode(v) : undefined;
    const type =
      bytes !== undefined
        ? TAG_BYTES
        : typeof v !== 'number'
          ? TAG_JSON
          : (v | 0) === v && (v !== 0 || 1 / v > 0) // -0 is not int32
            ? TAG_I32
            : TAG_F64;
    w.u8(type | expiry);
    if (expiry) w.f64(e.exp);
    if (bytes !== undefined) {
      w.u32(bytes.byteLength);
      w.raw(bytes);
    } else if (type === TAG_I32) w.i32(v as number);
    else if (type === TAG_F64) w.f64(v as number);
    else w.string(JSON.stringify(v instanceof Map ? [...(v as Map<string, unknown>)] : v) ?? 'null');
    this.#count++;
  }

  end(): void {
    const w = this.#w;
    if (this.#count === 0) {
      w.pos = this.#start;
      return;
    }
    w.view.setUint32(this.#countAt, this.#count, true);
    this.#states++;
  }

  finish(): void {
    this.#w.view.setUint32(this.#statesAt, this.#states, true);
  }
}

/** Reads back one key group written by {@link KeyedStateSnapshot.keyGroupBytes}, as JSON-safe columns. */
export function decodeKeyGroupState(bytes: Uint8Array): Record<string, KeyGroupStateData> {
  const rd = new ByteReader(
    new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    0,
  );
  const out: Record<string, KeyGroupStateData> = {};
  for (let states = rd.u32(); states > 0; states--) {
    const name = rd.string();
    const kind = KINDS[rd.u8()];
    if (kind === undefined) throw new CepheusError('STATE_RESTORE_FAILED', `state '${name}': unknown kind`);
    const count = rd.u32();
    const keys = new Array<string>(count);
    const values = new Array<unknown>(count);
    const expires = new Array<number>(count);
    for (let i = 0; i < count; i++) {
      keys[i] = rd.string();
      const tag = rd.u8();
      expires[i] = tag & HAS_EXPIRY ? rd.f64() : 0;
      const type = tag & TAG_TYPE;
      if (type === TAG_BYTES) {
        const n = rd.u32();
        values[i] = Uint8Array.prototype.slice.call(rd.bytes, rd.pos, rd.pos + n);
        rd.pos += n;
        continue;
      }
      values[i] = type === TAG_I32 ? rd.i32() : type === TAG_F64 ? rd.f64() : JSON.parse(rd.string());
    }
    out[name] = { kind, keys, values, expires };
  }
  return out;
}
