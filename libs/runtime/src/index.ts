// Public surface of @cepheus/runtime. Nothing outside this library imports its other files.
export {
  CHECKPOINT_FORMAT_VERSION,
  assertCheckpointAddress,
  type CheckpointKind,
  type CheckpointManifest,
  type CheckpointStorage,
  type ChunkRef,
  type JsonValue,
} from './checkpoint/checkpoint-storage';
export { MemoryCheckpointStorage } from './checkpoint/memory-checkpoint-storage';
export { FileCheckpointStorage, type FileCheckpointStorageOptions } from './checkpoint/file-checkpoint-storage';
