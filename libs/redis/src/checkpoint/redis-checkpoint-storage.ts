import { CepheusError } from '@cepheus/common';
import {
  assertCheckpointAddress,
  type CheckpointKind,
  type CheckpointManifest,
  type CheckpointStorage,
} from '@cepheus/runtime';
import type Redis from 'ioredis';

export interface RedisCheckpointStorageOptions {
  /** Every key this storage writes starts with `<prefix>:<jobId>:`. @defaultValue `cepheus` */
  keyPrefix?: string;
  /**
   * Blobs are split into pieces of at most this size: Redis handles MB-sized values at hundreds of MB/s, while one
   * huge value blocks the server for its whole transfer. @defaultValue 4 MiB
   */
  pieceBytes?: number;
}

/**
 * Commits a checkpoint: checks that every chunk the manifest lists was written with the size it claims, then makes the
 * manifest visible and indexes it, all in one atomic step.
 *
 * KEYS[1] manifest key, KEYS[2] index (sorted set, score = checkpoint id)
 * ARGV[1] manifest JSON, ARGV[2] checkpoint id, ARGV[3] chunk-size key prefix, ARGV[4..] chunk name, bytes, ...
 * Returns 1 on success, or {-1, name} when a chunk is missing or has another size.
 */
const COMMIT_CHECKPOINT_LUA = `
for i = 4, #ARGV, 2 do
  local size = redis.call('HGET', ARGV[3], ARGV[i])
  if size ~= ARGV[i + 1] then return {-1, ARGV[i]} end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]), ARGV[2])
return 1
`;

/**
 * Checkpoints in Redis through ioredis: each blob is written as a few MB-sized pieces sent back to back (per-key
 * commands are bound by client overhead; large values move hundreds of MB/s), and a Lua script commits the manifest
 * atomically. Layout under `<prefix>:<jobId>:`: `cp:<id>:chunk:<name>:<piece>`, `cp:<id>:sizes` (hash name -> bytes,
 * pieces), `cp:<id>:manifest`, and the index `checkpoints`.
 */
export class RedisCheckpointStorage implements CheckpointStorage {
  private readonly prefix: string;
  private readonly pieceBytes: number;

  constructor(
    private readonly redis: Redis,
    options: RedisCheckpointStorageOptions = {},
  ) {
    this.prefix = options.keyPrefix ?? 'cepheus';
    this.pieceBytes = options.pieceBytes ?? 4 * 1024 * 1024;
    this.redis.defineCommand('cepheusCommitCheckpoint', { numberOfKeys: 2, lua: COMMIT_CHECKPOINT_LUA });
  }

  async writeChunk(jobId: string, checkpointId: number, name: string, data: Uint8Array): Promise<void> {
    assertCheckpointAddress(jobId, checkpointId, name);
    const base = this.checkpointKey(jobId, checkpointId);
    const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const pieces = Math.max(1, Math.ceil(buffer.length / this.pieceBytes));
    // Commands rather than a pipeline: ioredis joins a pipeline's commands into one more buffer before writing it, a
    // copy of the whole chunk into fresh memory; sent one after the other they still go out without waiting for replies.
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < pieces; i++) {
      writes.push(
        this.redis.set(`${base}:chunk:${name}:${i}`, buffer.subarray(i * this.pieceBytes, (i + 1) * this.pieceBytes)),
      );
    }
    writes.push(this.redis.hset(`${base}:sizes`, name, String(buffer.length), `${name}#pieces`, String(pieces)));
    const results = await Promise.allSettled(writes);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      throw new CepheusError(
        'CHECKPOINT_FAILED',
        `writing chunk ${name} of checkpoint ${checkpointId}: ${String(failed.reason)}`,
        { retriable: true, cause: failed.reason },
      );
    }
  }

  async commit(manifest: CheckpointManifest): Promise<void> {
    assertCheckpointAddress(manifest.jobId, manifest.checkpointId);
    const base = this.checkpointKey(manifest.jobId, manifest.checkpointId);
    const args = [JSON.stringify(manifest), String(manifest.checkpointId), `${base}:sizes`];
    for (const chunk of manifest.chunks) args.push(chunk.name, String(chunk.bytes));
    const commitScript = this.redis as unknown as {
      cepheusCommitCheckpoint(k1: string, k2: string, ...argv: string[]): Promise<number | [number, string]>;
    };
    let result: number | [number, string];
    try {
      result = await commitScript.cepheusCommitCheckpoint(`${base}:manifest`, this.indexKey(manifest.jobId), ...args);
    } catch (error) {
      throw new CepheusError('CHECKPOINT_FAILED', `committing checkpoint ${manifest.checkpointId}: ${String(error)}`, {
        retriable: true,
        cause: error,
      });
    }
    if (Array.isArray(result)) {
      throw new CepheusError(
        'CHECKPOINT_FAILED',
        `checkpoint ${manifest.checkpointId} lists chunk '${result[1]}', which was not written with that size`,
      );
    }
  }

  async readManifest(jobId: string, checkpointId: number): Promise<CheckpointManifest | undefined> {
    assertCheckpointAddress(jobId, checkpointId);
    const text = await this.redis.get(`${this.checkpointKey(jobId, checkpointId)}:manifest`);
    return text === null ? undefined : (JSON.parse(text) as CheckpointManifest);
  }

  async readLatest(jobId: string, kind?: CheckpointKind): Promise<CheckpointManifest | undefined> {
    const ids = await this.redis.zrevrange(this.indexKey(jobId), 0, -1);
    for (const id of ids) {
      const manifest = await this.readManifest(jobId, Number(id));
      if (manifest && (kind === undefined || manifest.kind === kind)) return manifest;
    }
    return undefined;
  }

  async readChunk(jobId: string, checkpointId: number, name: string): Promise<Uint8Array> {
    assertCheckpointAddress(jobId, checkpointId, name);
    const base = this.checkpointKey(jobId, checkpointId);
    const [size, pieces] = await this.redis.hmget(`${base}:sizes`, name, `${name}#pieces`);
    if (size === null || pieces === null) {
      throw new CepheusError('STATE_RESTORE_FAILED', `checkpoint ${checkpointId} of ${jobId} has no chunk '${name}'`);
    }
    const pipeline = this.redis.pipeline();
    for (let i = 0; i < Number(pieces); i++) pipeline.getBuffer(`${base}:chunk:${name}:${i}`);
    const results = await pipeline.exec();
    const buffers: Buffer[] = [];
    for (const [error, value] of results ?? []) {
      if (error || !Buffer.isBuffer(value)) {
        throw new CepheusError('STATE_RESTORE_FAILED', `chunk '${name}' of checkpoint ${checkpointId} is incomplete`, {
          cause: error ?? undefined,
        });
      }
      buffers.push(value);
    }
    const data = Buffer.concat(buffers);
    if (data.length !== Number(size)) {
      throw new CepheusError(
        'STATE_RESTORE_FAILED',
        `chunk '${name}' of checkpoint ${checkpointId} has ${data.length} bytes, expected ${size}`,
      );
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  async list(jobId: string): Promise<CheckpointManifest[]> {
    const ids = await this.redis.zrange(this.indexKey(jobId), 0, -1);
    if (ids.length === 0) return [];
    const texts = await this.redis.mget(...ids.map((id) => `${this.checkpointKey(jobId, Number(id))}:manifest`));
    return texts.filter((t): t is string => t !== null).map((t) => JSON.parse(t) as CheckpointManifest);
  }

  async delete(jobId: string, checkpointId: number): Promise<void> {
    assertCheckpointAddress(jobId, checkpointId);
    const base = this.checkpointKey(jobId, checkpointId);
    const sizes = await this.redis.hgetall(`${base}:sizes`);
    const keys = [`${base}:manifest`, `${base}:sizes`];
    for (const [field, value] of Object.entries(sizes)) {
      if (!field.endsWith('#pieces')) continue;
      const name = field.slice(0, -'#pieces'.length);
      for (let i = 0; i < Number(value); i++) keys.push(`${base}:chunk:${name}:${i}`);
    }
    // The index entry goes first: a reader never sees a listed checkpoint whose chunks are gone.
    await this.redis.zrem(this.indexKey(jobId), String(checkpointId));
    await this.redis.del(...keys);
  }

  private checkpointKey(jobId: string, checkpointId: number): string {
    return `${this.prefix}:${jobId}:cp:${checkpointId}`;
  }

  private indexKey(jobId: string): string {
    return `${this.prefix}:${jobId}:checkpoints`;
  }
}
