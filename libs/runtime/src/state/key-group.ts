/**
 * Key groups, ported from Flink's `KeyGroupRangeAssignment`: a key hashes into one of `maxParallelism` key groups,
 * and an operator instance owns a contiguous range of them. State is stored per key group, so that a change of
 * parallelism moves whole key groups and never re-hashes a key.
 */

/** A contiguous, inclusive range of key groups; empty when `end < start`. */
export interface KeyGroupRange {
  readonly start: number;
  readonly end: number;
}

/** Default maximum parallelism (Flink's default lower bound is 128). */
export const DEFAULT_MAX_PARALLELISM = 128;

/**
 * 32-bit MurmurHash3 (x86_32) of the UTF-16 code units of a string, seed 0. Flink applies murmur to `hashCode()`;
 * hashing the string directly keeps the spread good for short keys without allocating a byte array per event.
 */
export function murmurHash(key: string): number {
  let h = 0;
  const length = key.length;
  let i = 0;
  // Two UTF-16 units per 32-bit block.
  for (; i + 1 < length; i += 2) {
    let k = (key.charCodeAt(i) & 0xffff) | ((key.charCodeAt(i + 1) & 0xffff) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < length) {
    let k = key.charCodeAt(i) & 0xffff;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= length * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The key group of a key (Flink: `assignToKeyGroup`). */
export function assignToKeyGroup(key: string, maxParallelism: number): number {
  return murmurHash(key) % maxParallelism;
}

/** The range of key groups owned by one operator instance (Flink: `computeKeyGroupRangeForOperatorIndex`). */
export function keyGroupRangeForInstance(maxParallelism: number, parallelism: number, index: number): KeyGroupRange {
  checkParallelism(maxParallelism, parallelism);
  return {
    start: Math.floor((index * maxParallelism + parallelism - 1) / parallelism),
    end: Math.floor(((index + 1) * maxParallelism + parallelism - 1) / parallelism) - 1,
  };
}

/** The instance that owns a key group (Flink: `computeOperatorIndexForKeyGroup`). */
export function instanceForKeyGroup(maxParallelism: number, parallelism: number, keyGroup: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

/** Refuses a parallelism the key groups cannot be spread over. */
export function checkParallelism(maxParallelism: number, parallelism: number): void {
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > 32768) {
    throw new RangeError(`maxParallelism must be an integer in [1, 32768], got ${maxParallelism}`);
  }
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > maxParallelism) {
    throw new RangeError(`parallelism must be an integer in [1, maxParallelism=${maxParallelism}], got ${parallelism}`);
  }
}
