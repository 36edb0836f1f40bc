import { ByteReader, ByteWriter } from '@cepheus/common';
import type {
  BeginSnapshotOptions,
  DecodedEvent,
  EmittedAlert,
  PartitionProcessor,
  PartitionSnapshot,
  RuleRecord,
  RuleStatusReport,
} from '@cepheus/kafka';
import {
  RuleEvaluator,
  type AddedDeadline,
  type Alert,
  type JsonValue,
  type KeyState,
  RoutedKeyMap,
} from '@cepheus/rules';
import { RuleBook, type RuleBookOptions } from './rule-book';
import { WakeUpQueue, type WakeUpItem } from './wake-up-queue';

/** Keyed state of one events partition: the rules' state per routing key, and when each key next needs time. */
export interface RulesPartitionState {
  keys: Map<string, KeyState>;
  /**
   * The same keys as events find them: by grouping and raw value rather than by key text (see `RoutedKeyMap`), each
   * with its key text as stored, so that the other per-key tables are probed with an already hashed string. Holds every
   * key of `keys`: an entry is what `wakeUps` orders.
   */
  index: RoutedKeyMap<KeyEntry>;
  /** The keys (their entries in `index`) by when they next need time. */
  wakeUps: WakeUpQueue<KeyEntry>;
  /** The rule-set generation this state was last swept against (deleted rules' state goes at the next sweep). */
  generation: number;
  /** A snapshot being taken a slice at a time (see `beginSnapshot`). */
  snapshot?: SnapshotProgress;
  /**
   * Each unchanged key's record from an earlier snapshot (its bytes as a latin1 string), while full snapshots follow
   * one another: a checkpoint then encodes only the keys that changed since (most keys of a large state do not change
   * within one interval). Dropped when a key changes or the rules do, and kept empty while the job takes incremental
   * snapshots (see `beginSnapshot`).
   */
  encoded: Map<string, string>;
  encodedGeneration: number;
  /** Whether the last snapshot begun was asked to be incremental. */
  incrementalAsked?: boolean;
  /**
   * Keys changed (or gone) since the cut of the last snapshot begun, for the next incremental one; `all` until a first
   * snapshot starts the count, since nothing says yet what an earlier one holds.
   */
  changed: Set<string> | 'all';
  /** The latest snapshot begun and not yet confirmed or abandoned, with the changes since the confirmed one it holds. */
  unconfirmed?: { progress: SnapshotProgress; changes: Set<string> | 'all' };
}

/** A key of a partition as events find it (see `RulesPartitionState.index`). */
export interface KeyEntry extends WakeUpItem {
  readonly key: string;
  readonly keyState: KeyState;
}

/** The keys a snapshot still has to encode, and what it encoded so far. */
interface SnapshotProgress {
  todo: Set<string>;
  incremental: boolean;
  /** Where the snapshot is written (the job's writer, or one of its own), from `start` on. */
  out: ByteWriter;
  start: number;
  /** Whether keys encoded by `step` keep their encoding in `encoded`. */
  remember: boolean;
}

/*
 * Partition snapshot format 2 (binary): MAGIC, the format, a flags byte (bit 0: incremental), then records to the end:
 * RECORD_KEY, the key (varint length + UTF-8), the key's state (a u32 length, then `RuleEvaluator.writeState`'s
 * bytes), or RECORD_REMOVED and the key of a key gone since the parent snapshot. Format 1 was JSON
 * (`{"v":1,"keys":[[key,state]...]}`); restore reads both, so a chain may mix them across an upgrade.
 */
const MAGIC = [0x00, 0x43, 0x52, 0x53];
const FORMAT = 2;
const FLAG_INCREMENTAL = 1;
const RECORD_KEY = 1;
const RECORD_REMOVED = 2;
const SNAPSHOT_INITIAL_BYTES = 256 * 1024;
/** What most events and watermarks return: shared, so that they allocate nothing. */
const NO_ALERTS: readonly EmittedAlert[] = Object.freeze([]);

function writeHeader(out: ByteWriter, incremental: boolean): void {
  for (const byte of MAGIC) out.u8(byte);
  out.u8(FORMAT);
  out.u8(incremental ? FLAG_INCREMENTAL : 0);
}

export type RulesPartitionProcessorOptions = RuleBookOptions;

/**
 * The rule job's logic, independent of Kafka: rule records change the broadcast state (validated and compiled; a bad
 * record is rejected with its field errors and the previous version keeps running), events are routed to their
 * grouping keys and evaluated by `@cepheus/rules`, and the watermark times out sequences and closes windows.
 */
export class RulesPartitionProcessor implements PartitionProcessor<RulesPartitionState> {
  private readonly book: RuleBook;
  private readonly matches: Record<string, number> = {};
  private evaluations = 0;
  private readonly liveStates = new Set<WeakRef<RulesPartitionState>>();
  /** Reused by every `process` call: see `AddedDeadline`. */
  private readonly deadline: AddedDeadline = { next: Infinity };

  constructor(options: RulesPartitionProcessorOptions = {}) {
    this.book = new RuleBook(options);
  }

  applyRule(record: RuleRecord): RuleStatusReport {
    return this.book.apply(record);
  }

  broadcastDigest(): string {
    return this.book.digest;
  }

  private get evaluator(): RuleEvaluator {
    return this.book.evaluator;
  }

  private get generation(): number {
    return this.book.generation;
  }

  createPartitionState(): RulesPartitionState {
    const state: RulesPartitionState = {
      keys: new Map(),
      index: new RoutedKeyMap(),
      wakeUps: new WakeUpQueue(),
      generation: this.generation,
      encoded: new Map(),
      encodedGeneration: this.generation,
      changed: 'all',
    };
    this.liveStates.add(new WeakRef(state));
    return state;
  }

  processEvent(state: RulesPartitionState, event: DecodedEvent): readonly EmittedAlert[] {
    const payload = event.payload.id === undefined ? { ...event.payload, id: event.id } : event.payload;
    const routes = this.evaluator.route(payload);
    if (routes.length === 0) return NO_ALERTS;
    let out: EmittedAlert[] | undefined;
    for (const route of routes) {
      let entry = state.index.get(route);
      if (entry === undefined) {
        // Every key of `keys` has its entry, so a key without one is new.
        entry = { key: route.key, keyState: new Map(), wakeUp: Infinity };
        state.keys.set(route.key, entry.keyState);
        state.index.set(route, entry);
      }
      const { key, keyState } = entry;
      this.evaluations += route.ruleIds.length;
      this.beforeChange(state, key, keyState);
      const deadline = this.deadline;
      deadline.next = Infinity;
      const alerts = this.evaluator.process(keyState, route, payload, event.timestamp, deadline);
      // The earlier of the key's wake-up and the event's deadlines is never late (see `AddedDeadline`): not
      // `nextWakeUp`, which walks every rule state of the key (~30 slots on a merchant's) per event.
      if (deadline.next < entry.wakeUp) state.wakeUps.set(entry, deadline.next);
      if (alerts.length > 0) (out ??= []).push(...this.emitted(alerts));
    }
    return out ?? NO_ALERTS;
  }

  advanceWatermark(state: RulesPartitionState, watermark: number): readonly EmittedAlert[] {
    const due = state.generation === this.generation ? state.wakeUps.popDue(watermark) : this.sweep(state);
    let out: EmittedAlert[] | undefined;
    for (const entry of due) {
      const { key, keyState } = entry;
      this.beforeChange(state, key, keyState);
      const alerts = this.evaluator.advanceTime(keyState, key, watermark);
      if (keyState.size === 0) {
        state.wakeUps.set(entry, undefined);
        state.keys.delete(key);
        state.index.delete(key);
      } else {
        state.wakeUps.set(entry, this.evaluator.nextWakeUp(keyState));
      }
      if (alerts.length > 0) (out ??= []).push(...this.emitted(alerts));
    }
    return out ?? NO_ALERTS;
  }

  snapshotPartition(state: RulesPartitionState): Uint8Array {
    const out = new ByteWriter(SNAPSHOT_INITIAL_BYTES);
    writeHeader(out, false);
    for (const [key, keyState] of state.keys) this.writeKey(out, key, keyState);
    return out.take();
  }

  /**
   * The state as it is at this moment, encoded a slice of keys at a time so that events go on being processed in between
   * (copy-on-write per key: a key is encoded before its first change). A full snapshot's bytes equal
   * `snapshotPartition`'s; an incremental one holds only the keys changed since the confirmed snapshot before it, and
   * the keys gone since then. One snapshot at a time per partition state; a new one replaces an unfinished one, and
   * one neither confirmed nor abandoned counts as abandoned.
   */
  beginSnapshot(state: RulesPartitionState, options: BeginSnapshotOptions = {}): PartitionSnapshot {
    if (state.encodedGeneration !== this.generation) {
      // Encodings made under other rules may differ from what the current rules would write: start afresh.
      state.encoded.clear();
      state.encodedGeneration = this.generation;
    }
    // With incremental snapshots a key's next full snapshot is many checkpoints away: keeping every encoded key on the
    // heap until then cost more (GC: ~25% more young-generation collection time in the latency benchmark, all of it
    // promoted garbage) than encoding the keys again, which the binary format makes cheap.
    const remember = options.incremental !== true && state.incrementalAsked !== true;
    state.incrementalAsked = options.incremental === true;
    if (!remember) state.encoded.clear();
    const changes = state.unconfirmed ? unionOfChanges(state.unconfirmed.changes, state.changed) : state.changed;
    const incremental = options.incremental === true && changes !== 'all';
    const progress: SnapshotProgress = {
      todo: incremental ? new Set(changes) : new Set(state.keys.keys()),
      incremental,
      out: options.out ?? new ByteWriter(SNAPSHOT_INITIAL_BYTES),
      start: options.out?.length ?? 0,
      remember,
    };
    writeHeader(progress.out, incremental);
    state.snapshot = progress;
    state.unconfirmed = { progress, changes };
    state.changed = new Set();
    const done = (): boolean => {
      if (progress.todo.size > 0) return false;
      if (state.snapshot === progress) state.snapshot = undefined;
      return true;
    };
    const current = (): boolean => state.unconfirmed?.progress === progress;
    const cursor = progress.todo.values();
    return {
      kind: incremental ? 'incremental' : 'full',
      step: (budget) => {
        if (state.snapshot !== progress) throw new Error('a newer snapshot of this partition replaced this one');
        // One iterator across steps: a new one would walk past every key already deleted from `todo` each time (the
        // set keeps their slots until it shrinks), which made a snapshot quadratic in its keys.
        for (let next = cursor.next(); !next.done; next = cursor.next()) {
          this.keepForSnapshot(state, next.value, state.keys.get(next.value), progress.remember);
          if (--budget <= 0) break;
        }
        return done();
      },
      bytes: () => {
        if (!done()) throw new Error('the snapshot is not finished: call step until it returns true');
        return progress.out.view().subarray(progress.start);
      },
      confirm: () => {
        if (current()) state.unconfirmed = undefined;
      },
      abandon: () => {
        if (!current()) return;
        state.changed = unionOfChanges(changes, state.changed);
        state.unconfirmed = undefined;
      },
    };
  }

  restorePartition(data: Uint8Array, deltas: readonly Uint8Array[] = []): RulesPartitionState {
    const full = decodeRulesPartitionSnapshot(data);
    if (full.incremental) throw new Error('a restore starts from a full snapshot, not an incremental one');
    const keys = full.keys;
    for (const bytes of deltas) {
      const delta = decodeRulesPartitionSnapshot(bytes);
      if (!delta.incremental) throw new Error('the snapshots after the first must be incremental ones');
      for (const key of delta.removed) keys.delete(key);
      for (const [key, value] of delta.keys) keys.set(key, value);
    }
    const state = this.createPartitionState();
    // Restored from stored snapshots: the next incremental snapshot holds what changes from here.
    state.changed = new Set();
    for (const [key, data] of keys) {
      const keyState = data instanceof Uint8Array ? this.evaluator.readState(data) : this.evaluator.restore(data);
      if (keyState.size === 0) continue;
      state.keys.set(key, keyState);
      const entry: KeyEntry = { key, keyState, wakeUp: Infinity };
      state.index.setKey(key, entry);
      state.wakeUps.set(entry, this.evaluator.nextWakeUp(keyState));
    }
    return state;
  }

  partitionStats(state: RulesPartitionState): Record<string, number> {
    return { keys: state.keys.size, pendingWakeUps: state.wakeUps.size };
  }

  /** Rule evaluations (an event meeting a rule that can use it) since start. */
  evaluationCount(): number {
    return this.evaluations;
  }

  /** Alerts per rule id since start. */
  matchCounts(): Record<string, number> {
    return { ...this.matches };
  }

  /** Keys holding rule state across the partitions this instance owns. */
  openStateCount(): number {
    let total = 0;
    for (const ref of this.liveStates) {
      const state = ref.deref();
      if (state === undefined) this.liveStates.delete(ref);
      else total += state.keys.size;
    }
    return total;
  }

  /** The rules in broadcast state: id, version, status, kind. */
  describeRules(): Array<{ id: string; version: number; status: string; type: string }> {
    return this.book.describe();
  }

  /** A key is about to change (or be dropped): a snapshot in progress takes it as it is first; its encoding goes. */
  private beforeChange(state: RulesPartitionState, key: string, keyState: KeyState): void {
    if (state.snapshot !== undefined) this.keepForSnapshot(state, key, keyState, false);
    // Empty while snapshots are incremental: no probe per event then.
    if (state.encoded.size > 0) state.encoded.delete(key);
    if (state.changed !== 'all') state.changed.add(key);
  }

  /** Encodes a key into the snapshot in progress before it changes (or is dropped), if the snapshot still needs it. */
  private keepForSnapshot(
    state: RulesPartitionState,
    key: string,
    keyState: KeyState | undefined,
    remember: boolean,
  ): void {
    const progress = state.snapshot as SnapshotProgress;
    if (!progress.todo.delete(key)) return;
    if (keyState === undefined) {
      if (progress.incremental) {
        progress.out.u8(RECORD_REMOVED);
        progress.out.str(key);
      }
      return;
    }
    const out = progress.out;
    const known = state.encoded.get(key);
    if (known !== undefined) {
      out.latin1(known);
    } else {
      const start = out.length;
      this.writeKey(out, key, keyState);
      if (remember) state.encoded.set(key, out.latin1Since(start));
    }
  }

  /** One key's record of a partition snapshot: its key and state. */
  private writeKey(out: ByteWriter, key: string, keyState: KeyState): void {
    out.u8(RECORD_KEY);
    out.str(key);
    const at = out.reserveU32();
    this.evaluator.writeState(keyState, out);
    out.patchU32(at, out.length - at - 4);
  }

  /** After a rule change: every key is visited once, so that state of deleted or replaced rules is dropped. */
  private sweep(state: RulesPartitionState): KeyEntry[] {
    state.generation = this.generation;
    const entries: KeyEntry[] = [];
    for (const [key, keyState] of state.keys) {
      let entry = state.index.getKey(key);
      if (entry === undefined) {
        // Every key has its entry (made by processEvent or restorePartition); should one be missing, it is made here
        // rather than the key left out of the sweep.
        entry = { key, keyState, wakeUp: Infinity };
        state.index.setKey(key, entry);
      }
      entries.push(entry);
    }
    return entries;
  }

  private emitted(alerts: readonly Alert[]): EmittedAlert[] {
    return alerts.map((alert) => {
      this.matches[alert.ruleId] = (this.matches[alert.ruleId] ?? 0) + 1;
      return { id: alert.alertId, key: alert.key, body: alert as unknown as Record<string, unknown> };
    });
  }
}

/** A partition snapshot's content: each key's state (binary, or the JSON form of format 1), and the keys gone. */
export interface DecodedRulesPartitionSnapshot {
  incremental: boolean;
  keys: Map<string, Uint8Array | JsonValue>;
  removed: string[];
}

/** Reads a partition snapshot of either format (binary 2, JSON 1) without decoding the key states. */
export function decodeRulesPartitionSnapshot(data: Uint8Array): DecodedRulesPartitionSnapshot {
  if (data.byteLength > 0 && data[0] === 0x7b) {
    const parsed = JSON.parse(Buffer.from(data).toString('utf8')) as {
      v: number;
      incremental?: boolean;
      keys: Array<[string, JsonValue]>;
      removed?: string[];
    };
    if (parsed.v !== 1) throw new Error(`unknown partition snapshot version ${parsed.v}`);
    return { incremental: parsed.incremental === true, keys: new Map(parsed.keys), removed: parsed.removed ?? [] };
  }
  if (data.byteLength < MAGIC.length + 2 || MAGIC.some((byte, i) => data[i] !== byte)) {
    throw new Error('not a rules partition snapshot');
  }
  if (data[MAGIC.length] !== FORMAT) throw new Error(`unknown partition snapshot version ${data[MAGIC.length]}`);
  const r = new ByteReader(data, MAGIC.length + 2);
  const out: DecodedRulesPartitionSnapshot = {
    incremental: (data[MAGIC.length + 1] & FLAG_INCREMENTAL) !== 0,
    keys: new Map(),
    removed: [],
  };
  while (!r.done) {
    const record = r.u8();
    const key = r.str();
    if (record === RECORD_KEY) out.keys.set(key, r.bytes(r.u32()));
    else if (record === RECORD_REMOVED) out.removed.push(key);
    else throw new Error(`unknown partition snapshot record ${record}`);
  }
  return out;
}

function unionOfChanges(a: Set<string> | 'all', b: Set<string> | 'all'): Set<string> | 'all' {
  if (a === 'all' || b === 'all') return 'all';
  const union = new Set(a);
  for (const key of b) union.add(key);
  return union;
}
