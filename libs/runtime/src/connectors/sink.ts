import type { JsonValue } from '../checkpoint/checkpoint-storage';

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
  recover?(committables: readonly JsonValue[], restoredCheckpointId: number | undefined): void | Promise<void>;
}
