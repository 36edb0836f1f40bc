import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CepheusError } from '@cepheus/common';
import {
  assertCheckpointAddress,
  type CheckpointKind,
  type CheckpointManifest,
  type CheckpointStorage,
} from './checkpoint-storage';

/** Options of {@link FileCheckpointStorage}. */
export interface FileCheckpointStorageOptions {
  /** Directory that holds one sub-directory per job. */
  directory: string;
  /**
   * fsync every chunk and the manifest before `commit` resolves, so that a completed checkpoint survives a power loss.
   * @defaultValue true
   */
  fsync?: boolean;
}

const MANIFEST = '_manifest.json';

/**
 * Checkpoints as files: `<directory>/<jobId>/<checkpointId>/<chunk>` plus `_manifest.json`. The manifest is written to
 * a temporary name and renamed, and rename is atomic on POSIX file systems: that rename is the commit point.
 */
export class FileCheckpointStorage implements CheckpointStorage {
  readonly #root: string;
  readonly #fsync: boolean;

  constructor(options: FileCheckpointStorageOptions) {
    this.#root = options.directory;
    this.#fsync = options.fsync ?? true;
  }

  #dir(jobId: string, checkpointId: number): string {
    // Zero-padded so that a directory listing sorts like the ids.
    return join(this.#root, jobId, String(checkpointId).padStart(12, '0'));
  }

  async #writeFile(path: string, data: Uint8Array): Promise<void> {
    const handle = await open(path, 'w');
    try {
      await handle.writeFile(data);
      if (this.#fsync) await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async writeChunk(jobId: string, checkpointId: number, name: string, data: Uint8Array): Promise<void> {
    assertCheckpointAddress(jobId, checkpointId, name);
    const dir = this.#dir(jobId, checkpointId);
    await mkdir(dir, { recursive: true });
    await this.#writeFile(join(dir, name), data);
  }

  async commit(manifest: CheckpointManifest): Promise<void> {
    assertCheckpointAddress(manifest.jobId, manifest.checkpointId);
    const dir = this.#dir(manifest.jobId, manifest.checkpointId);
    await mkdir(dir, { recursive: true });
    for (const ref of manifest.chunks) {
      const size = await stat(join(dir, ref.name)).then(
        (s) => s.size,
        () => -1,
      );
      if (size !== ref.bytes) {
        throw new CepheusError(
          'CHECKPOINT_FAILED',
          `checkpoint ${manifest.checkpointId}: chunk '${ref.name}' missing`,
          {
            details: { jobId: manifest.jobId, checkpointId: manifest.checkpointId, chunk: ref.name },
          },
        );
      }
    }
    const temp = join(dir, `${MANIFEST}.tmp`);
    await this.#writeFile(temp, Buffer.from(JSON.stringify(manifest)));
    await rename(temp, join(dir, MANIFEST));
  }

  async readManifest(jobId: string, checkpointId: number): Promise<CheckpointManifest | undefined> {
    assertCheckpointAddress(jobId, checkpointId);
    try {
      return JSON.parse(await readFile(join(this.#dir(jobId, checkpointId), MANIFEST), 'utf8')) as CheckpointManifest;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new CepheusError('STATE_RESTORE_FAILED', `cannot read manifest ${checkpointId} of '${jobId}'`, {
        cause: error,
      });
    }
  }

  async readLatest(jobId: string, kind?: CheckpointKind): Promise<CheckpointManifest | undefined> {
    const ids = await this.#ids(jobId);
    for (let i = ids.length - 1; i >= 0; i--) {
      const manifest = await this.readManifest(jobId, ids[i]!);
      if (manifest && (kind === undefined || manifest.kind === kind)) return manifest;
    }
    return undefined;
  }

  async readChunk(jobId: string, checkpointId: number, name: string): Promise<Uint8Array> {
    assertCheckpointAddress(jobId, checkpointId, name);
    try {
      const buffer = await readFile(join(this.#dir(jobId, checkpointId), name));
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      throw new CepheusError('STATE_RESTORE_FAILED', `checkpoint ${checkpointId} of '${jobId}': no chunk '${name}'`, {
        cause: error,
      });
    }
  }

  async #ids(jobId: string): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(join(this.#root, jobId));
    } catch {
      return [];
    }
    return names
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  }

  async list(jobId: string): Promise<CheckpointManifest[]> {
    const out: CheckpointManifest[] = [];
    for (const id of await this.#ids(jobId)) {
      const manifest = await this.readManifest(jobId, id);
      if (manifest) out.push(manifest);
    }
    return out;
  }

  async delete(jobId: string, checkpointId: number): Promise<void> {
    assertCheckpointAddress(jobId, checkpointId);
    const dir = this.#dir(jobId, checkpointId);
    // Manifest first: a crash in the middle leaves an uncommitted directory, never a committed one with holes.
    await rm(join(dir, MANIFEST), { force: true });
    await rm(dir, { recursive: true, force: true });
  }
}
