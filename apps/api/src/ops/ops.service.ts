import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { RedisCheckpointStorage } from '@cepheus/redis';
import type { ApiConfig } from '../config/api-config';
import { notFound } from '../http-errors';
import { InfraService } from '../kafka/infra.service';
import { RuleStatusService } from '../rules/rule-status.service';
import { API_CONFIG } from '../tokens';

/** A savepoint: per events partition, a copy of the state Kafka's committed offset points at, kept until deleted. */
export interface SavepointView {
  id: string;
  createdAt: string;
  who: string;
  jobId: string;
  partitions: Array<{ partition: number; offset: string | null; bytes: number; note?: string }>;
}

/** Checkpoint key prefix the engine uses (apps/engine: `new RedisCheckpointStorage(redis, { keyPrefix: 'cepheus' })`). */
const ENGINE_CHECKPOINT_PREFIX = 'cepheus';

/**
 * Operations: engine instances (their own `/instance` reports plus what they published on rules-status), the
 * checkpoints in Redis, and savepoints. The engine has no savepoint command yet: a savepoint here is taken by the API
 * from the committed checkpoints (each partition's state at its committed offset, which is consistent with the alerts
 * committed so far), copied under its own job id so the engine's retention never removes it. A `savepoint` command is
 * also appended to the control stream for engines that will take their own (not implemented in apps/engine yet).
 */
@Injectable()
export class OpsService {
  private readonly storage: RedisCheckpointStorage;

  constructor(
    private readonly infra: InfraService,
    private readonly statuses: RuleStatusService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {
    this.storage = new RedisCheckpointStorage(infra.redis, { keyPrefix: ENGINE_CHECKPOINT_PREFIX });
  }

  async instances(): Promise<Record<string, unknown>> {
    const urls = this.config.CEPHEUS_ENGINE_URLS.split(',').filter((u) => u.length > 0);
    const engines = await Promise.all(
      urls.map(async (url) => {
        try {
          const response = await fetch(`${url.replace(/\/$/, '')}/instance`, { signal: AbortSignal.timeout(3000) });
          const body = (await response.json()) as Record<string, unknown>;
          const lag = (body.lagByPartition ?? {}) as Record<string, number>;
          return {
            url,
            reachable: true,
            ownedPartitions: body.ownedPartitions,
            lag: Object.values(lag).reduce((a, b) => a + b, 0),
            lagByPartition: lag,
            broadcastDigest: body.broadcastDigest,
            eventsIn: body.eventsIn,
            alertsOut: body.alertsOut,
            checkpoints: body.checkpoints,
            checkpointFailures: body.checkpointFailures,
            lastCheckpointMs: body.lastCheckpointMs,
            lastCheckpointBytes: body.lastCheckpointBytes,
            // The engine does not measure back-pressure yet (no field in GET /instance).
            backPressure: null,
            rules: body.rules,
          };
        } catch (error) {
          return { url, reachable: false, error: (error as Error).message };
        }
      }),
    );
    const reported = this.statuses.instances();
    const digests = new Set(reported.map((r) => r.broadcastDigest));
    const checkpoints = await this.checkpoints();
    return {
      engines,
      reported: reported.map((r) => ({
        ...r,
        lastCheckpoint:
          (checkpoints.partitions as Array<{ latest: { instanceId?: unknown } | null }>)
            .map((p) => p.latest)
            .filter((m) => m && m.instanceId === r.instanceId)
            .sort((a, b) =>
              String((b as { createdAt?: unknown }).createdAt).localeCompare(
                String((a as { createdAt?: unknown }).createdAt),
              ),
            )[0] ?? null,
      })),
      digestsAgree: digests.size <= 1,
    };
  }

  async checkpoints(): Promise<Record<string, unknown> & { partitions: unknown[] }> {
    const jobId = this.config.CEPHEUS_JOB_ID;
    const committed = await this.committedOffsets();
    const partitions = await Promise.all(
      [...committed.keys()]
        .sort((a, b) => a - b)
        .map(async (partition) => {
          const manifests = await this.storage.list(`${jobId}.p${partition}`);
          const list = manifests.map((m) => ({
            checkpointId: m.checkpointId,
            offset: m.metadata?.offset ?? String(m.checkpointId),
            createdAt: new Date(m.createdAt).toISOString(),
            bytes: m.chunks.reduce((sum, c) => sum + c.bytes, 0),
            instanceId: m.metadata?.instanceId,
            broadcastDigest: m.metadata?.broadcastDigest,
            committed: String(m.checkpointId) === committed.get(partition),
          }));
          return {
            partition,
            committedOffset: committed.get(partition) ?? null,
            latest: list.at(-1) ?? null,
            checkpoints: list,
          };
        }),
    );
    return { jobId, consumerGroup: `cepheus-${jobId}`, partitions };
  }

  async createSavepoint(who: string): Promise<SavepointView> {
    const id = `sp-${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
    const jobId = this.config.CEPHEUS_JOB_ID;
    const committed = await this.committedOffsets();
    const partitions: SavepointView['partitions'] = [];
    for (const partition of [...committed.keys()].sort((a, b) => a - b)) {
      const offset = committed.get(partition) ?? null;
      const source = `${jobId}.p${partition}`;
      const manifest =
        offset === null || offset === '0' ? undefined : await this.storage.readManifest(source, Number(offset));
      if (!manifest) {
        partitions.push({
          partition,
          offset,
          bytes: 0,
          note: offset === null ? 'nothing committed yet' : 'no snapshot stored for the committed offset',
        });
        continue;
      }
      const target = `${jobId}.savepoint.${id}.p${partition}`;
      let bytes = 0;
      for (const chunk of manifest.chunks) {
        const data = await this.storage.readChunk(source, manifest.checkpointId, chunk.name);
        bytes += data.byteLength;
        await this.storage.writeChunk(target, manifest.checkpointId, chunk.name, data);
      }
      await this.storage.commit({ ...manifest, jobId: target, kind: 'savepoint', createdAt: Date.now() });
      partitions.push({ partition, offset, bytes });
    }
    const view: SavepointView = { id, createdAt: new Date().toISOString(), who, jobId, partitions };
    await this.infra.redis
      .multi()
      .hset(this.infra.key('savepoints'), id, JSON.stringify(view))
      .xadd(
        this.infra.key('control'),
        'MAXLEN',
        '~',
        '10000',
        '*',
        'command',
        'savepoint',
        'savepointId',
        id,
        'jobId',
        jobId,
      )
      .exec();
    return view;
  }

  async savepoints(): Promise<SavepointView[]> {
    const all = await this.infra.redis.hvals(this.infra.key('savepoints'));
    return all.map((text) => JSON.parse(text) as SavepointView).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async savepoint(id: string): Promise<SavepointView> {
    const text = await this.infra.redis.hget(this.infra.key('savepoints'), id);
    if (text === null) throw notFound(`no savepoint "${id}"`);
    return JSON.parse(text) as SavepointView;
  }

  async deleteSavepoint(id: string): Promise<{ id: string; deleted: true }> {
    const view = await this.savepoint(id);
    for (const p of view.partitions) {
      if (p.bytes === 0 || p.offset === null) continue;
      await this.storage.delete(`${view.jobId}.savepoint.${id}.p${p.partition}`, Number(p.offset));
    }
    await this.infra.redis.hdel(this.infra.key('savepoints'), id);
    return { id, deleted: true };
  }

  /** Kafka's committed offset per events partition for the engines' group: the truth of exactly-once recovery. */
  private async committedOffsets(): Promise<Map<number, string>> {
    const topic = this.config.CEPHEUS_EVENTS_TOPIC;
    const out = new Map<number, string>();
    if (!(await this.infra.admin.listTopics()).includes(topic)) return out;
    const offsets = await this.infra.admin.fetchOffsets({
      groupId: `cepheus-${this.config.CEPHEUS_JOB_ID}`,
      topics: [topic],
    });
    for (const p of offsets[0]?.partitions ?? [])
      out.set(p.partition, p.offset === '-1' || p.offset === '' ? '0' : p.offset);
    return out;
  }
}
