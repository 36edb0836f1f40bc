import { isCepheusError } from '@cepheus/common';
import {
  CHECKPOINT_FORMAT_VERSION,
  type CheckpointKind,
  type CheckpointManifest,
  type CheckpointStorage,
} from '../checkpoint/checkpoint-storage';

/** Options of {@link describeCheckpointStorageConformance}. */
export interface CheckpointStorageConformanceOptions {
  /** Size of the large-blob case in bytes. @defaultValue 3 MiB */
  largeChunkBytes?: number;
}

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function manifest(
  jobId: string,
  checkpointId: number,
  chunks: Record<string, Uint8Array>,
  kind: CheckpointKind = 'checkpoint',
): CheckpointManifest {
  return {
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    jobId,
    checkpointId,
    kind,
    createdAt: 1_700_000_000_000 + checkpointId,
    maxParallelism: 128,
    parallelism: 2,
    chunks: Object.entries(chunks).map(([name, data], i) => ({ name, bytes: data.byteLength, keyGroup: i })),
    metadata: { sources: { events: { 'p-0': 42 } }, note: 'ü ✓' },
  };
}

async function writeAndCommit(
  storage: CheckpointStorage,
  jobId: string,
  checkpointId: number,
  chunks: Record<string, Uint8Array>,
  kind: CheckpointKind = 'checkpoint',
): Promise<CheckpointManifest> {
  for (const [name, data] of Object.entries(chunks)) await storage.writeChunk(jobId, checkpointId, name, data);
  const m = manifest(jobId, checkpointId, chunks, kind);
  await storage.commit(m);
  return m;
}

async function rejectsWithCode(promise: Promise<unknown>, code: 'CHECKPOINT_FAILED' | 'STATE_RESTORE_FAILED') {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(isCepheusError(caught, code)).toBe(true);
}

/**
 * The one suite every {@link CheckpointStorage} passes (memory, file, and Redis in `@cepheus/redis`). Call it inside a
 * jest test file; `create` returns a fresh, empty storage per test, `destroy` cleans up after it.
 */
export function describeCheckpointStorageConformance(
  name: string,
  create: () => Promise<CheckpointStorage> | CheckpointStorage,
  destroy: (storage: CheckpointStorage) => Promise<void> | void = async (s) => s.close?.(),
  options: CheckpointStorageConformanceOptions = {},
): void {
  describe(`CheckpointStorage conformance: ${name}`, () => {
    let storage: CheckpointStorage;
    // Unique per test so that backends sharing a server (Redis) do not see each other's jobs.
    let job: string;
    let counter = 0;
    beforeEach(async () => {
      storage = await create();
      job = `conf-${process.pid}-${Date.now()}-${counter++}`;
    });
    afterEach(async () => {
      for (const m of await storage.list(job)) await storage.delete(job, m.checkpointId);
      await destroy(storage);
    });

    it('round-trips chunks and manifest byte for byte', async () => {
      const chunks = { 'kg-0': bytes(1000, 1), 'kg-5': bytes(17, 2), broadcast: new Uint8Array(0) };
      const written = await writeAndCommit(storage, job, 1, chunks);
      expect(await storage.readManifest(job, 1)).toEqual(written);
      for (const [n, data] of Object.entries(chunks)) expect(await storage.readChunk(job, 1, n)).toEqual(data);
    });

    it('keeps a large chunk intact', async () => {
      const big = bytes(options.largeChunkBytes ?? 3 * 1024 * 1024, 7);
      await writeAndCommit(storage, job, 3, { big });
      const back = await storage.readChunk(job, 3, 'big');
      expect(back.byteLength).toBe(big.byteLength);
      expect(Buffer.compare(Buffer.from(back), Buffer.from(big))).toBe(0);
    });

    it('hides a checkpoint until it is committed', async () => {
      await storage.writeChunk(job, 1, 'kg-0', bytes(10, 3));
      expect(await storage.readManifest(job, 1)).toBeUndefined();
      expect(await storage.readLatest(job)).toBeUndefined();
      expect(await storage.list(job)).toEqual([]);
    });

    it('lets the last write of a chunk win before commit', async () => {
      await storage.writeChunk(job, 1, 'kg-0', bytes(10, 3));
      const second = bytes(20, 4);
      await writeAndCommit(storage, job, 1, { 'kg-0': second });
      expect(await storage.readChunk(job, 1, 'kg-0')).toEqual(second);
    });

    it('refuses to commit a manifest whose chunks are missing or of another size', async () => {
      await rejectsWithCode(storage.commit(manifest(job, 1, { 'kg-0': bytes(4, 1) })), 'CHECKPOINT_FAILED');
      await storage.writeChunk(job, 2, 'kg-0', bytes(4, 1));
      await rejectsWithCode(storage.commit(manifest(job, 2, { 'kg-0': bytes(5, 1) })), 'CHECKPOINT_FAILED');
      expect(await storage.list(job)).toEqual([]);
    });

    it('commits idempotently', async () => {
      const m = await writeAndCommit(storage, job, 1, { a: bytes(3, 1) });
      await storage.commit(m);
      expect(await storage.list(job)).toEqual([m]);
    });

    it('lists ascending and reads the latest, optionally by kind', async () => {
      await writeAndCommit(storage, job, 10, { a: bytes(3, 1) });
      await writeAndCommit(storage, job, 2, { a: bytes(3, 2) }, 'savepoint');
      await writeAndCommit(storage, job, 7, { a: bytes(3, 3) });
      expect((await storage.list(job)).map((m) => m.checkpointId)).toEqual([2, 7, 10]);
      expect((await storage.readLatest(job))?.checkpointId).toBe(10);
      expect((await storage.readLatest(job, 'savepoint'))?.checkpointId).toBe(2);
      expect((await storage.readLatest(job, 'checkpoint'))?.checkpointId).toBe(10);
    });

    it('deletes a checkpoint with its chunks, idempotently, and leaves the others', async () => {
      await writeAndCommit(storage, job, 1, { a: bytes(3, 1) });
      await writeAndCommit(storage, job, 2, { a: bytes(3, 2) });
      await storage.delete(job, 1);
      await storage.delete(job, 1);
      expect((await storage.list(job)).map((m) => m.checkpointId)).toEqual([2]);
      await rejectsWithCode(storage.readChunk(job, 1, 'a'), 'STATE_RESTORE_FAILED');
      expect(await storage.readChunk(job, 2, 'a')).toEqual(bytes(3, 2));
    });

    it('deletes an uncommitted checkpoint', async () => {
      await storage.writeChunk(job, 4, 'a', bytes(3, 1));
      await storage.delete(job, 4);
      await rejectsWithCode(storage.readChunk(job, 4, 'a'), 'STATE_RESTORE_FAILED');
    });

    it('reports a missing chunk as STATE_RESTORE_FAILED', async () => {
      await writeAndCommit(storage, job, 1, { a: bytes(3, 1) });
      await rejectsWithCode(storage.readChunk(job, 1, 'nope'), 'STATE_RESTORE_FAILED');
    });

    it('keeps jobs apart', async () => {
      const other = `${job}-other`;
      await writeAndCommit(storage, job, 1, { a: bytes(3, 1) });
      await writeAndCommit(storage, other, 1, { a: bytes(3, 9) });
      expect(await storage.readChunk(other, 1, 'a')).toEqual(bytes(3, 9));
      await storage.delete(other, 1);
      expect(await storage.readChunk(job, 1, 'a')).toEqual(bytes(3, 1));
      expect(await storage.list(other)).toEqual([]);
    });

    it('does not let a caller mutate a stored blob through its buffer', async () => {
      const data = bytes(8, 5);
      const copy = data.slice();
      await writeAndCommit(storage, job, 1, { a: data });
      data.fill(0);
      const back = await storage.readChunk(job, 1, 'a');
      expect(back).toEqual(copy);
      back.fill(1);
      expect(await storage.readChunk(job, 1, 'a')).toEqual(copy);
    });

    it('refuses invalid addresses', async () => {
      await expect(storage.writeChunk(job, 0, 'a', bytes(1, 1))).rejects.toThrow(TypeError);
      await expect(storage.writeChunk(job, 1, '../x', bytes(1, 1))).rejects.toThrow(TypeError);
      await expect(storage.writeChunk('a/b', 1, 'x', bytes(1, 1))).rejects.toThrow(TypeError);
    });
  });
}
