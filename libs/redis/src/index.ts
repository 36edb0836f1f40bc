// Public surface of @cepheus/redis: the Redis adapters of the runtime. Nothing outside this library imports its other files.
export { RedisCheckpointStorage, type RedisCheckpointStorageOptions } from './checkpoint/redis-checkpoint-storage';
