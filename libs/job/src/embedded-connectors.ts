import { readFile } from 'node:fs/promises';
import type { RuleRecord } from '@cepheus/kafka';
import type { JsonValue, Sink, SinkWriter, Source, SourceReader, SourceRecord, SplitState } from '@cepheus/runtime';
import type { RawEvent } from './decoding-source';

/** Lines of one split: given, or read from a file when the split is assigned. */
export type LinesInput = readonly string[] | { readonly path: string };

/**
 * JSON-lines inputs as a bounded raw events source (the embedded mode's events): one split per input, the offset is the
 * number of the next line. Lines are not parsed here: the job's decoder does that, and a line that is not an event
 * goes to the dead letters with its reason instead of failing the job.
 */
export class LinesSource implements Source<RawEvent> {
  readonly name: string;
  readonly bounded = true;
  readonly #inputs: ReadonlyMap<string, LinesInput>;

  /** `inputs`: split name -> its lines. */
  constructor(inputs: ReadonlyMap<string, LinesInput>, name = 'events') {
    this.#inputs = inputs;
    this.name = name;
  }

  listSplits(): readonly string[] {
    return [...this.#inputs.keys()];
  }

  createReader(): SourceReader<RawEvent> {
    const inputs = this.#inputs;
    const splits: { split: string; lines: readonly string[]; next: number }[] = [];
    let cursor = 0;
    return {
      async addSplits(assigned: readonly SplitState[]) {
        for (const s of assigned) {
          const input = inputs.get(s.split);
          if (input === undefined) throw new Error(`no input named '${s.split}'`);
          const lines = 'path' in input ? (await readFile(input.path, 'utf8')).split('\n') : input;
          splits.push({ split: s.split, lines, next: typeof s.offset === 'number' ? s.offset : 0 });
        }
      },
      poll(max: number): SourceRecord<RawEvent>[] {
        const out: SourceRecord<RawEvent>[] = [];
        // Round-robin over the splits, a few lines each: their watermarks then advance together.
        const slice = Math.max(1, Math.ceil(max / Math.max(1, splits.length)));
        for (let tries = 0; tries < splits.length && out.length < max; tries++) {
          const s = splits[cursor++ % splits.length]!;
          const end = Math.min(s.lines.length, s.next + slice);
          for (; s.next < end && out.length < max; s.next++) {
            const line = s.lines[s.next]!;
            if (line.trim() === '') continue;
            const value: RawEvent = {
              topic: s.split,
              partition: 0,
              offset: String(s.next + 1),
              // A file has no record keys: the input's name stands for one (routing uses the rules' own fields).
              key: Buffer.from(s.split),
              value: Buffer.from(line),
            };
            // The record's timestamp is replaced by the event's own time when the job decodes it.
            out.push({ value, timestamp: 0, split: s.split });
          }
        }
        return out;
      },
      snapshotState: () => splits.map((s) => ({ split: s.split, offset: s.next })),
      isFinished: () => splits.every((s) => s.next >= s.lines.length),
      isSplitFinished: (split) => {
        const s = splits.find((x) => x.split === split);
        return s !== undefined && s.next >= s.lines.length;
      },
    };
  }
}

/** Rule documents as a bounded rules stream, in the given order (the embedded mode's rules). */
export class RuleDocumentsSource implements Source<RuleRecord> {
  readonly name = 'rules';
  readonly bounded = true;
  readonly #records: readonly RuleRecord[];

  constructor(documents: readonly unknown[]) {
    this.#records = documents.map((doc, i) => ({
      ruleId: String((doc as { id?: unknown } | null)?.id ?? `#${i}`),
      value: JSON.stringify(doc),
      offset: String(i),
      timestamp: 0,
    }));
  }

  listSplits(): readonly string[] {
    return ['rules'];
  }

  createReader(): SourceReader<RuleRecord> {
    const records = this.#records;
    let next = 0;
    return {
      addSplits(splits: readonly SplitState[]) {
        const offset = splits[0]?.offset;
        next = typeof offset === 'number' ? offset : 0;
      },
      poll(max: number): SourceRecord<RuleRecord>[] {
        const out: SourceRecord<RuleRecord>[] = [];
        for (; next < records.length && out.length < max; next++) {
          out.push({ value: records[next]!, timestamp: 0, split: 'rules' });
        }
        return out;
      },
      snapshotState: () => [{ split: 'rules', offset: next }],
      isFinished: () => next >= records.length,
    };
  }
}

/**
 * Keeps what a job writes in memory, exactly once: records written during a checkpoint interval are held until the
 * checkpoint completes, and dropped if the attempt fails (a restart writes them again). For jobs that run in this
 * thread; worker threads need a sink of their own, such as the runtime's file sink.
 */
export class MemorySink<T> implements Sink<T> {
  readonly name: string;
  readonly #committed: T[] = [];
  readonly #onCommit: ((value: T) => void) | undefined;

  constructor(name = 'memory', onCommit?: (value: T) => void) {
    this.name = name;
    this.#onCommit = onCommit;
  }

  /** Everything committed so far, in commit order. */
  get records(): readonly T[] {
    return this.#committed;
  }

  createWriter(): SinkWriter<T> {
    let open: T[] = [];
    const prepared = new Map<number, T[]>();
    return {
      write: (value: T) => void open.push(value),
      prepareCommit: (checkpointId: number): JsonValue | undefined => {
        prepared.set(checkpointId, open);
        open = [];
        return undefined;
      },
      commit: (checkpointId: number) => {
        for (const [id, records] of [...prepared].sort(([a], [b]) => a - b)) {
          if (id > checkpointId) break;
          for (const r of records) {
            this.#committed.push(r);
            this.#onCommit?.(r);
          }
          prepared.delete(id);
        }
      },
      abort: () => {
        open = [];
        prepared.clear();
      },
    };
  }
}
