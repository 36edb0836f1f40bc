import type { DataFrame } from '../channel/data-frame';
import type { CheckpointKind } from '../checkpoint/checkpoint-storage';
import type { Clock } from '../time/clock';
import type { CompiledJob } from './compiled-job';
import type { ExecutionTuning, Executor, ExecutorHandlers, InstancePlan } from './executor';
import { InstanceTask, type InstanceMetrics } from './instance-task';

const noop = (): void => {};

/**
 * All instances in the calling thread, stepped round-robin: the path for tests, for P = 1, and for the embedded mode.
 * Channels are direct calls (a frame is handed to the receiving instance), so there is no copy and no flow control to
 * speak of; each loop turn yields to the event loop so that storage writes and timers progress.
 */
export class InThreadExecutor implements Executor {
  #tasks: InstanceTask[] = [];
  #running = false;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly job: CompiledJob,
    private readonly jobId: string,
    private readonly parallelism: number,
    private readonly attempt: number,
    private readonly clock: Clock,
    private readonly tuning: ExecutionTuning,
    private readonly handlers: ExecutorHandlers,
  ) {}

  async start(plans: InstancePlan[]): Promise<void> {
    this.#tasks = plans.map(
      (plan) =>
        new InstanceTask({
          job: this.job,
          jobId: this.jobId,
          index: plan.index,
          parallelism: this.parallelism,
          attempt: this.attempt,
          clock: this.clock,
          batchSize: this.tuning.batchSize,
          frameSize: this.tuning.frameSize,
          bufferTimeoutMs: this.tuning.bufferTimeoutMs,
          restore: plan.restore,
          splits: plan.splits,
          exchange: {
            deliver: (target, frame) => this.#tasks[target]!.onFrame(plan.index, frame, noop),
            backlogged: () => false,
          },
          report: (r) => this.handlers.onReport(r),
          onError: (e) => this.#fail(e),
        }),
    );
    for (const t of this.#tasks) await t.open();
    this.#running = true;
    this.#loop = this.#run();
  }

  #fail(error: unknown): void {
    if (!this.#running) return;
    this.#running = false;
    this.handlers.onError(error);
  }

  async #run(): Promise<void> {
    try {
      while (this.#running) {
        let work = 0;
        for (const t of this.#tasks) {
          const n = t.step();
          work += typeof n === 'number' ? n : await n;
          if (!this.#running) return;
        }
        if (work === 0) await new Promise<void>((r) => setTimeout(r, 1));
        else await new Promise<void>((r) => setImmediate(r));
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  trigger(checkpointId: number, kind: CheckpointKind): void {
    for (const t of this.#tasks) t.triggerBarrier(checkpointId, kind);
  }

  broadcast(frame: DataFrame): void {
    for (const t of this.#tasks) {
      // Each instance gets its own copy: a processor may keep the element in its broadcast state.
      t.onFrame(this.parallelism, this.#tasks.length === 1 ? frame : structuredClone(frame), noop);
    }
  }

  async notifyComplete(checkpointId: number): Promise<void> {
    for (const t of this.#tasks) await t.checkpointComplete(checkpointId);
  }

  async metrics(): Promise<InstanceMetrics[]> {
    return this.#tasks.map((t) => t.metrics());
  }

  async stop(abort: boolean): Promise<void> {
    this.#running = false;
    await this.#loop;
    for (const t of this.#tasks) await t.close(abort);
  }

  kill(index: number): void {
    this.#fail(new Error(`instance ${index} killed`));
  }
}
