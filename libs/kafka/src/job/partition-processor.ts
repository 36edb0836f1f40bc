import type { ByteWriter } from '@cepheus/common';
import type { DecodedEvent } from '../codec/event-decoder';
import type { RuleRecord } from '../source/rules-topic-reader';

/** An alert ready for the alerts topic: `id` is deterministic, so a consumer can deduplicate at-least-once output. */
export interface EmittedAlert {
  id: string;
  key: string;
  /** The alert document (JSON-safe). */
  body: Record<string, unknown>;
}

/** What an instance did with one rule record; published on the rules-status topic. */
export interface RuleStatusReport {
  ruleId: string;
  version: number | null;
  status: 'applied' | 'rejected' | 'deleted';
  reason?: string;
  errors?: Array<{ field: string; reason: string }>;
}

/**
 * The evaluation logic the Kafka job drives: broadcast rules (identical on every instance, changed only by
 * `applyRule`) and keyed state kept per events partition, so that a partition's state moves with the partition when
 * the consumer group rebalances. Implementations are synchronous and deterministic in the events and rules they see.
 */
export interface PartitionProcessor<S> {
  applyRule(record: RuleRecord): RuleStatusReport;
  /** sha256 of the canonical broadcast state: equal on every instance that applied the same rule records. */
  broadcastDigest(): string;
  /** Tells keyed state of deleted rules to go; called after `applyRule` changes the rule set. */
  createPartitionState(): S;
  processEvent(state: S, event: DecodedEvent): readonly EmittedAlert[];
  /** Event time moved to `watermark`: windows close, sequences time out. */
  advanceWatermark(state: S, watermark: number): readonly EmittedAlert[];
  snapshotPartition(state: S): Uint8Array;
  /**
   * Optional: starts a snapshot of the state as it is now, taken a slice at a time (`step`) while processing goes on;
   * the processor keeps it exact by writing a key's state into the snapshot before it first changes it. Without it,
   * the job calls `snapshotPartition`, which stops processing for as long as the whole state takes to encode.
   */
  beginSnapshot?(state: S, options?: BeginSnapshotOptions): PartitionSnapshot;
  /**
   * The state a snapshot stands for: `data` is a full snapshot, `deltas` (oldest first) the incremental ones taken
   * after it, each holding what changed since the one before.
   */
  restorePartition(data: Uint8Array, deltas?: readonly Uint8Array[]): S;
  /** Counters for metrics, e.g. keys, partial matches. */
  partitionStats?(state: S): Record<string, number>;
}

export interface BeginSnapshotOptions {
  /**
   * Whether the snapshot may hold only the keys changed since the last snapshot the job confirmed (`confirm`), rather
   * than every key. The job asks for a full one when it has no stored base to chain on, and now and then so that a
   * restore reads a short chain. @defaultValue false
   */
  incremental?: boolean;
  /**
   * Where to write the snapshot's bytes, after what the writer already holds (the job's header): a processor that uses
   * it writes nothing of its own, and `bytes` returns a view of what it appended. The job keeps one writer per
   * partition and reuses its buffer at the next checkpoint, once this snapshot is stored. A processor may ignore it.
   */
  out?: ByteWriter;
}

/**
 * A snapshot in progress (see `PartitionProcessor.beginSnapshot`). A full one's bytes equal what `snapshotPartition`
 * gives; an incremental one's hold the keys changed (or gone) since the confirmed snapshot before it.
 */
export interface PartitionSnapshot {
  /** Whether the bytes hold every key, or only the changes since the last confirmed snapshot. */
  readonly kind: 'full' | 'incremental';
  /** Encodes up to `budget` more keys; true once every key is in. */
  step(budget: number): boolean;
  /** The encoded state, once `step` returned true. */
  bytes(): Uint8Array;
  /** The snapshot is stored and committed: later incremental snapshots hold only what changes after it. */
  confirm(): void;
  /** The snapshot was not committed: its changes go into the next snapshot again. */
  abandon(): void;
}
