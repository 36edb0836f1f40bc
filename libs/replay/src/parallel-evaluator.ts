import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DecodeFailureReason, EmittedAlert, RawMessage } from '@cepheus/kafka';
import { ReplayEvaluator, type ReplayEvaluatorOptions } from './replay-evaluator';
import { packBatch, type WorkerInit, type WorkerReply, type WorkerRequest } from './replay-worker-protocol';

/** The compiled worker entry; absent when running from TypeScript sources (ts-jest, tsx), where replays run in-thread. */
const WORKER_FILE = join(__dirname, 'replay-worker.js');

export function parallelReplayAvailable(): boolean {
  return existsSync(WORKER_FILE);
}

interface Pending {
  resolve: (reply: WorkerReply) => void;
  reject: (error: Error) => void;
}

class EvaluatorThread {
  readonly worker: Worker;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  inFlight: Array<Promise<void>> = [];

  constructor(init: WorkerInit) {
    this.worker = new Worker(WORKER_FILE, { workerData: init });
    this.worker.on('message', (reply: WorkerReply) => {
      const waiter = this.pending.get(reply.seq);
      this.pending.delete(reply.seq);
      if (reply.type === 'error') waiter?.reject(new Error(`replay worker: ${reply.message}`));
      else waiter?.resolve(reply);
    });
    this.worker.on('error', (error) => {
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    });
  }

  request(build: (seq: number) => WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    const seq = ++this.seq;
    return new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.worker.postMessage(build(seq), transfer);
    });
  }
}

/**
 * Evaluates partitions on worker threads: partitions are independent (keyed state and watermark per partition, as in
 * the live job), so partition p goes to thread p mod n, which sees its batches in order. Batches are packed into one
 * transferred buffer each (crossing a thread by structured clone costs ~3 us an event, more than decoding it), and at
 * most `maxInFlight` batches wait per thread, so reading never runs far ahead of evaluation.
 */
export class ParallelEvaluator {
  readonly deadLetters: Partial<Record<DecodeFailureReason | 'LATE_EVENT', number>> = {};
  readonly alertsByRule: Record<string, number> = {};
  rules: Array<{ ruleId: string; version: number | null; status: string; reason?: string }> = [];
  eventsRead = 0;
  alerts = 0;
  private readonly threads: EvaluatorThread[];
  private failure: Error | undefined;

  constructor(
    rules: readonly unknown[],
    options: ReplayEvaluatorOptions,
    threads: number,
    private readonly onAlerts: (alerts: EmittedAlert[]) => Promise<void>,
    private readonly maxInFlight = 2,
  ) {
    const init: WorkerInit = {
      rules,
      options: {
        outOfOrdernessMs: options.outOfOrdernessMs,
        decoder: options.decoder,
        maxPartialMatches: options.maxPartialMatches,
      },
    };
    this.threads = Array.from({ length: threads }, () => new EvaluatorThread(init));
    // What the processor did with each rule, known before any event (and kept if the replay is cancelled).
    this.rules = new ReplayEvaluator(rules, options).rules;
  }

  /** Queues a batch; resolves once its thread has room (not when it is evaluated). */
  async submit(partition: number, messages: RawMessage[]): Promise<void> {
    if (this.failure) throw this.failure;
    const thread = this.threads[partition % this.threads.length];
    while (thread.inFlight.length >= this.maxInFlight) await Promise.race(thread.inFlight);
    const packed = packBatch(0, partition, messages);
    const done: Promise<void> = thread
      .request((seq) => ({ ...packed, seq }), [packed.values])
      .then(async (reply) => {
        if (reply.type !== 'batch') return;
        this.eventsRead += reply.events;
        await this.collect(reply.alerts);
      })
      .catch((error: unknown) => {
        this.failure ??= error as Error;
      })
      .finally(() => {
        thread.inFlight = thread.inFlight.filter((p) => p !== done);
      });
    thread.inFlight.push(done);
  }

  /**
   * Waits for every queued batch, optionally moves the watermarks to `flushTo`, gathers the counters, stops the threads.
   * An abort meanwhile stops at once: batches still queued are dropped (their events do not count as read). Returns
   * whether it was aborted.
   */
  async finish(flushTo: number | undefined, signal?: AbortSignal): Promise<boolean> {
    const aborted = new Promise<void>((resolve) => {
      if (signal?.aborted) resolve();
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    try {
      for (const thread of this.threads) {
        await Promise.race([Promise.all(thread.inFlight), aborted]);
        if (signal?.aborted) return true;
      }
      if (this.failure) throw this.failure;
      for (const thread of this.threads) {
        const reply = await thread.request((seq) => ({ type: 'finish', seq, flushTo }));
        if (reply.type !== 'finish') continue;
        await this.collect(reply.alerts);
        for (const [reason, count] of Object.entries(reply.deadLetters)) {
          const key = reason as DecodeFailureReason | 'LATE_EVENT';
          this.deadLetters[key] = (this.deadLetters[key] ?? 0) + count;
        }
      }
      return false;
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }

  private async collect(alerts: EmittedAlert[]): Promise<void> {
    for (const alert of alerts) {
      const ruleId = String(alert.body.ruleId);
      this.alertsByRule[ruleId] = (this.alertsByRule[ruleId] ?? 0) + 1;
    }
    this.alerts += alerts.length;
    await this.onAlerts(alerts);
  }
}
