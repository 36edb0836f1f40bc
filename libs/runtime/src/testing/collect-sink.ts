import type { JsonValue } from '../checkpoint/checkpoint-storage';
import type { Sink, SinkWriter, SinkWriterContext } from '../connectors/sink';
import { TwoPhaseCommitSinkWriter } from '../connectors/two-phase-commit-sink-writer';

/** A pre-committed transaction of a {@link CollectSink}: its id and its records, stored in the checkpoint. */
export interface CollectTransaction {
  id: string;
  records: JsonValue[];
}

/**
 * A transactional in-memory sink for tests (in-thread runner only): records become visible in `committed` only when
 * the checkpoint that covers them completes, each transaction exactly once (commits are idempotent by id). `written`
 * counts every `write`, committed or not, to show that replays happened.
 */
export class CollectSink<T extends JsonValue> implements Sink<T> {
  readonly committed: T[] = [];
  readonly #done = new Set<string>();
  written = 0;

  constructor(readonly name = 'collect') {}

  createWriter(context: SinkWriterContext): SinkWriter<T> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const sink = this;
    return new (class extends TwoPhaseCommitSinkWriter<T, T[], JsonValue> {
      protected beginTransaction(): T[] {
        return [];
      }
      protected invoke(txn: T[], value: T): void {
        sink.written++;
        txn.push(value);
      }
      protected preCommit(txn: T[], checkpointId: number): JsonValue {
        const handle: CollectTransaction = {
          id: `${context.subtaskIndex}/${checkpointId}/${context.attempt}`,
          records: txn,
        };
        return handle as unknown as JsonValue;
      }
      protected commitTransaction(handle: JsonValue): void {
        sink.#commit(handle as unknown as CollectTransaction);
      }
      protected abortTransaction(): void {}
    })();
  }

  #commit(txn: CollectTransaction): void {
    if (this.#done.has(txn.id)) return;
    this.#done.add(txn.id);
    this.committed.push(...(txn.records as T[]));
  }

  recover(committables: readonly JsonValue[]): void {
    for (const c of committables) this.#commit(c as unknown as CollectTransaction);
  }
}
