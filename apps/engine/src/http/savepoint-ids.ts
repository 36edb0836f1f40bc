import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { savepointJobId } from '@cepheus/kafka';
import { RedisCheckpointStorage } from '@cepheus/redis';
import Redis from 'ioredis';
import type { EngineConfig } from '../config/engine-config';
import { ENGINE_CONFIG } from '../tokens';

/**
 * Keeps `POST /savepoints` from writing over a savepoint: an id is refused while this engine is taking it, when any
 * partition it would write already holds a savepoint under that id, and when the id was used through the API (its
 * answers hash `cepheus:<job>:savepoint:<id>` exists). A savepoint is kept until deleted and is what a job restarts
 * from; a second one under the same id would silently replace it.
 */
@Injectable()
export class SavepointIds implements OnApplicationShutdown {
  private readonly redis: Redis;
  private readonly storage: RedisCheckpointStorage;
  private readonly taking = new Set<string>();

  constructor(@Inject(ENGINE_CONFIG) private readonly config: EngineConfig) {
    this.redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: true });
    // The same prefix as the job's storage (engine-job.service.ts).
    this.storage = new RedisCheckpointStorage(this.redis, { keyPrefix: 'cepheus' });
  }

  /**
   * Claims `id` for a savepoint of `partitions`; returns why it is taken, or a release function to call once the
   * savepoint is done (or failed).
   */
  async claim(id: string, partitions: readonly number[]): Promise<{ taken: string } | { release: () => void }> {
    if (this.taking.has(id)) return { taken: `savepoint "${id}" is being taken now` };
    this.taking.add(id);
    const release = () => this.taking.delete(id);
    try {
      const jobId = this.config.CEPHEUS_JOB_ID;
      if ((await this.redis.exists(`cepheus:${jobId}:savepoint:${id}`)) > 0) {
        release();
        return {
          taken: `savepoint "${id}" of job "${jobId}" exists (taken through the API): delete it first or use another id`,
        };
      }
      const held: number[] = [];
      for (const partition of partitions) {
        if ((await this.storage.list(savepointJobId(jobId, id, partition))).length > 0) held.push(partition);
      }
      if (held.length > 0) {
        release();
        return {
          taken: `savepoint "${id}" of job "${jobId}" exists for partition${held.length > 1 ? 's' : ''} ${held.join(', ')}: delete it first or use another id`,
        };
      }
      return { release };
    } catch (error) {
      release();
      throw error;
    }
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
