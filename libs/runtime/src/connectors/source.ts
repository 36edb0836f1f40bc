import type { JsonValue } from '../checkpoint/checkpoint-storage';

/** One record read from a split, with its event time. */
export interface SourceRecord<T> {
  readonly value: T;
  /** Event time, epoch milliseconds (or any monotone unit the job agrees on). */
  readonly timestamp: number;
  /** The split (e.g. Kafka partition) it came from; watermarks are tracked per split. */
  readonly split: string;
}

/** A split and the position to read next from it: the operator state of a source (Flink FLIP-27 `SourceSplit`). */
export interface SplitState {
  readonly split: string;
  /** Opaque, JSON-safe position of the next record; `null` means "from the beginning". */
  readonly offset: JsonValue;
}

/** What a reader knows about where it runs. */
export interface SourceReaderContext {
  readonly jobId: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  /** 0 on the first run, +1 on every restart after a failure. */
  readonly attempt: number;
}

/**
 * Reads the splits assigned to one source subtask (Flink's `SourceReader`). Called from one thread only, between
 * records: `snapshotState` is taken at a checkpoint barrier and must describe the position after the last record
 * returned by `poll`.
 */
export interface SourceReader<T> {
  /** Assigns splits, with the positions restored from a checkpoint (or `null` offsets on a fresh start). */
  addSplits(splits: readonly SplitState[]): void | Promise<void>;
  /** Up to `max` records; an empty array when nothing is available now. May return a promise (network sources). */
  poll(max: number): SourceRecord<T>[] | Promise<SourceRecord<T>[]>;
  /** Positions of every assigned split after the last polled record. */
  snapshotState(): SplitState[];
  /** True when every assigned split is exhausted (bounded sources only). */
  isFinished(): boolean;
  /**
   * For a broadcast source: true once the reader has read what its input held when it started (the end offsets of a
   * topic at start). Without it, the first poll that returns fewer records than asked counts as caught up.
   */
  isCaughtUp?(): boolean;
  /** True when one split is exhausted, so its watermark no longer holds the others back. */
  isSplitFinished?(split: string): boolean;
  close?(): void | Promise<void>;
}

/**
 * A source: a fixed set of splits, and readers that read some of them. The runtime assigns splits to subtasks
 * round-robin in the order `listSplits` returns (Flink's split enumerator, reduced to a static assignment); after a
 * restore the splits are re-assigned the same way for the new parallelism, with their checkpointed offsets.
 */
export interface Source<T> {
  readonly name: string;
  /** A bounded source ends; the job finishes when all its sources have. */
  readonly bounded: boolean;
  listSplits(): readonly string[] | Promise<readonly string[]>;
  createReader(context: SourceReaderContext): SourceReader<T> | Promise<SourceReader<T>>;
}
