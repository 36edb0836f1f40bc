// Entry of an instance's worker thread: builds the job from its module, runs one InstanceTask, speaks
// worker-protocol with the coordinator and credit-based channels with the other instances.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { Connection, type FrameCodec, type OutputChannel } from '../channel/credit-channel';
import { decodeKeyedFrame, encodeKeyedFrame } from '../channel/frame-codec';
import type { DataFrame } from '../channel/data-frame';
import { CompiledJob } from '../job/compiled-job';
import { InstanceTask } from '../job/instance-task';
import { loadJob } from '../job/job-module';
import { systemClock } from '../time/clock';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol';

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (m: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);

function sendError(error: unknown): void {
  const e = error instanceof Error ? error : new Error(String(error));
  post({ t: 'error', message: e.message, stack: e.stack, code: (e as { code?: string }).code });
}

async function main(): Promise<void> {
  const requireModule = createRequire(__filename);
  const job = new CompiledJob(await loadJob(init.ref, async (path) => requireModule(path)));
  const index = init.plan.index;
  const outputs: (OutputChannel | undefined)[] = [];
  let running = true;
  let wake: (() => void) | undefined;
  const task: InstanceTask = new InstanceTask({
    job,
    jobId: init.jobId,
    index,
    parallelism: init.parallelism,
    attempt: init.attempt,
    clock: systemClock,
    batchSize: init.tuning.batchSize,
    frameSize: init.tuning.frameSize,
    bufferTimeoutMs: init.tuning.bufferTimeoutMs,
    restore: init.plan.restore,
    splits: init.plan.splits,
    exchange: {
      deliver: (target: number, frame: DataFrame) => {
        if (target === index) task.onFrame(index, frame, noop);
        else outputs[target]!.send(frame);
      },
      backlogged: () => outputs.some((o) => o?.backlogged),
    },
    report: (report) => {
      const transfer = report.type === 'keyed-ack' ? chunkBuffers(report.chunks.map((c) => c.data)) : undefined;
      post({ t: 'report', report }, transfer);
    },
    onError: (error) => {
      running = false;
      sendError(error);
    },
  });
  await task.open();
  // One connection per peer; channel id = sender index, so that the receiver knows its input channel.
  const codec: FrameCodec = {
    encode: (frame) => encodeKeyedFrame(frame, job.keyCodec),
    decode: (buf) => decodeKeyedFrame(buf, job.keyCodec),
  };
  init.ports.forEach((p, peer) => {
    if (!p) return;
    const connection = new Connection(p);
    outputs[peer] = connection.output(index, 2, codec);
    connection.input(
      peer,
      init.tuning.credits,
      (frame, release) => {
        task.onFrame(peer, frame, release);
        wake?.();
      },
      codec,
    );
  });

  let begin!: () => void;
  const started = new Promise<void>((resolve) => (begin = resolve));
  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'start':
        begin();
        break;
      case 'trigger':
        task.triggerBarrier(m.id, m.kind);
        wake?.();
        break;
      case 'broadcast':
        task.onFrame(init.parallelism, m.frame, noop);
        break;
      case 'complete':
        task.checkpointComplete(m.id).then(
          () => post({ t: 'completed', id: m.id }),
          (e) => sendError(e),
        );
        break;
      case 'metrics':
        post({ t: 'metrics', req: m.req, metrics: task.metrics() });
        break;
      case 'stop':
        running = false;
        wake?.();
        void task.close(m.abort).finally(() => post({ t: 'stopped' }));
        break;
    }
  });
  post({ t: 'ready' });
  // All instances start together, once every one is open: a slow start of one is not back-pressure on the others.
  await started;
  task.resetClocks();

  while (running) {
    const n = await task.step();
    if (!running) break;
    if (n > 0) {
      await new Promise<void>((r) => setImmediate(r));
    } else {
      // Nothing to read, or waiting for credit: sleep until a frame, a credit or a trigger arrives (or 1 ms).
      const backlogged = outputs.filter((o) => o?.backlogged);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 1);
        function done(): void {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
        for (const o of backlogged) void o!.whenWritable().then(done);
      });
    }
  }
}

function noop(): void {}

function chunkBuffers(views: Uint8Array[]): ArrayBuffer[] {
  // Transfer only buffers the views own entirely (Buffer.from may use a shared pool).
  const out = new Set<ArrayBuffer>();
  for (const v of views)
    if (v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) out.add(v.buffer as ArrayBuffer);
  return [...out];
}

main().catch(sendError);
