/**
 * The storage side of checkpoints and savepoints: a small, blob-oriented contract so that a backend (memory, local
 * files, Redis in `@cepheus/redis`) only moves bytes and one JSON manifest per checkpoint. The runtime decides what the
 * blobs contain; a backend never parses them.
 *
 * The two-step write (chunks first, then `commit` of the manifest) is the "completed checkpoint" rule of Flink's
 * `CheckpointCoordinator` / `CompletedCheckpointStore`: a checkpoint exists for readers only once its manifest is
 * committed, so a crash half-way through a snapshot leaves no checkpoint a restore could pick.
 */

/** Version of the manifest and chunk layout; a savepoint records it so that a later runtime can read or refuse it. */
export const CHECKPOINT_FORMAT_VERSION = 1;

/** A checkpoint is taken by the coordinator on an interval and retained up to a count; a savepoint on demand. */
export type CheckpointKind = 'checkpoint' | 'savepoint';

/** A JSON value, as stored verbatim in a manifest's metadata. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One blob of a checkpoint, as listed in its manifest. */
export interface ChunkRef {
  /** Blob name, unique within the checkpoint: `[A-Za-z0-9._-]+`, e.g. `kg-17` or `broadcast`. */
  name: string;
  /** Size in bytes, checked on read. */
  bytes: number;
  /**
   * For keyed state: the first key group the blob holds, so that a restore at another parallelism reads only the
   * blobs that overlap its range.
   */
  keyGroup?: number;
  /** For keyed state: the last key group the blob holds (inclusive); absent means `keyGroup` alone. */
  keyGroupEnd?: number;
}

/** The JSON document that makes a checkpoint visible. */
export interface CheckpointManifest {
  formatVersion: number;
  jobId: string;
  /** Positive integer; checkpoints and savepoints of one job share one increasing sequence. */
  checkpointId: number;
  kind: CheckpointKind;
  /** Epoch milliseconds at which the checkpoint was triggered. */
  createdAt: number;
  maxParallelism: number;
  /** Parallelism of the job that wrote it (informative: a restore may use another one). */
  parallelism: number;
  chunks: ChunkRef[];
  /** Runtime-owned metadata (source offsets, pending sink transactions, digests); stored and returned verbatim. */
  metadata: { [key: string]: JsonValue };
}

/**
 * Where checkpoints live. Every method is per job. Implementations must pass the shared conformance suite in
 * `@cepheus/runtime/testing` (`describeCheckpointStorageConformance`).
 *
 * Contract:
 * - `writeChunk` may be called several times for one name before `commit` (the last write wins). Once its promise
 *   settles, the implementation holds no reference to `data`: callers reuse the buffer for the next checkpoint.
 * - `commit` is atomic: readers see the whole checkpoint or nothing; it rejects with `CHECKPOINT_FAILED` when a chunk
 *   the manifest lists was not written or has another size. Committing the same manifest twice is harmless.
 * - Uncommitted checkpoints are invisible to `readManifest`, `readLatest` and `list`.
 * - `readChunk` rejects with `STATE_RESTORE_FAILED` when the blob is missing.
 * - `delete` removes a checkpoint (committed or not) and its chunks; deleting twice is harmless.
 */
export interface CheckpointStorage {
  writeChunk(jobId: string, checkpointId: number, name: string, data: Uint8Array): Promise<void>;
  commit(manifest: CheckpointManifest): Promise<void>;
  readManifest(jobId: string, checkpointId: number): Promise<CheckpointManifest | undefined>;
  /** The committed checkpoint with the highest id, optionally only of one kind. */
  readLatest(jobId: string, kind?: CheckpointKind): Promise<CheckpointManifest | undefined>;
  readChunk(jobId: string, checkpointId: number, name: string): Promise<Uint8Array>;
  /** Committed checkpoints of the job, ascending by id. */
  list(jobId: string): Promise<CheckpointManifest[]>;
  delete(jobId: string, checkpointId: number): Promise<void>;
  /** Releases connections or handles; optional. */
  close?(): Promise<void>;
}

const CHUNK_NAME = /^[A-Za-z0-9._-]+$/;

/** Shared argument checks, so every backend refuses the same bad input the same way. */
export function assertCheckpointAddress(jobId: string, checkpointId: number, name?: string): void {
  if (!CHUNK_NAME.test(jobId)) throw new TypeError(`invalid job id '${jobId}': use [A-Za-z0-9._-]+`);
  if (!Number.isSafeInteger(checkpointId) || checkpointId <= 0) {
    throw new TypeError(`invalid checkpoint id ${checkpointId}: a positive integer`);
  }
  if (name !== undefined && !CHUNK_NAME.test(name)) throw new TypeError(`invalid chunk name '${name}'`);
}
