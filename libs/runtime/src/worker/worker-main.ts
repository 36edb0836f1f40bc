// Entry of an instance's worker thread: builds the job from its module, runs one InstanceTask, speaks
// worker-protocol with the coordinator and credit-based channels (shared rings or MessagePorts) with the other
// instances.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { Connection, type FrameCodec } from '../channel/credit-channel';
import { decodeKeyedFrame, encodeKeyedFrame } from '../channel/frame-codec';
import type { DataFrame } from '../channel/data-frame';
import { RingInputChannel, RingOutputChannel } from '../channel/ring-channel';
import { Doorbell, SharedRing } from '../channel/shared-ring';
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
  const outputs: (PeerOutput | undefined)[] = [];
  const ringOutputs: RingOutputChannel[] = [];
  const ringInputs: RingInputChannel[] = [];
  let running = true;
  const rings = init.tuning.transport === 'shared-ring';
  // Everything that may give the loop work wakes it: a frame or released room from a peer (the doorbell, rung by the
  // peer's thread), a message on a port (rung here).
  const doorbell = new Doorbell(init.doorbells[index]!);
  let wakeUp: (() => void) | undefined;
  const wake = (): void => {
    doorbell.ring();
    wakeUp?.();
  };
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
  if (rings) {
    for (let peer = 0; peer < init.parallelism; peer++) {
      if (peer === index) continue;
      const peerBell = new Doorbell(init.doorbells[peer]!);
      const out = new RingOutputChannel(new SharedRing(init.ringsOut[peer]!), peerBell, 2, job.keyCodec);
      outputs[peer] = out;
      ringOutputs.push(out);
      ringInputs.push(
        new RingInputChannel(
          new SharedRing(init.ringsIn[peer]!),
          peerBell,
          (frame, release) => task.onFrame(peer, frame, release),
          job.keyCodec,
        ),
      );
    }
  } else {
    // One connection per peer; channel id = sender index, so that the receiver knows its input channel.
    const codec: FrameCodec = {
      encode: (frame) => encodeKeyedFrame(frame, job.keyCodec),
      decode: (buf) => decodeKeyedFrame(buf, job.keyCodec),
    };
    init.ports.forEach((p, peer) => {
      if (!p) return;
      const connection = new Connection(p);
      outputs[peer] = connection.output(index, 2, codec);
      connection.input(peer, init.tuning.credits, (frame, release) => task.onFrame(peer, frame, release), codec);
      // After the connection's own listener: a frame was delivered or credit arrived.
      p.on('message', wake);
    });
  }

  let begin!: () => void;
  const started = new Promise<void>((resolve) => (begin = resolve));
  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'start':
        begin();
        break;
      case 'trigger':
        task.triggerBarrier(m.id, m.kind);
        wake();
        break;
      case 'broadcast':
        task.onFrame(init.parallelism, m.frame, noop);
        // The frame may be the one that lets the source side start reading (see DataFrame.ready).
        wake();
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
        wake();
        void task.close(m.abort).finally(() => post({ t: 'stopped' }));
        break;
    }
  });
  post({ t: 'ready' });
  // All instances start together, once every one is open: a slow start of one is not back-pressure on the others.
  await started;
  task.resetClocks();

  while (running) {
    // Read before looking for work: a ring after this point makes the wait below return at once.
    const seen = doorbell.value;
    let work = 0;
    for (const input of ringInputs) work += input.poll();
    for (const out of ringOutputs) out.flush();
    work += await task.step();
    if (!running) break;
    if (work > 0) {
      // Lets coordinator messages and the asynchronous part of a snapshot in between two batches.
      await new Promise<void>((r) => setImmediate(r));
    } else if (rings) {
      // Nothing to read, or waiting for room: sleep until a peer writes a frame or releases room, or 1 ms has passed
      // (processing-time timers, the buffer timeout), then let the coordinator's messages in.
      doorbell.waitSync(seen, 1);
      await new Promise<void>((r) => setImmediate(r));
    } else {
      // Frames and credits arrive as port messages, which only the event loop can deliver: wait in it.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 1);
        function done(): void {
          clearTimeout(timer);
          wakeUp = undefined;
          resolve();
        }
        wakeUp = done;
      });
    }
  }
}

/** What the exchange needs of a channel to a peer, over either transport. */
interface PeerOutput {
  send(frame: DataFrame): void;
  readonly backlogged: boolean;
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
