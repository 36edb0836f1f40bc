import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeCheckpointStorageConformance } from '../testing';
import { FileCheckpointStorage } from './file-checkpoint-storage';
import { MemoryCheckpointStorage } from './memory-checkpoint-storage';

describeCheckpointStorageConformance('memory', () => new MemoryCheckpointStorage());

const dirs = new Map<FileCheckpointStorage, string>();
describeCheckpointStorageConformance(
  'file',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cepheus-ckpt-'));
    const storage = new FileCheckpointStorage({ directory: dir, fsync: false });
    dirs.set(storage, dir);
    return storage;
  },
  async (storage) => {
    await rm(dirs.get(storage as FileCheckpointStorage)!, { recursive: true, force: true });
  },
);
