import { extname, join } from 'node:path';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { CepheusError, type ErrorCode } from '@cepheus/common';
import type { DataFrame } from '../channel/data-frame';
import { Doorbell, SharedRing } from '../channel/shared-ring';
import type { CheckpointKind } from '../checkpoint/checkpoint-storage';
import type { ExecutionTuning, Executor, ExecutorHandlers, InstancePlan } from '../job/executor';
import type { InstanceMetrics } from '../job/instance-task';
import type { JobModuleRef } from '../job/job-module';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol';

/**
 * The worker entry next to this file: `worker-main.js` when compiled, `worker-main.ts` from source (tests, tsx). A
 * worker does not inherit the parent's TypeScript loader, so from source it is started with tsx's CommonJS hook.
 */
function workerEntry(): { file: string; execArgv: string[] } {
  const ext = extname(__filename);
  return { file: join(__dirname, `worker-main${ext}`), execArgv: ext === '.ts' ? ['--require', 'tsx/cjs'] : [] };
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  stopped: Promise<void>;
  exited: boolean;
}

/**
 * One worker thread per instance, joined pairwise by shared rings (`SharedRing`, one per direction) or by MessagePorts
 * that carry credit-based channels (`Connection`). The coordinator stays in the calling thread and speaks
 * worker-protocol with each worker.
 */
export class WorkerExecutor implements Executor {
  #slots: Slot[] = [];
  #stopping = false;
  #req = 0;
  readonly #pendingMetrics = new Map<number, (m: InstanceMetrics) => void>();
  readonly #completions = new Map<string, () => void>();

  constructor(
    private readonly ref: JobModuleRef,
    private readonly jobId: string,
    private readonly parallelism: number,
    private readonly attempt: number,
    private readonly tuning: ExecutionTuning,
    private readonly handlers: ExecutorHandlers,
  ) {}

  async start(plans: InstancePlan[]): Promise<void> {
    const P = this.parallelism;
    const rings = this.tuning.transport === 'shared-ring';
    const ports: (MessagePort | undefined)[][] = Array.from({ length: P }, () => new Array(P).fill(undefined));
    // rings[i][j]: the ring instance i writes and instance j reads.
    const ringBuffers: (SharedArrayBuffer | undefined)[][] = Array.from({ length: P }, () =>
      new Array(P).fill(undefined),
    );
    for (let i = 0; i < P; i++) {
      for (let j = 0; j < P; j++) {
        if (i === j) continue;
        if (rings) ringBuffers[i]![j] = SharedRing.allocate(this.tuning.ringBytes);
        else if (j > i) {
          const mc = new MessageChannel();
          ports[i]![j] = mc.port1;
          ports[j]![i] = mc.port2;
        }
      }
    }
    const doorbells = Array.from({ length: P }, () => Doorbell.allocate());
    const { file, execArgv } = workerEntry();
    this.#slots = plans.map((plan) => {
      const init: WorkerInit = {
        ref: this.ref,
        jobId: this.jobId,
        parallelism: P,
        attempt: this.attempt,
        tuning: this.tuning,
        plan,
        ports: ports[plan.index]!,
        ringsOut: ringBuffers[plan.index]!,
        ringsIn: ringBuffers.map((row) => row[plan.index]),
        doorbells,
      };
      const worker = new Worker(file, {
        workerData: init,
        transferList: ports[plan.index]!.filter((p): p is MessagePort => p !== undefined),
        execArgv,
      });
      let readyResolve!: () => void;
      let stoppedResolve!: () => void;
      const slot: Slot = {
        worker,
        ready: new Promise<void>((r) => (readyResolve = r)),
        stopped: new Promise<void>((r) => (stoppedResolve = r)),
        exited: false,
      };
      worker.on('message', (m: FromWorker) => {
        switch (m.t) {
          case 'ready':
            readyResolve();
            break;
          case 'report':
            this.handlers.onReport(m.report);
            break;
          case 'completed':
            this.#completions.get(`${plan.index}/${m.id}`)?.();
            break;
          case 'metrics':
            this.#pendingMetrics.get(m.req)?.(m.metrics);
            break;
          case 'error': {
            const error = new CepheusError(
              (m.code as ErrorCode | undefined) ?? 'JOB_FAILED',
              `instance ${plan.index}: ${m.message}`,
            );
            error.stack = m.stack;
            this.#fail(error);
            break;
          }
          case 'stopped':
            stoppedResolve();
            break;
        }
      });
      worker.on('error', (e) => this.#fail(e));
      worker.on('exit', (code) => {
        slot.exited = true;
        readyResolve();
        stoppedResolve();
        if (!this.#stopping)
          this.#fail(new CepheusError('JOB_FAILED', `instance ${plan.index}: worker exited (${code})`));
      });
      return slot;
    });
    await Promise.all(this.#slots.map((s) => s.ready));
    for (let i = 0; i < this.#slots.length; i++) this.#post(i, { t: 'start' });
  }

  #fail(error: unknown): void {
    if (this.#stopping) return;
    this.handlers.onError(error);
  }

  #post(index: number, m: ToWorker): void {
    const slot = this.#slots[index]!;
    if (!slot.exited) slot.worker.postMessage(m);
  }

  trigger(checkpointId: number, kind: CheckpointKind): void {
    for (let i = 0; i < this.#slots.length; i++) this.#post(i, { t: 'trigger', id: checkpointId, kind });
  }

  broadcast(frame: DataFrame): void {
    for (let i = 0; i < this.#slots.length; i++) this.#post(i, { t: 'broadcast', frame });
  }

  async notifyComplete(checkpointId: number): Promise<void> {
    await Promise.all(
      this.#slots.map(
        (s, i) =>
          new Promise<void>((resolve) => {
            if (s.exited) return resolve();
            this.#completions.set(`${i}/${checkpointId}`, () => {
              this.#completions.delete(`${i}/${checkpointId}`);
              resolve();
            });
            this.#post(i, { t: 'complete', id: checkpointId });
          }),
      ),
    );
  }

  async metrics(): Promise<InstanceMetrics[]> {
    return Promise.all(
      this.#slots.map(
        (s, i) =>
          new Promise<InstanceMetrics>((resolve, reject) => {
            if (s.exited) return reject(new CepheusError('JOB_FAILED', `instance ${i} is gone`));
            const req = ++this.#req;
            const timer = setTimeout(() => reject(new CepheusError('JOB_FAILED', `instance ${i}: no metrics`)), 5000);
            timer.unref();
            this.#pendingMetrics.set(req, (m) => {
              clearTimeout(timer);
              this.#pendingMetrics.delete(req);
              resolve(m);
            });
            this.#post(i, { t: 'metrics', req });
          }),
      ),
    );
  }

  async stop(abort: boolean): Promise<void> {
    this.#stopping = true;
    for (let i = 0; i < this.#slots.length; i++) this.#post(i, { t: 'stop', abort });
    await Promise.all(
      this.#slots.map((s) =>
        Promise.race([s.stopped, new Promise((r) => setTimeout(r, 2000).unref())]).then(() => s.worker.terminate()),
      ),
    );
  }

  kill(index: number): void {
    void this.#slots[index]?.worker.terminate();
  }
}
