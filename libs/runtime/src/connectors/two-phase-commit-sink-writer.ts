import type { JsonValue } from '../checkpoint/checkpoint-storage';
import type { SinkWriter } from './sink';

/**
 * Base of transactional writers, ported from Flink's `TwoPhaseCommitSinkFunction`: one open transaction receives the
 * records; at a barrier it is pre-committed and parked under the checkpoint id; when the checkpoint completes, every
 * parked transaction up to it is committed; on failure the open one is aborted. Subclasses implement the five steps.
 * `Handle` is the JSON-safe identity of a pre-committed transaction (e.g. a file name, a Kafka transactional id).
 */
export abstract class TwoPhaseCommitSinkWriter<T, Txn, Handle extends JsonValue> implements SinkWriter<T> {
  #current: Txn | undefined;
  readonly #pending = new Map<number, Handle>();

  protected abstract beginTransaction(): Txn;
  protected abstract invoke(transaction: Txn, value: T, timestamp: number): void;
  protected abstract preCommit(transaction: Txn, checkpointId: number): Handle | Promise<Handle>;
  protected abstract commitTransaction(handle: Handle): void | Promise<void>;
  protected abstract abortTransaction(transaction: Txn): void | Promise<void>;

  write(value: T, timestamp: number): void {
    if (this.#current === undefined) this.#current = this.beginTransaction();
    this.invoke(this.#current, value, timestamp);
  }

  async prepareCommit(checkpointId: number): Promise<Handle | undefined> {
    const txn = this.#current;
    this.#current = undefined;
    if (txn === undefined) return undefined;
    const handle = await this.preCommit(txn, checkpointId);
    this.#pending.set(checkpointId, handle);
    return handle;
  }

  async commit(checkpointId: number): Promise<void> {
    for (const [id, handle] of [...this.#pending]) {
      if (id > checkpointId) continue;
      await this.commitTransaction(handle);
      this.#pending.delete(id);
    }
  }

  async abort(): Promise<void> {
    const txn = this.#current;
    this.#current = undefined;
    if (txn !== undefined) await this.abortTransaction(txn);
  }
}
