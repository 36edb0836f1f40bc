import type { Source, SourceReader, SourceRecord, SplitState } from './source';

/** One element of a {@link CollectionSource}. */
export interface TimedValue<T> {
  value: T;
  timestamp: number;
}

/** Options of a {@link CollectionSource}. */
export interface CollectionSourceOptions {
  name?: string;
  /**
   * Emit at most this many records per split, then behave as an unbounded source with no new data (used to stop a
   * job with a savepoint at a known point). @defaultValue all records, then end (bounded)
   */
  limit?: number;
}

/**
 * A bounded source over in-memory arrays, one split per array; the offset is the index of the next element. For
 * tests and examples (Flink's `fromCollection`, but splittable and checkpointable).
 */
export class CollectionSource<T> implements Source<T> {
  readonly name: string;
  readonly bounded: boolean;
  readonly #splits: ReadonlyMap<string, readonly TimedValue<T>[]>;
  readonly #limit: number;

  constructor(splits: Record<string, readonly TimedValue<T>[]>, options: CollectionSourceOptions = {}) {
    this.name = options.name ?? 'collection';
    this.#splits = new Map(Object.entries(splits));
    this.#limit = options.limit ?? Infinity;
    this.bounded = options.limit === undefined;
  }

  listSplits(): string[] {
    return [...this.#splits.keys()];
  }

  createReader(): SourceReader<T> {
    const data = this.#splits;
    const limit = this.#limit;
    const positions = new Map<string, number>();
    let cursor = 0;
    return {
      addSplits(splits: readonly SplitState[]) {
        for (const s of splits) positions.set(s.split, typeof s.offset === 'number' ? s.offset : 0);
      },
      poll(max: number): SourceRecord<T>[] {
        const out: SourceRecord<T>[] = [];
        const ids = [...positions.keys()];
        // Round-robin over splits, a few records each, so that splits interleave as they would from Kafka.
        for (let tries = 0; tries < ids.length && out.length < max; tries++) {
          const split = ids[cursor++ % ids.length]!;
          const records = data.get(split) ?? [];
          let pos = positions.get(split)!;
          const end = Math.min(records.length, limit);
          const take = Math.min(end - pos, Math.max(1, Math.floor(max / ids.length)), max - out.length);
          for (let i = 0; i < take; i++, pos++) {
            const r = records[pos]!;
            out.push({ value: r.value, timestamp: r.timestamp, split });
          }
          positions.set(split, pos);
        }
        return out;
      },
      snapshotState: () => [...positions].map(([split, offset]) => ({ split, offset })),
      isFinished: () =>
        limit === Infinity && [...positions].every(([split, pos]) => pos >= (data.get(split)?.length ?? 0)),
      isSplitFinished: (split: string) => limit === Infinity && positions.get(split)! >= (data.get(split)?.length ?? 0),
    };
  }
}
