import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { EXAMPLE_FACTS, FactRegistry, validateRule } from '@cepheus/rules';
import { replayOutputTopic, runReplay, type ReplayRange, type ReplaySource, type ReplaySummary } from '@cepheus/replay';
import { Job, Queue, Worker } from 'bullmq';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import type { Principal } from '../auth/api-keys';
import type { ApiConfig } from '../config/api-config';
import { badRequest, notFound } from '../http-errors';
import { InfraService } from '../kafka/infra.service';
import { RulesStoreService } from '../rules/rules-store.service';
import { API_CONFIG, API_LOGGER } from '../tokens';
import type { ReplayRequest } from './replay-request';
import { UploadStore } from './upload-store';

/** What a replay job carries in Redis: everything it needs, resolved when it was started. */
export interface ReplayJobData {
  replayId: string;
  outputTopic: string;
  createdAt: string;
  who: string;
  source: { type: 'kafka'; topic: string; range: ReplayRange } | { type: 'upload'; uploadId: string };
  /** The rule documents, as chosen at start (later rule changes do not alter a running replay). */
  rules: unknown[];
  rulesSelection: ReplayRequest['rules'];
  outOfOrdernessMs: number;
  closeWindowsAtEnd: boolean;
}

/** A replay as `GET /replays/:id` shows it. */
export interface ReplayView {
  id: string;
  state: 'waiting' | 'active' | 'completed' | 'cancelled' | 'failed' | 'unknown';
  outputTopic: string;
  createdAt: string;
  who: string;
  progress: unknown;
  summary: ReplaySummary | null;
  failedReason: string | null;
  rules: Array<{ id: unknown; version: unknown }>;
  source: ReplayJobData['source'];
}

export const REPLAY_QUEUE = 'replays';
const facts = new FactRegistry(EXAMPLE_FACTS);

/**
 * Replays as BullMQ jobs: `start` resolves the request (range, rule documents) into a job, a worker in this process
 * runs it with `@cepheus/replay`, reporting progress on the job; `cancel` sets a flag in Redis that the running job
 * polls (so any API process can cancel a replay another one runs) and removes a job that has not started.
 */
@Injectable()
export class ReplaysService implements OnModuleInit, OnApplicationShutdown {
  /** Made in the constructor: Bull Board is mounted on it before the application initialises. */
  readonly queue: Queue<ReplayJobData, ReplaySummary>;
  private worker: Worker<ReplayJobData, ReplaySummary> | undefined;
  private readonly connections: Redis[] = [];
  private readonly uploads: UploadStore;

  constructor(
    private readonly infra: InfraService,
    private readonly rules: RulesStoreService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(API_LOGGER) private readonly logger: Logger,
  ) {
    this.uploads = new UploadStore(this.infra.redis, (...parts) => this.infra.key(...parts), {
      maxUploadBytes: config.CEPHEUS_API_MAX_UPLOAD_BYTES,
      ttlSeconds: config.CEPHEUS_API_UPLOAD_TTL_SECONDS,
      perKeyCount: config.CEPHEUS_API_UPLOADS_PER_KEY,
      perKeyBytes: config.CEPHEUS_API_UPLOAD_BYTES_PER_KEY,
      totalCount: config.CEPHEUS_API_UPLOADS_TOTAL,
      totalBytes: config.CEPHEUS_API_UPLOAD_BYTES_TOTAL,
    });
    const connection = this.infra.bullConnection();
    this.connections.push(connection);
    this.queue = new Queue(REPLAY_QUEUE, { connection, prefix: this.infra.key('bull') });
  }

  async onModuleInit(): Promise<void> {
    const prefix = this.infra.key('bull');
    const workerConnection = this.infra.bullConnection();
    this.connections.push(workerConnection);
    this.worker = new Worker(REPLAY_QUEUE, (job, _token, signal) => this.process(job, signal), {
      connection: workerConnection,
      prefix,
      concurrency: this.config.CEPHEUS_REPLAY_CONCURRENCY,
      // A replay of millions of events runs for minutes; its lock is renewed meanwhile.
      lockDuration: 60_000,
    });
    this.worker.on('failed', (job, error) =>
      this.logger.warn({ replayId: job?.id, err: error.message }, 'replay failed'),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.worker?.close(true).catch(() => undefined);
    await this.queue?.close().catch(() => undefined);
    for (const connection of this.connections) connection.disconnect();
  }

  /** Stores an uploaded JSON-lines file for `CEPHEUS_API_UPLOAD_TTL_SECONDS`, within the quotas (upload-store.ts). */
  async upload(
    text: string,
    principal: Principal,
  ): Promise<{ uploadId: string; lines: number; bytes: number; expiresAt: string }> {
    const stored = await this.uploads.store(principal.keyId, text);
    return { ...stored, lines: text.split('\n').filter((l) => l.trim() !== '').length };
  }

  async start(request: ReplayRequest, principal: Principal): Promise<ReplayView> {
    const replayId = request.id ?? randomUUID().replace(/-/g, '').slice(0, 16);
    if (await this.queue.getJob(replayId)) {
      throw badRequest('a replay with this id exists', [{ field: '/id', reason: 'must be unused' }]);
    }
    const data: ReplayJobData = {
      replayId,
      outputTopic: replayOutputTopic(replayId),
      createdAt: new Date().toISOString(),
      who: principal.keyId,
      source: await this.resolveSource(request.source),
      rules: await this.resolveRules(request.rules ?? { mode: 'current' }),
      rulesSelection: request.rules ?? { mode: 'current' },
      outOfOrdernessMs: request.outOfOrdernessMs ?? this.config.CEPHEUS_OUT_OF_ORDERNESS_MS,
      closeWindowsAtEnd: request.closeWindowsAtEnd ?? false,
    };
    await this.queue.add('replay', data, {
      jobId: replayId,
      attempts: 1,
      removeOnComplete: { count: 1000 },
      removeOnFail: { count: 1000 },
    });
    return this.view(replayId);
  }

  async list(): Promise<ReplayView[]> {
    const jobs = await this.queue.getJobs(['active', 'waiting', 'delayed', 'completed', 'failed'], 0, 99);
    const views = await Promise.all(jobs.filter((j) => j.id).map((j) => this.view(j.id as string)));
    return views.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async view(id: string): Promise<ReplayView> {
    const job = await this.queue.getJob(id);
    if (!job) {
      const cancelled = await this.infra.redis.get(this.infra.key('replay', id, 'cancelled-before-start'));
      if (cancelled) return JSON.parse(cancelled) as ReplayView;
      throw notFound(`no replay "${id}"`);
    }
    return viewOf(job, await job.getState());
  }

  async cancel(id: string): Promise<ReplayView> {
    const job = await this.queue.getJob(id);
    if (!job) return this.view(id);
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') return viewOf(job, state);
    await this.infra.redis.set(this.infra.key('replay', id, 'cancel'), '1', 'EX', 24 * 3600);
    this.worker?.cancelJob(id, 'cancelled through the API');
    if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
      try {
        await job.remove();
        const view: ReplayView = { ...viewOf(job, 'waiting'), state: 'cancelled' };
        await this.infra.redis.set(
          this.infra.key('replay', id, 'cancelled-before-start'),
          JSON.stringify(view),
          'EX',
          7 * 24 * 3600,
        );
        return view;
      } catch {
        // It started meanwhile: the flag stops it.
      }
    }
    return this.view(id);
  }

  private async process(job: Job<ReplayJobData, ReplaySummary>, bullSignal?: AbortSignal): Promise<ReplaySummary> {
    const data = job.data;
    const controller = new AbortController();
    bullSignal?.addEventListener('abort', () => controller.abort(), { once: true });
    const cancelKey = this.infra.key('replay', data.replayId, 'cancel');
    const poll = setInterval(() => {
      void this.infra.redis.get(cancelKey).then(
        (flag) => flag && controller.abort(),
        () => undefined,
      );
    }, 300);
    try {
      let source: ReplaySource;
      if (data.source.type === 'kafka') source = data.source;
      else {
        const text = await this.infra.redis.get(this.uploads.dataKey(data.source.uploadId));
        if (text === null)
          throw new Error(
            `upload ${data.source.uploadId} is gone (uploads are kept ${this.config.CEPHEUS_API_UPLOAD_TTL_SECONDS} s)`,
          );
        source = { type: 'lines', lines: text.split('\n'), name: `upload-${data.source.uploadId}` };
      }
      const summary = await runReplay({
        kafka: this.infra.kafka,
        replayId: data.replayId,
        outputTopic: data.outputTopic,
        rules: data.rules,
        source,
        outOfOrdernessMs: data.outOfOrdernessMs,
        threads: this.config.CEPHEUS_REPLAY_THREADS,
        flushTo: data.closeWindowsAtEnd ? Number.MAX_SAFE_INTEGER : undefined,
        signal: controller.signal,
        onProgress: (progress) => job.updateProgress(progress),
      });
      this.logger.info({ replayId: data.replayId, status: summary.status, events: summary.eventsRead }, 'replay ended');
      return summary;
    } finally {
      clearInterval(poll);
    }
  }

  private async resolveSource(source: ReplayRequest['source']): Promise<ReplayJobData['source']> {
    const topic = this.config.CEPHEUS_EVENTS_TOPIC;
    if (source.type === 'upload') {
      if (!(await this.infra.redis.exists(this.uploads.dataKey(source.uploadId)))) {
        throw badRequest('unknown upload', [
          {
            field: '/source/uploadId',
            reason: `no such upload (uploads are kept ${this.config.CEPHEUS_API_UPLOAD_TTL_SECONDS} s)`,
          },
        ]);
      }
      return { type: 'upload', uploadId: source.uploadId };
    }
    if (source.type === 'time') {
      const from = toMillis(source.from);
      const to = source.to === undefined ? undefined : toMillis(source.to);
      if (to !== undefined && to < from)
        throw badRequest('invalid range', [{ field: '/source/to', reason: 'must not be before from' }]);
      return { type: 'kafka', topic, range: { type: 'time', from, to } };
    }
    const partitions = (await this.infra.admin.fetchTopicOffsets(topic)).map((p) => p.partition);
    const errors = source.partitions
      .map((p, i) => ({ p, i }))
      .filter(({ p }) => !partitions.includes(p.partition))
      .map(({ i }) => ({
        field: `/source/partitions/${i}/partition`,
        reason: `topic ${topic} has partitions ${partitions.join(', ')}`,
      }));
    if (errors.length > 0) throw badRequest('invalid range', errors);
    return {
      type: 'kafka',
      topic,
      range: {
        type: 'offsets',
        partitions: source.partitions.map((p) => ({
          partition: p.partition,
          from: String(p.from),
          to: p.to === undefined ? undefined : String(p.to),
        })),
      },
    };
  }

  private async resolveRules(selection: NonNullable<ReplayRequest['rules']>): Promise<unknown[]> {
    const current = this.rules.list().map((r) => r.document);
    if (selection.mode === 'current') return current;
    if (selection.mode === 'versions') {
      const documents: unknown[] = [];
      const errors: Array<{ field: string; reason: string }> = [];
      for (const [id, version] of Object.entries(selection.versions)) {
        const document = await this.rules.version(id, version);
        if (document) documents.push(document);
        else errors.push({ field: `/rules/versions/${id}`, reason: `no stored version ${version} of "${id}"` });
      }
      if (errors.length > 0) throw badRequest('unknown rule versions', errors);
      return documents;
    }
    // A candidate is evaluated as if it were live, whatever status it was drafted with.
    const candidate: Record<string, unknown> = { version: 1, ...selection.rule, status: 'active' };
    const result = validateRule(candidate, { facts });
    if (!result.ok) {
      throw badRequest(
        'the candidate rule is invalid',
        result.errors.map((e) => ({ field: `/rules/rule${e.field}`, reason: e.reason })),
      );
    }
    if (!selection.withCurrent) return [candidate];
    return [...current.filter((r) => r.id !== candidate.id), candidate];
  }
}

function toMillis(value: number | string): number {
  return typeof value === 'number' ? value : Date.parse(value);
}

function viewOf(job: Job<ReplayJobData, ReplaySummary>, state: string): ReplayView {
  const summary = job.returnvalue ?? null;
  let shown: ReplayView['state'];
  if (state === 'completed') shown = summary?.status === 'cancelled' ? 'cancelled' : 'completed';
  else if (state === 'active' || state === 'failed') shown = state;
  else if (state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children')
    shown = 'waiting';
  else shown = 'unknown';
  return {
    id: job.data.replayId,
    state: shown,
    outputTopic: job.data.outputTopic,
    createdAt: job.data.createdAt,
    who: job.data.who,
    progress: job.progress,
    summary,
    failedReason: job.failedReason ?? null,
    rules: job.data.rules.map((r) => ({
      id: (r as { id?: unknown }).id,
      version: (r as { version?: unknown }).version,
    })),
    source: job.data.source,
  };
}
