import type { JsonValue } from '../checkpoint/checkpoint-storage';
import type { SplitState } from './source';

/** The source positions a checkpoint holds: source name -> the position of each of its splits. */
export type CheckpointSources = Readonly<Record<string, readonly SplitState[]>>;

/** What a writer knows about where it runs. */
export interface SinkWriterContext {
  readonly jobId: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly attempt: number;
  /** The checkpoint this run was restored from, if any: transactions after it are lingering and may be aborted. */
  readonly restoredCheckpointId: number | undefined;
}

/**
 * Writes the records of one sink subtask (Flink's `SinkWriter` with its pre-commit step). Two-phase commit:
 * - `write` adds a record to the open transaction (synchronously: buffer, do not await per record);
 * - `prepareCommit(n)` is called at checkpoint n's barrier: flush and pre-commit the open transaction, return a
 *   JSON-safe committable that identifies it (it is stored in the checkpoint), and open the next one;
 * - `commit(n)` is called once checkpoint n is durable: commit every pre-committed transaction up to n;
 * - `abort()` is called when the job fails or is cancelled: discard the open transaction.
 * A non-transactional sink returns `undefined` from `prepareCommit` and does nothing on `commit` (at-least-once).
 */
export interface SinkWriter<T> {
  write(value: T, timestamp: number): void;
  prepareCommit(checkpointId: number): JsonValue | undefined | Promise<JsonValue | undefined>;
  commit(checkpointId: number): void | Promise<void>;
  abort?(): void | Promise<void>;
  close?(): void | Promise<void>;
}

/** A sink: a factory of writers, one per subtask, and the recovery of prepared transactions. */
export interface Sink<T> {
  readonly name: string;
  createWriter(context: SinkWriterContext): SinkWriter<T> | Promise<SinkWriter<T>>;
  /**
   * Called once by the coordinator before every attempt starts (and before any writer exists), with every committable
   * of the checkpoint it restores (none on a fresh start): they were pre-committed and the checkpoint completed, but
   * the commit may not have happened before the failure. Must be idempotent (Flink's `recoverAndCommit`). It is also
   * the place to abort lingering transactions of checkpoints that never completed (Flink's `recoverAndAbort`).
   */
  recover?(
    committables: readonly JsonValue[],
    restoredCheckpointId: number | undefined,
    sources: CheckpointSources,
  ): void | Promise<void>;
  /**
   * A global committer (Flink Sink V2's committer, run once per checkpoint rather than once per writer): called by the
   * coordinator once checkpoint n is durable and before the writers' `commit(n)`, with the committables of every
   * writer and the source positions the checkpoint holds. A sink whose output must commit atomically with the source
   * positions (Kafka: the records and `sendOffsets` in one transaction) does it here. If it throws, the checkpoint is
   * given up and the job restarts from the one before; `recover` then sees that checkpoint's committables again.
   */
  commitCheckpoint?(
    checkpointId: number,
    committables: readonly JsonValue[],
    sources: CheckpointSources,
  ): Promise<void>;
}
