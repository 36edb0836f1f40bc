import { mkdirSync } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonValue } from '../checkpoint/checkpoint-storage';
import type { Sink, SinkWriter, SinkWriterContext } from './sink';
import { TwoPhaseCommitSinkWriter } from './two-phase-commit-sink-writer';

/** Options of a {@link FileSink}. */
export interface FileSinkOptions {
  /** Directory of the output files. */
  directory: string;
  /** Prefix of the file names, and the sink's name. @defaultValue 'out' */
  name?: string;
  /** fsync a transaction's file before it counts as pre-committed. @defaultValue true */
  fsync?: boolean;
}

/** Handle of a pre-committed file transaction. */
interface FileTransaction {
  pending: string;
  final: string;
}

const PENDING = '.pending';

/**
 * JSON-lines files with exactly-once output (Flink's `FileSink` two-phase protocol, one file per transaction): the
 * records of a checkpoint interval are written to `<name>-<checkpoint>-<subtask>-<attempt>.jsonl.pending` at the
 * barrier, and renamed to `.jsonl` when the checkpoint completes. Readers take only `.jsonl` files.
 */
export class FileSink<T> implements Sink<T> {
  readonly name: string;
  readonly #dir: string;
  readonly #fsync: boolean;

  constructor(options: FileSinkOptions) {
    this.name = options.name ?? 'out';
    this.#dir = options.directory;
    this.#fsync = options.fsync ?? true;
  }

  createWriter(context: SinkWriterContext): SinkWriter<T> {
    mkdirSync(this.#dir, { recursive: true });
    const dir = this.#dir;
    const name = this.name;
    const fsync = this.#fsync;
    return new (class extends TwoPhaseCommitSinkWriter<T, string[], JsonValue> {
      protected beginTransaction(): string[] {
        return [];
      }
      protected invoke(lines: string[], value: T): void {
        lines.push(JSON.stringify(value));
      }
      protected async preCommit(lines: string[], checkpointId: number): Promise<JsonValue> {
        const final = `${name}-${String(checkpointId).padStart(8, '0')}-${context.subtaskIndex}-${context.attempt}.jsonl`;
        const pending = final + PENDING;
        const handle = await open(join(dir, pending), 'w');
        try {
          await handle.writeFile(lines.length > 0 ? lines.join('\n') + '\n' : '');
          if (fsync) await handle.sync();
        } finally {
          await handle.close();
        }
        const txn: FileTransaction = { pending, final };
        return txn as unknown as JsonValue;
      }
      protected async commitTransaction(handle: JsonValue): Promise<void> {
        await commitFile(dir, handle as unknown as FileTransaction);
      }
      protected abortTransaction(): void {
        // Nothing reached the disk before pre-commit.
      }
    })();
  }

  async recover(committables: readonly JsonValue[]): Promise<void> {
    mkdirSync(this.#dir, { recursive: true });
    const keep = new Set<string>();
    for (const c of committables) {
      const txn = c as unknown as FileTransaction;
      await commitFile(this.#dir, txn);
      keep.add(txn.pending);
    }
    // Pending files not in the restored checkpoint belong to checkpoints that never completed.
    for (const f of await readdir(this.#dir)) {
      if (f.startsWith(`${this.name}-`) && f.endsWith(PENDING) && !keep.has(f))
        await rm(join(this.#dir, f), { force: true });
    }
  }

  /** Committed records, in file-name order (checkpoint, then subtask). */
  static async readCommitted<T>(directory: string, name = 'out'): Promise<T[]> {
    const out: T[] = [];
    const files = (await readdir(directory)).filter((f) => f.startsWith(`${name}-`) && f.endsWith('.jsonl')).sort();
    for (const f of files) {
      for (const line of (await readFile(join(directory, f), 'utf8')).split('\n'))
        if (line) out.push(JSON.parse(line) as T);
    }
    return out;
  }
}

async function commitFile(dir: string, txn: FileTransaction): Promise<void> {
  try {
    await rename(join(dir, txn.pending), join(dir, txn.final));
  } catch (error) {
    // Committed before (idempotent commit): the final file is there and the pending one is gone.
    const exists = await stat(join(dir, txn.final)).then(
      () => true,
      () => false,
    );
    if (!exists) throw error;
  }
}
