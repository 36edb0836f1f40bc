import type { DecodeFailureReason } from '@cepheus/kafka';

/**
 * What part of the events topic a replay reads. Ranges are half-open: `from` is read, `to` is not.
 * - `time`: Kafka message timestamps (what `admin.fetchTopicOffsetsByTimestamp` searches), epoch milliseconds; a
 *   missing `to` means the end of the topic when the replay starts.
 * - `offsets`: explicit offsets per partition; partitions not listed are not read.
 */
export type ReplayRange =
  | { type: 'time'; from: number; to?: number }
  | { type: 'offsets'; partitions: Array<{ partition: number; from: string; to?: string }> };

/** One partition's bounded slice: `[start, end)`. `end` is captured when the replay starts, so the replay ends. */
export interface PartitionRange {
  partition: number;
  start: bigint;
  end: bigint;
}

/** Where a replay stands; reported while it runs. */
export interface ReplayProgress {
  eventsRead: number;
  /** Messages in the range (known up front for Kafka ranges and files). */
  eventsTotal: number;
  alerts: number;
  /** 0..1 */
  fraction: number;
}

/** What a replay did, once it ended (completed or cancelled). */
export interface ReplaySummary {
  replayId: string;
  outputTopic: string;
  status: 'completed' | 'cancelled';
  eventsRead: number;
  eventsTotal: number;
  alerts: number;
  alertsByRule: Record<string, number>;
  deadLetters: Partial<Record<DecodeFailureReason | 'LATE_EVENT', number>>;
  /** What the replay's processor did with each rule document it was given. */
  rules: Array<{ ruleId: string; version: number | null; status: string; reason?: string }>;
  durationMs: number;
  eventsPerSecond: number;
  /** The offsets read per partition (Kafka sources), as decimal strings so that the summary is JSON. */
  partitions?: Array<{ partition: number; start: string; end: string }>;
}
