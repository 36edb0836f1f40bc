import type { DataFrame } from '../channel/data-frame';
import type { CheckpointKind } from '../checkpoint/checkpoint-storage';
import type { SourceReader, SplitState } from '../connectors/source';
import type { CompiledJob } from './compiled-job';

/**
 * The broadcast source, parallelism 1, in the coordinator's thread: it reads the rules stream once and sends every
 * frame to every instance. A barrier is sent to all instances after the same prefix of the stream, so that at every
 * checkpoint all instances have applied exactly the same broadcast elements: broadcast state is equal everywhere and
 * one copy of it is enough in the checkpoint.
 */
export class BroadcastSourceTask {
  #reader: SourceReader<unknown> | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #ended = false;
  #readySent = false;
  readonly #pendingBarriers: [number, CheckpointKind][] = [];
  #records: unknown[] = [];

  constructor(
    private readonly job: CompiledJob,
    private readonly jobId: string,
    private readonly attempt: number,
    private readonly batchSize: number,
    private readonly send: (frame: DataFrame) => void,
    private readonly onAck: (checkpointId: number, splits: SplitState[]) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  async start(splits: SplitState[]): Promise<void> {
    const source = this.job.broadcastSource!.source;
    this.#reader = await source.createReader({
      jobId: this.jobId,
      subtaskIndex: 0,
      parallelism: 1,
      attempt: this.attempt,
    });
    await this.#reader.addSplits(splits);
    this.#running = true;
    this.#loop = this.#run();
  }

  trigger(checkpointId: number, kind: CheckpointKind): void {
    this.#pendingBarriers.push([checkpointId, kind]);
  }

  async #run(): Promise<void> {
    const chain = this.job.broadcastChain((value, ts) => this.#records.push(ts, value));
    try {
      while (this.#running) {
        while (this.#pendingBarriers.length > 0) {
          const [id, kind] = this.#pendingBarriers.shift()!;
          this.onAck(id, this.#reader!.snapshotState());
          this.send({ r: [], b: [id, kind] });
        }
        let n = 0;
        if (!this.#ended) {
          const polled = await this.#reader!.poll(this.batchSize);
          n = polled.length;
          for (const r of polled) chain(r.value, r.timestamp);
          const finished = this.#reader!.isFinished();
          const ready = !this.#readySent && (finished || (this.#reader!.isCaughtUp?.() ?? n < this.batchSize));
          if (this.#records.length > 0 || finished || ready) {
            const frame: DataFrame = { r: this.#records };
            if (finished) frame.end = true;
            if (ready) {
              frame.ready = true;
              this.#readySent = true;
            }
            this.#records = [];
            this.send(frame);
          }
          if (finished) this.#ended = true;
        }
        await new Promise<void>((r) => (n === 0 ? setTimeout(r, 1) : setImmediate(r)));
      }
    } catch (error) {
      this.#running = false;
      this.onError(error);
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    await this.#reader?.close?.();
  }
}
