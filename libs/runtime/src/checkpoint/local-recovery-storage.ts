import type { CheckpointKind, CheckpointManifest, CheckpointStorage } from './checkpoint-storage';

/**
 * Local recovery (Flink's task-local state): every chunk is written to a fast local store as well as to the primary
 * (durable) one; a restore reads a chunk locally when the local store holds the same committed checkpoint, from the
 * primary otherwise. The primary is the authority on which checkpoints exist; a local write that fails is ignored.
 */
export class LocalRecoveryStorage implements CheckpointStorage {
  #localReads = 0;
  #remoteReads = 0;

  constructor(
    readonly primary: CheckpointStorage,
    readonly local: CheckpointStorage,
  ) {}

  /** Chunks served by the local copy / by the primary since creation. */
  get reads(): { local: number; remote: number } {
    return { local: this.#localReads, remote: this.#remoteReads };
  }

  async writeChunk(jobId: string, checkpointId: number, name: string, data: Uint8Array): Promise<void> {
    await Promise.all([
      this.primary.writeChunk(jobId, checkpointId, name, data),
      this.local.writeChunk(jobId, checkpointId, name, data).catch(() => {}),
    ]);
  }

  async commit(manifest: CheckpointManifest): Promise<void> {
    await this.primary.commit(manifest);
    await this.local.commit(manifest).catch(() => {});
  }

  readManifest(jobId: string, checkpointId: number): Promise<CheckpointManifest | undefined> {
    return this.primary.readManifest(jobId, checkpointId);
  }

  readLatest(jobId: string, kind?: CheckpointKind): Promise<CheckpointManifest | undefined> {
    return this.primary.readLatest(jobId, kind);
  }

  async readChunk(jobId: string, checkpointId: number, name: string): Promise<Uint8Array> {
    const local = await this.local.readManifest(jobId, checkpointId).catch(() => undefined);
    if (local && local.chunks.some((c) => c.name === name)) {
      try {
        const data = await this.local.readChunk(jobId, checkpointId, name);
        this.#localReads++;
        return data;
      } catch {
        // Fall through to the primary.
      }
    }
    this.#remoteReads++;
    return this.primary.readChunk(jobId, checkpointId, name);
  }

  list(jobId: string): Promise<CheckpointManifest[]> {
    return this.primary.list(jobId);
  }

  async delete(jobId: string, checkpointId: number): Promise<void> {
    await this.local.delete(jobId, checkpointId).catch(() => {});
    await this.primary.delete(jobId, checkpointId);
  }

  async close(): Promise<void> {
    await this.local.close?.();
    await this.primary.close?.();
  }
}
