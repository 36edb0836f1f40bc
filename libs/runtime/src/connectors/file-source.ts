import { readFile } from 'node:fs/promises';
import { CepheusError } from '@cepheus/common';
import type { Source, SourceReader, SourceRecord, SplitState } from './source';

/** Options of a {@link FileSource}. */
export interface FileSourceOptions<T> {
  /** JSON-lines files; each file is one split. */
  paths: readonly string[];
  name?: string;
  /** Event time of a record. @defaultValue the line number */
  timestamp?: (value: T, line: number) => number;
}

/**
 * JSON-lines files as a bounded source (the embedded mode's input): one split per file, the offset is the number of
 * the next line. A reader loads its files when they are assigned (embedded inputs are small; a Kafka source is the
 * way to stream big ones). Blank lines are skipped; a line that is not JSON fails the job with EVENT_MALFORMED.
 */
export class FileSource<T> implements Source<T> {
  readonly name: string;
  readonly bounded = true;

  constructor(private readonly options: FileSourceOptions<T>) {
    this.name = options.name ?? 'file';
  }

  listSplits(): readonly string[] {
    return this.options.paths;
  }

  createReader(): SourceReader<T> {
    const timestamp = this.options.timestamp ?? ((_v: T, line: number) => line);
    const files: { path: string; lines: string[]; next: number }[] = [];
    let cursor = 0;
    return {
      async addSplits(splits: readonly SplitState[]) {
        for (const s of splits) {
          const lines = (await readFile(s.split, 'utf8')).split('\n');
          files.push({ path: s.split, lines, next: typeof s.offset === 'number' ? s.offset : 0 });
        }
      },
      poll(max: number): SourceRecord<T>[] {
        const out: SourceRecord<T>[] = [];
        for (let tries = 0; tries < files.length && out.length < max; tries++) {
          const f = files[cursor++ % files.length]!;
          while (f.next < f.lines.length && out.length < max) {
            const line = f.lines[f.next]!;
            const n = f.next++;
            if (line.trim() === '') continue;
            let value: T;
            try {
              value = JSON.parse(line) as T;
            } catch (error) {
              throw new CepheusError('EVENT_MALFORMED', `${f.path}:${n + 1}: not JSON`, { cause: error });
            }
            out.push({ value, timestamp: timestamp(value, n), split: f.path });
          }
        }
        return out;
      },
      snapshotState: () => files.map((f) => ({ split: f.path, offset: f.next })),
      isFinished: () => files.every((f) => f.next >= f.lines.length),
      isSplitFinished: (split: string) => {
        const f = files.find((x) => x.path === split);
        return f !== undefined && f.next >= f.lines.length;
      },
    };
  }
}
