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
  processEvent(state: S, event: DecodedEvent): EmittedAlert[];
  /** Event time moved to `watermark`: windows close, sequences time out. */
  advanceWatermark(state: S, watermark: number): EmittedAlert[];
  snapshotPartition(state: S): Uint8Array;
  restorePartition(data: Uint8Array): S;
  /** Counters for metrics, e.g. keys, partial matches. */
  partitionStats?(state: S): Record<string, number>;
}
