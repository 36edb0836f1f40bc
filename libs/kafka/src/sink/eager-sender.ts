import type { OutputRecord } from './alert-transaction-writer';

/**
 * At-least-once output: records leave as soon as they are produced, one send in flight at a time; what queues up while
 * a send is in flight goes out together in the next one, so a busy engine sends fewer, larger requests and an idle one
 * sends at once. The batch loop never waits for a send. A checkpoint commits source offsets only after `flush()`, so
 * an offset is never committed ahead of the output of the events before it.
 *
 * After a failed send nothing more is sent: the owner restarts from the committed offsets with a new sender (records
 * still queued here are produced again from the replayed events).
 */
export class EagerSender {
  private queue: OutputRecord[] = [];
  private sending: Promise<void> | undefined;
  private error: unknown;
  private enqueued = 0;
  private acknowledged = 0;
  /** Flushes waiting for `acknowledged` to reach their target (not for the queue to empty, which may never happen). */
  private waiters: { target: number; resolve: () => void; reject: (error: unknown) => void }[] = [];

  constructor(
    private readonly send: (records: OutputRecord[]) => Promise<void>,
    private readonly onAcknowledged: (records: readonly OutputRecord[]) => void = () => undefined,
  ) {}

  /** Records enqueued and not acknowledged yet. */
  get pending(): number {
    return this.enqueued - this.acknowledged;
  }

  /** The error of the send that failed, if one did. */
  get failure(): unknown {
    return this.error;
  }

  get failed(): boolean {
    return this.error !== undefined;
  }

  enqueue(records: readonly OutputRecord[]): void {
    if (records.length === 0) return;
    for (let i = 0; i < records.length; i++) this.queue.push(records[i]);
    this.enqueued += records.length;
    this.sending ??= this.drain();
  }

  /** Resolves once everything enqueued before the call is acknowledged; rejects if a send failed first. */
  flush(): Promise<void> {
    const target = this.enqueued;
    if (this.acknowledged >= target) return Promise.resolve();
    if (this.error !== undefined) return Promise.reject(this.error as Error);
    this.sending ??= this.drain();
    return new Promise((resolve, reject) => this.waiters.push({ target, resolve, reject }));
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.error === undefined) {
        const batch = this.queue;
        this.queue = [];
        await this.send(batch);
        this.acknowledged += batch.length;
        this.onAcknowledged(batch);
        const done = this.waiters.filter((w) => w.target <= this.acknowledged);
        this.waiters = this.waiters.filter((w) => w.target > this.acknowledged);
        for (const w of done) w.resolve();
      }
    } catch (error) {
      this.error = error ?? new Error('send failed');
      const failed = this.waiters;
      this.waiters = [];
      for (const w of failed) w.reject(this.error);
    } finally {
      this.sending = undefined;
    }
  }
}
