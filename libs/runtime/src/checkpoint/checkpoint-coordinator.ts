import { CepheusError } from '@cepheus/common';
import type { SplitState } from '../connectors/source';
import type { TaskReport } from '../job/instance-task';
import {
  CHECKPOINT_FORMAT_VERSION,
  type CheckpointKind,
  type CheckpointManifest,
  type CheckpointStorage,
  type ChunkRef,
  type JsonValue,
} from './checkpoint-storage';

/** Figures of one completed checkpoint. */
export interface CheckpointStats {
  checkpointId: number;
  kind: CheckpointKind;
  /** Trigger to manifest commit. */
  durationMs: number;
  bytes: number;
  /** Longest barrier alignment over the instances. */
  alignmentMs: number;
  /** Longest synchronous snapshot part over the instances: how long processing stood still. */
  stallMs: number;
  /** Longest asynchronous part (serialization) over the instances. */
  asyncMs: number;
}

/** Options of a {@link CheckpointCoordinator}. */
export interface CheckpointCoordinatorOptions {
  storage: CheckpointStorage;
  jobId: string;
  maxParallelism: number;
  parallelism: number;
  eventSourceName: string;
  broadcastSourceName: string | undefined;
  /** Completed checkpoints kept (savepoints are never removed by retention). @defaultValue 3 */
  retainedCheckpoints: number;
  /** First id to use; ids only grow. */
  firstCheckpointId: number;
  /** Sends the trigger to every source subtask (and the broadcast source). */
  trigger: (checkpointId: number, kind: CheckpointKind) => void;
  /** Tells every instance that a checkpoint is durable (sinks commit). */
  notifyComplete: (checkpointId: number) => Promise<void>;
}

interface Pending {
  id: number;
  kind: CheckpointKind;
  startedAt: number;
  sourceAcks: Map<number, SplitState[]>;
  broadcastSplits: SplitState[] | undefined;
  keyedAcks: number;
  writes: Promise<void>[];
  chunks: ChunkRef[];
  committables: Record<string, JsonValue[]>;
  digests: string[];
  alignmentMs: number;
  stallMs: number;
  asyncMs: number;
  resolve: (m: CheckpointManifest) => void;
  reject: (e: unknown) => void;
  promise: Promise<CheckpointManifest>;
}

/**
 * Triggers checkpoints and completes them (Flink's `CheckpointCoordinator`, one checkpoint at a time as with
 * `maxConcurrentCheckpoints = 1`): a checkpoint is complete when every source subtask and every keyed instance has
 * acknowledged it and all its chunks are written; only then is the manifest committed and the sinks told to commit.
 */
export class CheckpointCoordinator {
  readonly #o: CheckpointCoordinatorOptions;
  #nextId: number;
  #pending: Pending | undefined;
  #history: CheckpointStats[] = [];
  #latest: CheckpointManifest | undefined;

  constructor(options: CheckpointCoordinatorOptions) {
    this.#o = options;
    this.#nextId = options.firstCheckpointId;
  }

  get nextCheckpointId(): number {
    return this.#nextId;
  }

  get inProgress(): boolean {
    return this.#pending !== undefined;
  }

  /** Completed checkpoints of this run, oldest first. */
  get history(): readonly CheckpointStats[] {
    return this.#history;
  }

  get latestCompleted(): CheckpointManifest | undefined {
    return this.#latest;
  }

  /** Starts a checkpoint; resolves with its manifest once it is committed. */
  trigger(kind: CheckpointKind = 'checkpoint'): Promise<CheckpointManifest> {
    if (this.#pending) {
      return Promise.reject(
        new CepheusError('CHECKPOINT_FAILED', `checkpoint ${this.#pending.id} still in progress`, { retriable: true }),
      );
    }
    const id = this.#nextId++;
    let resolve!: (m: CheckpointManifest) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<CheckpointManifest>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => {});
    this.#pending = {
      id,
      kind,
      startedAt: Date.now(),
      sourceAcks: new Map(),
      broadcastSplits: undefined,
      keyedAcks: 0,
      writes: [],
      chunks: [],
      committables: {},
      digests: [],
      alignmentMs: 0,
      stallMs: 0,
      asyncMs: 0,
      resolve,
      reject,
      promise,
    };
    this.#o.trigger(id, kind);
    return promise;
  }

  /** The broadcast source acknowledged with its offsets. */
  onBroadcastSourceAck(checkpointId: number, splits: SplitState[]): void {
    const p = this.#pending;
    if (!p || p.id !== checkpointId) return;
    p.broadcastSplits = splits;
    this.#maybeComplete(p);
  }

  /** An instance acknowledged (source part or keyed part). */
  onReport(report: TaskReport): void {
    const p = this.#pending;
    if (report.type === 'finished' || !p || p.id !== report.checkpointId) return;
    if (report.type === 'source-ack') {
      p.sourceAcks.set(report.subtask, report.splits);
    } else {
      const { storage, jobId } = this.#o;
      for (const c of report.chunks) {
        p.chunks.push({ name: c.name, bytes: c.data.byteLength, keyGroup: c.keyGroup, keyGroupEnd: c.keyGroupEnd });
        p.writes.push(storage.writeChunk(jobId, p.id, c.name, c.data));
      }
      if (report.broadcast) {
        p.chunks.push({ name: 'broadcast', bytes: report.broadcast.byteLength });
        p.writes.push(storage.writeChunk(jobId, p.id, 'broadcast', report.broadcast));
      }
      for (const [sink, c] of Object.entries(report.committables)) (p.committables[sink] ??= []).push(c);
      p.digests[report.subtask] = report.digest;
      p.alignmentMs = Math.max(p.alignmentMs, report.alignmentMs);
      p.stallMs = Math.max(p.stallMs, report.syncMs);
      p.asyncMs = Math.max(p.asyncMs, report.asyncMs);
      p.keyedAcks++;
    }
    this.#maybeComplete(p);
  }

  #maybeComplete(p: Pending): void {
    const { parallelism, broadcastSourceName } = this.#o;
    if (p.sourceAcks.size < parallelism || p.keyedAcks < parallelism) return;
    if (broadcastSourceName !== undefined && p.broadcastSplits === undefined) return;
    void this.#complete(p);
  }

  async #complete(p: Pending): Promise<void> {
    const o = this.#o;
    try {
      await Promise.all(p.writes);
      const digest = p.digests[0]!;
      if (p.digests.some((d) => d !== digest)) {
        throw new CepheusError('CHECKPOINT_FAILED', `checkpoint ${p.id}: broadcast state differs between instances`, {
          details: { digests: p.digests },
        });
      }
      const splits: SplitState[] = [];
      for (let i = 0; i < o.parallelism; i++) splits.push(...p.sourceAcks.get(i)!);
      const manifest: CheckpointManifest = {
        formatVersion: CHECKPOINT_FORMAT_VERSION,
        jobId: o.jobId,
        checkpointId: p.id,
        kind: p.kind,
        createdAt: p.startedAt,
        maxParallelism: o.maxParallelism,
        parallelism: o.parallelism,
        chunks: p.chunks,
        metadata: {
          sources: {
            [o.eventSourceName]: splits.map((s) => ({ split: s.split, offset: s.offset })),
            ...(o.broadcastSourceName !== undefined
              ? {
                  [o.broadcastSourceName]: (p.broadcastSplits ?? []).map((s) => ({ split: s.split, offset: s.offset })),
                }
              : {}),
          },
          committables: p.committables,
          broadcastDigest: digest,
        },
      };
      if (this.#pending !== p) return;
      await o.storage.commit(manifest);
      this.#pending = undefined;
      this.#latest = manifest;
      this.#history.push({
        checkpointId: p.id,
        kind: p.kind,
        durationMs: Date.now() - p.startedAt,
        bytes: p.chunks.reduce((n, c) => n + c.bytes, 0),
        alignmentMs: p.alignmentMs,
        stallMs: p.stallMs,
        asyncMs: p.asyncMs,
      });
      if (this.#history.length > 100) this.#history.shift();
      try {
        await o.notifyComplete(p.id);
      } catch (error) {
        // The checkpoint is durable and stays: a restart restores it, and the sinks' `recover` finishes its commit.
        p.reject(
          new CepheusError('CHECKPOINT_FAILED', `checkpoint ${p.id} is stored but its commit failed`, {
            cause: error,
            retriable: true,
          }),
        );
        return;
      }
      // Retention before the checkpoint counts as complete, so that whoever awaits it (a job's final checkpoint) sees
      // the old ones gone. A removal that fails is retried at the next checkpoint; it must not reach the catch below,
      // which would delete this checkpoint, already committed.
      await this.#retain().catch(() => undefined);
      p.resolve(manifest);
    } catch (error) {
      if (this.#pending === p) this.#pending = undefined;
      p.reject(
        error instanceof CepheusError
          ? error
          : new CepheusError('CHECKPOINT_FAILED', `checkpoint ${p.id} failed`, { cause: error }),
      );
      await o.storage.delete(o.jobId, p.id).catch(() => {});
    }
  }

  /** Drops the checkpoint in progress (the job failed or stops); its chunks are deleted. */
  async abortPending(reason: unknown): Promise<void> {
    const p = this.#pending;
    if (!p) return;
    this.#pending = undefined;
    p.reject(new CepheusError('CHECKPOINT_FAILED', `checkpoint ${p.id} aborted`, { cause: reason }));
    await Promise.allSettled(p.writes);
    await this.#o.storage.delete(this.#o.jobId, p.id).catch(() => {});
  }

  /** Removes completed checkpoints beyond the retained count; savepoints stay until deleted. */
  async #retain(): Promise<void> {
    const { storage, jobId, retainedCheckpoints } = this.#o;
    const checkpoints = (await storage.list(jobId)).filter((m) => m.kind === 'checkpoint');
    for (const m of checkpoints.slice(0, Math.max(0, checkpoints.length - retainedCheckpoints))) {
      await storage.delete(jobId, m.checkpointId);
    }
  }
}
