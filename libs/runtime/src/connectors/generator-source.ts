import type { Source, SourceReader, SourceRecord, SplitState } from './source';

/** Options of a {@link GeneratorSource}. */
export interface GeneratorSourceOptions<T> {
  name?: string;
  /** Number of splits (think partitions). @defaultValue 1 */
  splits?: number;
  /** Records per split; `Infinity` for an unbounded source. */
  recordsPerSplit: number;
  /** The record number `sequence` of split `split` (deterministic: a restore regenerates the same records). */
  generate: (split: number, sequence: number) => T;
  /** Event time of a record. @defaultValue the sequence number */
  timestamp?: (split: number, sequence: number) => number;
}

/**
 * A deterministic generator, one sequence per split; the offset is the next sequence number (Flink's
 * `DataGeneratorSource`). Used by the benchmark and the embedded demo.
 */
export class GeneratorSource<T> implements Source<T> {
  readonly name: string;
  readonly bounded: boolean;

  constructor(private readonly options: GeneratorSourceOptions<T>) {
    this.name = options.name ?? 'generator';
    this.bounded = Number.isFinite(options.recordsPerSplit);
  }

  listSplits(): string[] {
    return Array.from({ length: this.options.splits ?? 1 }, (_, i) => `split-${i}`);
  }

  createReader(): SourceReader<T> {
    const { recordsPerSplit, generate } = this.options;
    const timestamp = this.options.timestamp ?? ((_s: number, seq: number) => seq);
    const splits: { id: string; n: number; next: number }[] = [];
    return {
      addSplits(states: readonly SplitState[]) {
        for (const s of states) {
          splits.push({ id: s.split, n: Number(s.split.slice(6)), next: typeof s.offset === 'number' ? s.offset : 0 });
        }
      },
      poll(max: number): SourceRecord<T>[] {
        const out: SourceRecord<T>[] = [];
        if (splits.length === 0) return out;
        const per = Math.max(1, Math.floor(max / splits.length));
        for (const s of splits) {
          const end = Math.min(recordsPerSplit, s.next + per);
          for (; s.next < end; s.next++) {
            out.push({ value: generate(s.n, s.next), timestamp: timestamp(s.n, s.next), split: s.id });
          }
        }
        return out;
      },
      snapshotState: () => splits.map((s) => ({ split: s.id, offset: s.next })),
      isFinished: () => splits.every((s) => s.next >= recordsPerSplit),
      isSplitFinished: (id: string) => {
        const s = splits.find((x) => x.id === id);
        return s !== undefined && s.next >= recordsPerSplit;
      },
    };
  }
}
