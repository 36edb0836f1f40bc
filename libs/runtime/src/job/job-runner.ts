import { CepheusError } from '@cepheus/common';
import { CheckpointCoordinator, type CheckpointStats } from '../checkpoint/checkpoint-coordinator';
import {
  CHECKPOINT_FORMAT_VERSION,
  type CheckpointManifest,
  type CheckpointStorage,
  type JsonValue,
} from '../checkpoint/checkpoint-storage';
import { MemoryCheckpointStorage } from '../checkpoint/memory-checkpoint-storage';
import type { CheckpointSources } from '../connectors/sink';
import type { SplitState } from '../connectors/source';
import { checkParallelism, keyGroupRangeForInstance } from '../state/key-group';
import { systemClock, type Clock } from '../time/clock';
import { BroadcastSourceTask } from './broadcast-source-task';
import { CompiledJob } from './compiled-job';
import type { ChannelTransport, ExecutionTuning, Executor, InstancePlan } from './executor';
import { InThreadExecutor } from './in-thread-executor';
import type { InstanceMetrics, TaskReport } from './instance-task';
import { loadJob, type JobModuleRef } from './job-module';
import { WorkerExecutor } from '../worker/worker-executor';
import type { StreamEnvironment } from './stream-environment';

/** Where a job starts. */
export type RestoreMode = 'latest' | 'none' | { checkpointId: number };

/** Options of a {@link JobRunner}; every field has a default. */
export interface JobRunnerOptions {
  /** Parallel instances. @defaultValue 1 */
  parallelism?: number;
  /** Run each instance in a worker thread (needs a {@link JobModuleRef}). @defaultValue true when parallelism > 1 and the job is a module reference */
  threads?: boolean;
  /** Id of the job in checkpoint storage. @defaultValue the environment's job name */
  jobId?: string;
  /** Durable checkpoint store. @defaultValue a new {@link MemoryCheckpointStorage} */
  storage?: CheckpointStorage;
  /** Interval between checkpoints; 0 turns periodic checkpoints off. @defaultValue 0 */
  checkpointIntervalMs?: number;
  /** Completed checkpoints kept; older ones are deleted (savepoints are not). @defaultValue 3 */
  retainedCheckpoints?: number;
  /** Start from the latest checkpoint or savepoint in storage, from a given one, or empty. @defaultValue 'latest' */
  restore?: RestoreMode;
  /** Automatic restarts from the latest completed checkpoint before the job fails with JOB_FAILED. @defaultValue 3 */
  maxRestarts?: number;
  /** Processing-time clock (TTL, processing-time timers). @defaultValue the system clock */
  clock?: Clock;
  /** Records read from a source per step. @defaultValue 1000 */
  batchSize?: number;
  /** Records per channel frame. @defaultValue 1000 */
  frameSize?: number;
  /** A partly filled frame leaves after this long: lower is lower latency, higher is more throughput. @defaultValue 5 */
  bufferTimeoutMs?: number;
  /** Frames in flight per channel (receiver credits) on the `message-port` transport. @defaultValue 4 */
  credits?: number;
  /**
   * How keyed frames cross between worker threads: a shared ring per pair of instances (cheapest), or a MessagePort.
   * `auto` takes the ring when the keyed stream has a `RecordCodec` and the MessagePort otherwise.
   * @defaultValue 'auto'
   */
  channelTransport?: 'auto' | ChannelTransport;
  /**
   * Capacity of each shared ring in bytes (rounded up to a power of two): the credit a receiver gives one sender. More
   * absorbs longer pauses of a receiver (on a shared machine a thread is descheduled for several milliseconds at a
   * time, and with small rings its peers then stop too: 256 KiB rings measured ~30% less throughput than 8 MiB ones at
   * load 5 on two cores); less bounds the data a barrier may have to wait behind and the memory (P x (P - 1) rings).
   * @defaultValue 16 MiB / parallelism (8 MiB at P = 2), at least 256 KiB
   */
  ringBytes?: number;
  /** Only for tests: called when an attempt starts, with the attempt number. */
  onAttempt?: (attempt: number) => void;
}

/** What a finished (or stopped) job reports. */
export interface JobResult {
  /** Restarts after failures. */
  restarts: number;
  checkpoints: CheckpointStats[];
  /** The last completed checkpoint or savepoint. */
  lastCheckpoint: CheckpointManifest | undefined;
  /** Instance figures at the end of the last attempt. */
  instances: InstanceMetrics[];
}

/** Live figures of a running job. */
export interface JobMetrics {
  attempt: number;
  instances: InstanceMetrics[];
  checkpoints: readonly CheckpointStats[];
}

interface Attempt {
  executor: Executor;
  coordinator: CheckpointCoordinator;
  broadcast: BroadcastSourceTask | undefined;
  fail: (e: unknown) => void;
  stop: (how: 'savepoint' | 'cancel') => void;
}

/**
 * Runs a job: plans the instances (split and key-group assignment, restored state), starts them, drives checkpoints,
 * and restarts from the latest completed checkpoint after a failure (Flink's `JobMaster` with a fixed-delay restart
 * strategy, reduced to one process).
 */
export class JobRunner {
  readonly #spec: StreamEnvironment | JobModuleRef;
  readonly #o: Required<Omit<JobRunnerOptions, 'onAttempt' | 'threads' | 'jobId'>> & {
    threads: boolean;
    onAttempt: ((attempt: number) => void) | undefined;
  };
  #jobId = '';
  #attempt: Attempt | undefined;
  #attemptNo = 0;
  #nextId = 1;
  #latest: CheckpointManifest | undefined;
  #history: CheckpointStats[] = [];
  #result: Promise<JobResult> | undefined;
  #started: Promise<void> | undefined;
  #startedResolve: (() => void) | undefined;
  readonly #jobIdOption: string | undefined;
  #cancelled = false;

  constructor(job: StreamEnvironment | JobModuleRef, options: JobRunnerOptions = {}) {
    this.#spec = job;
    const parallelism = options.parallelism ?? 1;
    const isRef = 'module' in job;
    if (options.threads && !isRef) {
      throw new CepheusError(
        'CONFIG_INVALID',
        'threads: true needs the job as a module reference { module, exportName }',
      );
    }
    this.#jobIdOption = options.jobId;
    this.#o = {
      parallelism,
      threads: options.threads ?? (isRef && parallelism > 1),
      storage: options.storage ?? new MemoryCheckpointStorage(),
      checkpointIntervalMs: options.checkpointIntervalMs ?? 0,
      retainedCheckpoints: options.retainedCheckpoints ?? 3,
      restore: options.restore ?? 'latest',
      maxRestarts: options.maxRestarts ?? 3,
      clock: options.clock ?? systemClock,
      batchSize: options.batchSize ?? 1000,
      frameSize: options.frameSize ?? 1000,
      bufferTimeoutMs: options.bufferTimeoutMs ?? 5,
      credits: options.credits ?? 4,
      channelTransport: options.channelTransport ?? 'auto',
      ringBytes: options.ringBytes ?? Math.max(256 * 1024, Math.floor((16 * 1024 * 1024) / parallelism)),
      onAttempt: options.onAttempt,
    };
  }

  get jobId(): string {
    return this.#jobId;
  }

  /** Starts the job; resolves once the first attempt runs. */
  start(): Promise<void> {
    if (!this.#started) {
      this.#started = new Promise<void>((resolve) => (this.#startedResolve = resolve));
      this.#result = this.#main();
      // If the job fails before it ever runs, start() must not hang.
      this.#result.then(
        () => this.#startedResolve?.(),
        () => this.#startedResolve?.(),
      );
    }
    return this.#started;
  }

  /** Resolves when the job ends: bounded sources exhausted and a final checkpoint taken, or stopped. */
  result(): Promise<JobResult> {
    void this.start();
    return this.#result!;
  }

  /** `start()` then `result()`. */
  run(): Promise<JobResult> {
    return this.result();
  }

  async #main(): Promise<JobResult> {
    const job = new CompiledJob('module' in this.#spec ? await loadJob(this.#spec) : this.#spec);
    this.#jobId = this.#jobIdOption ?? job.jobName;
    checkParallelism(job.maxParallelism, this.#o.parallelism);
    let restore = await this.#initialRestore();
    const existing = await this.#o.storage.list(this.#jobId);
    this.#nextId = Math.max(1, ...existing.map((m) => m.checkpointId + 1));
    let restarts = 0;
    for (;;) {
      try {
        const instances = await this.#runAttempt(job, restore);
        return { restarts, checkpoints: this.#history, lastCheckpoint: this.#latest, instances };
      } catch (error) {
        if (error instanceof StopSignal) {
          return { restarts, checkpoints: this.#history, lastCheckpoint: this.#latest, instances: error.instances };
        }
        if (this.#cancelled) {
          return { restarts, checkpoints: this.#history, lastCheckpoint: this.#latest, instances: [] };
        }
        if (restarts >= this.#o.maxRestarts || isFatal(error)) {
          throw error instanceof CepheusError && error.code === 'JOB_FAILED'
            ? error
            : new CepheusError('JOB_FAILED', `job '${this.#jobId}' failed after ${restarts} restarts`, {
                cause: error,
              });
        }
        restarts++;
        this.#attemptNo++;
        restore = this.#latest ?? restore;
      }
    }
  }

  async #initialRestore(): Promise<CheckpointManifest | undefined> {
    const mode = this.#o.restore;
    const storage = this.#o.storage;
    if (mode === 'none') return undefined;
    const manifest =
      mode === 'latest'
        ? await storage.readLatest(this.#jobId)
        : await storage.readManifest(this.#jobId, mode.checkpointId);
    if (mode !== 'latest' && !manifest) {
      throw new CepheusError('STATE_RESTORE_FAILED', `no checkpoint ${mode.checkpointId} for job '${this.#jobId}'`);
    }
    return manifest;
  }

  /** Split assignment and restored state per instance (key groups redistributed for the current parallelism). */
  async #plan(job: CompiledJob, manifest: CheckpointManifest | undefined): Promise<InstancePlan[]> {
    const P = this.#o.parallelism;
    if (manifest) {
      if (manifest.formatVersion > CHECKPOINT_FORMAT_VERSION) {
        throw new CepheusError(
          'STATE_RESTORE_FAILED',
          `checkpoint format ${manifest.formatVersion} is newer than this runtime`,
        );
      }
      if (manifest.maxParallelism !== job.maxParallelism) {
        throw new CepheusError(
          'STATE_RESTORE_FAILED',
          `checkpoint has maxParallelism ${manifest.maxParallelism}, the job ${job.maxParallelism}: key groups cannot move`,
        );
      }
    }
    const offsets = restoredOffsets(manifest, job.eventSource.name);
    const splits = await job.eventSource.source.listSplits();
    const storage = this.#o.storage;
    const broadcast =
      manifest && manifest.chunks.some((c) => c.name === 'broadcast')
        ? await storage.readChunk(this.#jobId, manifest.checkpointId, 'broadcast')
        : undefined;
    const plans: InstancePlan[] = [];
    for (let i = 0; i < P; i++) {
      const assigned: SplitState[] = splits
        .filter((_, j) => j % P === i)
        .map((split) => ({ split, offset: offsets.get(split) ?? null }));
      let restore: InstancePlan['restore'];
      if (manifest) {
        const range = keyGroupRangeForInstance(job.maxParallelism, P, i);
        const keyedChunks: Uint8Array[] = [];
        for (const c of manifest.chunks) {
          if (c.keyGroup === undefined) continue;
          const end = c.keyGroupEnd ?? c.keyGroup;
          if (end < range.start || c.keyGroup > range.end) continue;
          keyedChunks.push(await storage.readChunk(this.#jobId, manifest.checkpointId, c.name));
        }
        restore = { checkpointId: manifest.checkpointId, splits: assigned, keyedChunks, broadcast };
      }
      plans.push({ index: i, splits: assigned, restore });
    }
    return plans;
  }

  #executor(job: CompiledJob, handlers: { onReport(r: TaskReport): void; onError(e: unknown): void }): Executor {
    const tuning: ExecutionTuning = {
      batchSize: this.#o.batchSize,
      frameSize: this.#o.frameSize,
      bufferTimeoutMs: this.#o.bufferTimeoutMs,
      credits: this.#o.credits,
      transport:
        this.#o.channelTransport === 'auto'
          ? job.keyCodec
            ? 'shared-ring'
            : 'message-port'
          : this.#o.channelTransport,
      ringBytes: this.#o.ringBytes,
    };
    if (this.#o.threads) {
      return new WorkerExecutor(
        this.#spec as JobModuleRef,
        this.#jobId,
        this.#o.parallelism,
        this.#attemptNo,
        tuning,
        handlers,
      );
    }
    return new InThreadExecutor(
      job,
      this.#jobId,
      this.#o.parallelism,
      this.#attemptNo,
      this.#o.clock,
      tuning,
      handlers,
    );
  }

  async #runAttempt(job: CompiledJob, manifest: CheckpointManifest | undefined): Promise<InstanceMetrics[]> {
    const P = this.#o.parallelism;
    this.#o.onAttempt?.(this.#attemptNo);
    // Transactions pre-committed in the restored checkpoint may not have been committed before the failure.
    const committables = (manifest?.metadata.committables ?? {}) as Record<string, JsonValue[]>;
    const restoredSources = (manifest?.metadata.sources ?? {}) as unknown as CheckpointSources;
    for (const s of job.sinks) {
      await s.sink.recover?.(committables[s.name] ?? [], manifest?.checkpointId, restoredSources);
    }
    const plans = await this.#plan(job, manifest);

    let fail!: (e: unknown) => void;
    let stopWith!: (how: 'savepoint' | 'cancel') => void;
    let allFinished!: () => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    const stopRequested = new Promise<'savepoint' | 'cancel'>((resolve) => (stopWith = resolve));
    const finished = new Promise<'finished'>((resolve) => (allFinished = () => resolve('finished')));
    failed.catch(() => {});
    const finishedSubtasks = new Set<number>();
    const executor = this.#executor(job, {
      onReport: (r) => {
        if (r.type === 'finished') {
          finishedSubtasks.add(r.subtask);
          if (finishedSubtasks.size === P) allFinished();
        } else coordinator.onReport(r);
      },
      onError: (e) => fail(e),
    });
    let broadcast: BroadcastSourceTask | undefined;
    const coordinator: CheckpointCoordinator = new CheckpointCoordinator({
      storage: this.#o.storage,
      jobId: this.#jobId,
      maxParallelism: job.maxParallelism,
      parallelism: P,
      eventSourceName: job.eventSource.name,
      broadcastSourceName: job.broadcastSource?.name,
      retainedCheckpoints: this.#o.retainedCheckpoints,
      firstCheckpointId: this.#nextId,
      trigger: (id, kind) => {
        this.#nextId = id + 1;
        broadcast?.trigger(id, kind);
        executor.trigger(id, kind);
      },
      notifyComplete: async (id) => {
        const manifest = coordinator.latestCompleted!;
        // Durable from here on: a restart restores this checkpoint whether or not its commit below goes through.
        this.#latest = manifest;
        this.#history.push(coordinator.history[coordinator.history.length - 1]!);
        const all = (manifest.metadata.committables ?? {}) as Record<string, JsonValue[]>;
        const sources = (manifest.metadata.sources ?? {}) as unknown as CheckpointSources;
        try {
          for (const s of job.sinks) await s.sink.commitCheckpoint?.(id, all[s.name] ?? [], sources);
        } catch (error) {
          // Output that cannot commit must not be overtaken by later checkpoints: restart, and `recover` retries it.
          fail(error);
          throw error;
        }
        await executor.notifyComplete(id);
      },
    });
    if (job.broadcastSource) {
      broadcast = new BroadcastSourceTask(
        job,
        this.#jobId,
        this.#attemptNo,
        this.#o.batchSize,
        (frame) => executor.broadcast(frame),
        (id, splits) => coordinator.onBroadcastSourceAck(id, splits),
        (e) => fail(e),
      );
    }
    const attempt: Attempt = { executor, coordinator, broadcast, fail, stop: stopWith };
    this.#attempt = attempt;
    if (this.#cancelled) stopWith('cancel');
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([executor.start(plans), failed]);
      if (broadcast) {
        const bsplits = await job.broadcastSource!.source.listSplits();
        const boffsets = restoredOffsets(manifest, job.broadcastSource!.name);
        await broadcast.start(bsplits.map((split) => ({ split, offset: boffsets.get(split) ?? null })));
      }
      this.#startedResolve?.();
      if (this.#o.checkpointIntervalMs > 0) {
        timer = setInterval(() => {
          if (!coordinator.inProgress) coordinator.trigger('checkpoint').catch(() => {});
        }, this.#o.checkpointIntervalMs);
      }
      const how = await Promise.race([failed, stopRequested, finished]);
      clearInterval(timer);
      timer = undefined;
      if (how === 'cancel') {
        await this.#shutdown(attempt, true);
        throw new StopSignal(await executor.metrics().catch(() => []));
      }
      // Final checkpoint (or the savepoint asked for): waits for one in progress, fails the attempt if it fails.
      const final = await Promise.race([
        this.#checkpointNow(coordinator, how === 'savepoint' ? 'savepoint' : 'checkpoint'),
        failed,
      ]);
      void final;
      const instances = await executor.metrics();
      await this.#shutdown(attempt, how === 'savepoint');
      if (how === 'savepoint') throw new StopSignal(instances);
      return instances;
    } catch (error) {
      clearInterval(timer);
      if (error instanceof StopSignal) throw error;
      await this.#shutdown(attempt, true);
      await coordinator.abortPending(error);
      throw error;
    }
  }

  async #checkpointNow(
    coordinator: CheckpointCoordinator,
    kind: 'checkpoint' | 'savepoint',
  ): Promise<CheckpointManifest> {
    for (;;) {
      try {
        return await coordinator.trigger(kind);
      } catch (error) {
        if (!(error instanceof CepheusError && error.retriable)) throw error;
        await new Promise((r) => setTimeout(r, 2));
      }
    }
  }

  async #shutdown(attempt: Attempt, abort: boolean): Promise<void> {
    if (this.#attempt === attempt) this.#attempt = undefined;
    await attempt.broadcast?.stop().catch(() => {});
    await attempt.executor.stop(abort).catch(() => {});
  }

  #running(): Attempt {
    if (!this.#attempt) throw new CepheusError('JOB_FAILED', 'the job is not running', { retriable: true });
    return this.#attempt;
  }

  /** Takes a checkpoint now; resolves with its manifest once it is committed. */
  triggerCheckpoint(): Promise<CheckpointManifest> {
    return this.#checkpointNow(this.#running().coordinator, 'checkpoint');
  }

  /** Takes a savepoint (kept until deleted) without stopping the job. */
  triggerSavepoint(): Promise<CheckpointManifest> {
    return this.#checkpointNow(this.#running().coordinator, 'savepoint');
  }

  /** Takes a savepoint and stops the job; the result resolves with it as `lastCheckpoint`. */
  async stopWithSavepoint(): Promise<CheckpointManifest> {
    this.#running().stop('savepoint');
    const result = await this.result();
    if (!result.lastCheckpoint || result.lastCheckpoint.kind !== 'savepoint') {
      throw new CepheusError('CHECKPOINT_FAILED', 'the job stopped without a savepoint');
    }
    return result.lastCheckpoint;
  }

  /** Stops the job without a checkpoint; open sink transactions are aborted. */
  async cancel(): Promise<JobResult> {
    this.#cancelled = true;
    this.#attempt?.stop('cancel');
    return this.result();
  }

  /** Test hook: kills one instance (terminates its worker), as a crash would. False when no attempt is running. */
  killInstance(index: number): boolean {
    if (!this.#attempt) return false;
    this.#attempt.executor.kill(index);
    return true;
  }

  /** Live figures: per instance (records, back-pressure, watermark, keys, broadcast digest) and checkpoints. */
  async metrics(): Promise<JobMetrics> {
    const a = this.#attempt;
    return { attempt: this.#attemptNo, instances: a ? await a.executor.metrics() : [], checkpoints: this.#history };
  }
}

class StopSignal extends Error {
  constructor(readonly instances: InstanceMetrics[]) {
    super('stopped');
  }
}

function isFatal(error: unknown): boolean {
  return error instanceof CepheusError && (error.code === 'STATE_RESTORE_FAILED' || error.code === 'CONFIG_INVALID');
}

function restoredOffsets(manifest: CheckpointManifest | undefined, sourceName: string): Map<string, JsonValue> {
  const sources = (manifest?.metadata.sources ?? {}) as unknown as Record<string, SplitState[]>;
  return new Map((sources[sourceName] ?? []).map((s) => [s.split, s.offset]));
}
