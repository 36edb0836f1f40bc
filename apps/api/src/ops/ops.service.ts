import { redactSecrets } from '@cepheus/common';
import { randomUUID } from 'node:crypto';
import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { RedisCheckpointStorage } from '@cepheus/redis';
import type { ApiConfig } from '../config/api-config';
import { notFound } from '../http-errors';
import { InfraService } from '../kafka/infra.service';
import { RuleStatusService } from '../rules/rule-status.service';
import { API_CONFIG } from '../tokens';

/**
 * A savepoint, as the engines took it: per events partition the state at the committed offset, stored under
 * `<job>.savepoint.<id>.p<partition>` and kept until deleted.
 */
export interface SavepointView {
  id: string;
  createdAt: string;
  who: string;
  jobId: string;
  /** `completed` when every instance that received the command answered ok. */
  status: 'completed' | 'failed';
  instances: Array<{ instanceId: string; ok: boolean; error?: string }>;
  partitions: Array<{ partition: number; offset: string | null; bytes: number; instanceId?: string }>;
}

/**
 * Key prefix the engine uses for checkpoints, savepoints and its control channel (apps/engine:
 * `new RedisCheckpointStorage(redis, { keyPrefix: 'cepheus' })`, channel `cepheus:<job>:control`).
 */
const ENGINE_CHECKPOINT_PREFIX = 'cepheus';

/**
 * Operations: engine instances (their own `/instance` reports plus what they published on rules-status), the
 * checkpoints in Redis, and savepoints. A savepoint is taken by the engines themselves (docs/kafka.md): the API
 * publishes `{"type":"savepoint","id":...}` on the Redis channel `cepheus:<job>:control`, and waits until every
 * instance that received it has answered in the hash `cepheus:<job>:savepoint:<id>`.
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
          const token = this.config.CEPHEUS_ENGINE_TOKEN;
          const response = await fetch(`${url.replace(/\/$/, '')}/instance`, {
            signal: AbortSignal.timeout(3000),
            headers: token ? { Authorization: `Bearer ${token}` } : {},
          });
          if (!response.ok) {
            const hint =
              response.status === 401 ? " (set CEPHEUS_ENGINE_TOKEN to the engines' CEPHEUS_HTTP_TOKEN)" : '';
            return { url, reachable: false, error: `GET /instance answered ${response.status}${hint}` };
          }
          const body = (await response.json()) as Record<string, unknown>;
          const lag = (body.lagByPartition ?? {}) as Record<string, number>;
          return {
            url,
            reachable: true,
            ownedPartitions: body.ownedPartitions,
            lag: Object.values(lag).reduce((a, b) => a + b, 0),
            lagByPartition: lag,
            positionByPartition: body.positionByPartition,
            broadcastDigest: body.broadcastDigest,
            eventsIn: body.eventsIn,
            alertsOut: body.alertsOut,
            checkpoints: body.checkpoints,
            checkpointFailures: body.checkpointFailures,
            lastCheckpointMs: body.lastCheckpointMs,
            lastCheckpointBytes: body.lastCheckpointBytes,
            // Partitions paused because their uncommitted output is full, and the time spent paused (null from engines
            // that do not report it).
            backPressure: Array.isArray(body.pausedPartitions)
              ? { pausedPartitions: body.pausedPartitions, pausedMsTotal: body.backPressureMs }
              : null,
            rules: body.rules,
          };
        } catch (error) {
          return { url, reachable: false, error: redactSecrets((error as Error).message) };
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
    const receivers = await this.infra.redis.publish(
      `${ENGINE_CHECKPOINT_PREFIX}:${jobId}:control`,
      JSON.stringify({ type: 'savepoint', id }),
    );
    if (receivers === 0) {
      throw new HttpException(
        {
          statusCode: 503,
          error: 'Service Unavailable',
          message: `no engine instance of job "${jobId}" listens on ${ENGINE_CHECKPOINT_PREFIX}:${jobId}:control`,
        },
        HttpStatus.SERVICE_UNAVAILABLE,
      );
    }
    const answersKey = `${ENGINE_CHECKPOINT_PREFIX}:${jobId}:savepoint:${id}`;
    const deadline = Date.now() + this.config.CEPHEUS_SAVEPOINT_TIMEOUT_MS;
    while ((await this.infra.redis.hlen(answersKey)) < receivers && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const answers = await this.infra.redis.hgetall(answersKey);
    const instances: SavepointView['instances'] = [];
    const partitions: SavepointView['partitions'] = [];
    for (const [instanceId, text] of Object.entries(answers).sort(([a], [b]) => a.localeCompare(b))) {
      const answer = JSON.parse(text) as { ok: boolean; offsets?: Record<string, string>; error?: string };
      instances.push({ instanceId, ok: answer.ok, ...(answer.error ? { error: redactSecrets(answer.error) } : {}) });
      for (const [partition, offset] of Object.entries(answer.offsets ?? {})) {
        const manifests = await this.storage.list(`${jobId}.savepoint.${id}.p${partition}`);
        const bytes = manifests.flatMap((m) => m.chunks).reduce((sum, c) => sum + c.bytes, 0);
        partitions.push({ partition: Number(partition), offset, bytes, instanceId });
      }
    }
    partitions.sort((a, b) => a.partition - b.partition);
    const complete = instances.length >= receivers && instances.every((i) => i.ok);
    if (instances.length < receivers) {
      instances.push({
        instanceId: '?',
        ok: false,
        error: `${receivers - instances.length} instance(s) did not answer within ${this.config.CEPHEUS_SAVEPOINT_TIMEOUT_MS} ms`,
      });
    }
    const view: SavepointView = {
      id,
      createdAt: new Date().toISOString(),
      who,
      jobId,
      status: complete ? 'completed' : 'failed',
      instances,
      partitions,
    };
    await this.infra.redis.hset(this.infra.key('savepoints'), id, JSON.stringify(view));
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
      const target = `${view.jobId}.savepoint.${id}.p${p.partition}`;
      for (const manifest of await this.storage.list(target)) await this.storage.delete(target, manifest.checkpointId);
    }
    await this.infra.redis.del(`${ENGINE_CHECKPOINT_PREFIX}:${view.jobId}:savepoint:${id}`);
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
