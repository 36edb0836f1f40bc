import { RedisCheckpointStorage } from '@cepheus/redis';
import { describeCheckpointStorageConformance } from '@cepheus/runtime/testing';
import Redis from 'ioredis';
import { redisUrl, uniqueName } from '../support/services';

const clients = new Map<RedisCheckpointStorage, { redis: Redis; prefix: string }>();

// The same suite the memory and file backends pass, against the real Redis; small pieces force multi-piece blobs.
describeCheckpointStorageConformance(
  'redis',
  async () => {
    const redis = new Redis(redisUrl());
    const prefix = uniqueName('cepheus-test');
    const storage = new RedisCheckpointStorage(redis, { keyPrefix: prefix, pieceBytes: 256 * 1024 });
    clients.set(storage, { redis, prefix });
    return storage;
  },
  async (storage) => {
    const { redis, prefix } = clients.get(storage as RedisCheckpointStorage)!;
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  },
);
