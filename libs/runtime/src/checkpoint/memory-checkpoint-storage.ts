import { CepheusError } from '@cepheus/common';
import {
  assertCheckpointAddress,
  type CheckpointKind,
  type CheckpointManifest,
  type CheckpointStorage,
} from './checkpoint-storage';

interface JobEntry {
  chunks: Map<number, Map<string, Uint8Array>>;
  manifests: Map<number, string>;
}

/**
 * Checkpoints in process memory: for tests, and as the local copy of local recovery. Blobs and manifests are copied in
 * and out so that a caller mutating its buffer cannot change a stored checkpoint (a real backend would not share them).
 */
export class MemoryCheckpointStorage implements CheckpointStorage {
  readonly #jobs = new Map<string, JobEntry>();

  #job(jobId: string): JobEntry {
    let job = this.#jobs.get(jobId);
    if (!job) {
      job = { chunks: new Map(), manifests: new Map() };
      this.#jobs.set(jobId, job);
    }
    return job;
  }

  async writeChunk(jobId: string, checkpointId: number, name: string, data: Uint8Array): Promise<void> {
    assertCheckpointAddress(jobId, checkpointId, name);
    const job = this.#job(jobId);
    let chunks = job.chunks.get(checkpointId);
    if (!chunks) job.chunks.set(checkpointId, (chunks = new Map()));
    chunks.set(name, data.slice());
  }

  async commit(manifest: CheckpointManifest): Promise<void> {
    assertCheckpointAddress(manifest.jobId, manifest.checkpointId);
    const job = this.#job(manifest.jobId);
    const chunks = job.chunks.get(manifest.checkpointId);
    for (const ref of manifest.chunks) {
      const blob = chunks?.get(ref.name);
      if (!blob || blob.byteLength !== ref.bytes) {
        throw new CepheusError(
          'CHECKPOINT_FAILED',
          `checkpoint ${manifest.checkpointId}: chunk '${ref.name}' missing`,
          {
            details: { jobId: manifest.jobId, checkpointId: manifest.checkpointId, chunk: ref.name },
          },
        );
      }
    }
    job.manifests.set(manifest.checkpointId, JSON.stringify(manifest));
  }

  async readManifest(jobId: string, checkpointId: number): Promise<CheckpointManifest | undefined> {
    assertCheckpointAddress(jobId, checkpointId);
    const text = this.#jobs.get(jobId)?.manifests.get(checkpointId);
    return text === undefined ? undefined : (JSON.parse(text) as CheckpointManifest);
  }

  async readLatest(jobId: string, kind?: CheckpointKind): Promise<CheckpointManifest | undefined> {
    const all = await this.list(jobId);
    for (let i = all.length - 1; i >= 0; i--) if (kind === undefined || all[i]!.kind === kind) return all[i];
    return undefined;
  }

  async readChunk(jobId: string, checkpointId: number, name: string): Promise<Uint8Array> {
    assertCheckpointAddress(jobId, checkpointId, name);
    const blob = this.#jobs.get(jobId)?.chunks.get(checkpointId)?.get(name);
    if (!blob) {
      throw new CepheusError('STATE_RESTORE_FAILED', `checkpoint ${checkpointId} of '${jobId}': no chunk '${name}'`);
    }
    return blob.slice();
  }

  async list(jobId: string): Promise<CheckpointManifest[]> {
    const job = this.#jobs.get(jobId);
    if (!job) return [];
    return [...job.manifests.keys()]
      .sort((a, b) => a - b)
      .map((id) => JSON.parse(job.manifests.get(id)!) as CheckpointManifest);
  }

  async delete(jobId: string, checkpointId: number): Promise<void> {
    assertCheckpointAddress(jobId, checkpointId);
    const job = this.#jobs.get(jobId);
    job?.manifests.delete(checkpointId);
    job?.chunks.delete(checkpointId);
  }
}
