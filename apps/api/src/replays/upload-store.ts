import { randomUUID } from 'node:crypto';
import { HttpException, HttpStatus } from '@nestjs/common';
import type Redis from 'ioredis';

/** The upload quotas (docs/api.md, "Uploads"). */
export interface UploadQuotas {
  /** Largest single upload in bytes (`CEPHEUS_API_MAX_UPLOAD_BYTES`; the body parser enforces it first). */
  maxUploadBytes: number;
  /** How long an upload is kept, in seconds (`CEPHEUS_API_UPLOAD_TTL_SECONDS`). */
  ttlSeconds: number;
  /** Uploads kept at once per API key (`CEPHEUS_API_UPLOADS_PER_KEY`). */
  perKeyCount: number;
  /** Bytes kept at once per API key (`CEPHEUS_API_UPLOAD_BYTES_PER_KEY`). */
  perKeyBytes: number;
  /** Uploads kept at once, all keys (`CEPHEUS_API_UPLOADS_TOTAL`). */
  totalCount: number;
  /** Bytes kept at once, all keys (`CEPHEUS_API_UPLOAD_BYTES_TOTAL`). */
  totalBytes: number;
}

/**
 * reserve-upload.lua: drops expired reservations, then checks the four quotas and, when all hold, records the upload.
 * One script so that two uploads racing for the last room cannot both get it.
 *
 * KEYS[1] the key's uploads (sorted set: upload id -> expiry, ms)
 * KEYS[2] every upload (sorted set: upload id -> expiry, ms)
 * KEYS[3] sizes (hash: upload id -> bytes)
 * ARGV    now_ms, expires_at_ms, upload_id, bytes, per_key_count, per_key_bytes, total_count, total_bytes
 * Returns {0} when recorded, else {code, used, limit, retry_after_ms}: 1 per-key count, 2 per-key bytes, 3 total
 * count, 4 total bytes; retry_after_ms is when the oldest upload that counts expires.
 */
const RESERVE_UPLOAD_LUA = `
local now = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, id in ipairs(expired) do redis.call('HDEL', KEYS[3], id) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local bytes = tonumber(ARGV[4])
local function sum(ids)
  if #ids == 0 then return 0 end
  local total = 0
  for _, size in ipairs(redis.call('HMGET', KEYS[3], unpack(ids))) do total = total + (tonumber(size) or 0) end
  return total
end
local function oldest(key)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if #first == 0 then return 0 end
  return tonumber(first[2]) - now
end
local mine = redis.call('ZRANGE', KEYS[1], 0, -1)
if #mine + 1 > tonumber(ARGV[5]) then return {1, #mine, tonumber(ARGV[5]), oldest(KEYS[1])} end
local mineBytes = sum(mine)
if mineBytes + bytes > tonumber(ARGV[6]) then return {2, mineBytes, tonumber(ARGV[6]), oldest(KEYS[1])} end
local all = redis.call('ZRANGE', KEYS[2], 0, -1)
if #all + 1 > tonumber(ARGV[7]) then return {3, #all, tonumber(ARGV[7]), oldest(KEYS[2])} end
local allBytes = sum(all)
if allBytes + bytes > tonumber(ARGV[8]) then return {4, allBytes, tonumber(ARGV[8]), oldest(KEYS[2])} end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[3], bytes)
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return {0}
`;

const QUOTA_NAMES = {
  1: { variable: 'CEPHEUS_API_UPLOADS_PER_KEY', what: 'uploads kept for this API key', unit: '' },
  2: { variable: 'CEPHEUS_API_UPLOAD_BYTES_PER_KEY', what: 'bytes of uploads kept for this API key', unit: ' bytes' },
  3: { variable: 'CEPHEUS_API_UPLOADS_TOTAL', what: 'uploads kept in all', unit: '' },
  4: { variable: 'CEPHEUS_API_UPLOAD_BYTES_TOTAL', what: 'bytes of uploads kept in all', unit: ' bytes' },
} as const;

type RedisWithReserve = Redis & {
  cepheusReserveUpload(
    keyUploads: string,
    allUploads: string,
    sizes: string,
    ...args: string[]
  ): Promise<Array<number | string>>;
};

/** Uploaded JSON-lines files in Redis, with quotas per API key and in total, each kept for the configured time. */
export class UploadStore {
  constructor(
    private readonly redis: Redis,
    /** Builds a key under the API's prefix. */
    private readonly key: (...parts: string[]) => string,
    readonly quotas: UploadQuotas,
  ) {
    if (!('cepheusReserveUpload' in redis)) {
      redis.defineCommand('cepheusReserveUpload', { numberOfKeys: 3, lua: RESERVE_UPLOAD_LUA });
    }
  }

  /** Redis key of an upload's text (what a replay of it reads). */
  dataKey(uploadId: string): string {
    return this.key('upload', uploadId);
  }

  /**
   * Stores `text` for `owner` (an API key fingerprint). 413 when it alone is over a byte limit; 429 with
   * `retryAfterSeconds` when keeping it would break a quota until older uploads expire.
   */
  async store(owner: string, text: string): Promise<{ uploadId: string; bytes: number; expiresAt: string }> {
    const bytes = Buffer.byteLength(text);
    const q = this.quotas;
    const single = [
      ['CEPHEUS_API_MAX_UPLOAD_BYTES', q.maxUploadBytes],
      ['CEPHEUS_API_UPLOAD_BYTES_PER_KEY', q.perKeyBytes],
      ['CEPHEUS_API_UPLOAD_BYTES_TOTAL', q.totalBytes],
    ] as const;
    for (const [variable, limit] of single) {
      if (bytes > limit) {
        throw new HttpException(
          {
            statusCode: 413,
            error: 'Payload Too Large',
            message: `the upload has ${bytes} bytes; at most ${limit} are accepted (${variable})`,
            limit,
            quota: variable,
          },
          HttpStatus.PAYLOAD_TOO_LARGE,
        );
      }
    }
    const uploadId = randomUUID();
    const now = Date.now();
    const expiresAt = now + q.ttlSeconds * 1000;
    const result = await (this.redis as RedisWithReserve).cepheusReserveUpload(
      this.key('uploads', 'by-key', owner),
      this.key('uploads', 'all'),
      this.key('uploads', 'sizes'),
      String(now),
      String(expiresAt),
      uploadId,
      String(bytes),
      String(q.perKeyCount),
      String(q.perKeyBytes),
      String(q.totalCount),
      String(q.totalBytes),
    );
    const code = Number(result[0]);
    if (code !== 0) {
      const quota = QUOTA_NAMES[code as keyof typeof QUOTA_NAMES];
      const [used, limit, retryMs] = result.slice(1).map(Number);
      const retryAfterSeconds = Math.max(1, Math.ceil(retryMs / 1000));
      const exception = new HttpException(
        {
          statusCode: 429,
          error: 'Too Many Requests',
          message: `quota reached: ${used} of ${limit}${quota.unit} ${quota.what} (${quota.variable}); uploads are kept ${q.ttlSeconds} s, the oldest goes in ${retryAfterSeconds} s`,
          quota: quota.variable,
          limit,
          used,
          retryAfterSeconds,
        },
        HttpStatus.TOO_MANY_REQUESTS,
      );
      throw exception;
    }
    try {
      await this.redis.set(this.dataKey(uploadId), text, 'EX', q.ttlSeconds);
    } catch (error) {
      // Give the room back: a reservation without data would count until it expires.
      await this.redis
        .multi()
        .zrem(this.key('uploads', 'by-key', owner), uploadId)
        .zrem(this.key('uploads', 'all'), uploadId)
        .hdel(this.key('uploads', 'sizes'), uploadId)
        .exec()
        .catch(() => undefined);
      throw error;
    }
    return { uploadId, bytes, expiresAt: new Date(expiresAt).toISOString() };
  }
}
