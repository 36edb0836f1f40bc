import type { IHeaders, Kafka, Message, Producer, Transaction } from 'kafkajs';
import type { JsonValue, Sink, SinkWriter, SinkWriterContext } from '@cepheus/runtime';
import { identifiedProducer, resumeAndCommit, type ProducerIdentity, type ResumeOutcome } from './kafkajs-internals';

/** One record to write, as the caller's `toRecord` maps a sink value. */
export interface KafkaSinkRecord {
  topic: string;
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: IHeaders;
  /** Leave out for kafkajs's default partitioner (murmur2 of the key, as the Java client). */
  partition?: number;
}

/** Source positions to commit with a checkpoint's transaction (`sendOffsets`), as kafkajs takes them. */
export interface KafkaSinkOffsets {
  consumerGroupId: string;
  topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
}

/** What the sink stores in a checkpoint per writer: enough to commit the transaction from another process. */
export interface KafkaTransactionCommittable {
  transactionalId: string;
  /** An int64 as a decimal string. */
  producerId: string;
  producerEpoch: number;
  checkpointId: number;
  subtask: number;
}

/** Options of a {@link KafkaTransactionalSink}. */
export interface KafkaTransactionalSinkOptions<T> {
  kafka: Kafka;
  /** The sink's name in the job graph and in checkpoints. @defaultValue 'output' */
  name?: string;
  /** Maps a value to the record to write, or `undefined` to write nothing for it. */
  toRecord: (value: T, timestamp: number) => KafkaSinkRecord | undefined;
  /** Writer `i` uses the transactional id `<prefix>-<i>`: stable across restarts, so a restarted writer fences. */
  transactionalIdPrefix: string;
  /** `at-least-once`: an idempotent producer, no transactions; a checkpoint waits until its records are acknowledged. */
  guarantee?: 'exactly-once' | 'at-least-once';
  /**
   * Exactly-once only: source positions to commit inside checkpoint `checkpointId`'s transaction (`sendOffsets`), so
   * that the consumer group's offsets move with the output. Called at the checkpoint's `prepareCommit`.
   */
  offsets?: (checkpointId: number) => KafkaSinkOffsets | undefined;
  /**
   * The broker aborts a transaction open longer than this: it must exceed the checkpoint interval plus the time a
   * restart takes, or a transaction pre-committed before a failure is gone when `recover` wants to commit it.
   * @defaultValue 60000
   */
  transactionTimeoutMs?: number;
  /** Records per produce request (kafkajs crawls on requests of tens of thousands: docs/kafka.md). @defaultValue 5000 */
  maxRecordsPerSend?: number;
  /**
   * A writer waits this long at `prepareCommit(n)` for `commit(k)` of an earlier checkpoint it pre-committed; past it,
   * checkpoint k is taken as abandoned and the writer fails (the runtime then restarts from its latest checkpoint).
   * @defaultValue 30000
   */
  commitWaitTimeoutMs?: number;
  /**
   * `recover` also fences `<prefix>-0` .. `<prefix>-(n-1)`: set it to the largest parallelism the job has run at, so
   * that the open transactions of writers that no longer exist after a scale-down do not hold back read_committed
   * consumers until they time out. Writers that exist fence their own id when they start. @defaultValue 0
   */
  fenceSubtasks?: number;
}

/**
 * A Kafka sink for the runtime's two-phase commit (Flink's `KafkaSink` with `DeliveryGuarantee.EXACTLY_ONCE`), one
 * transactional producer per writer at a time:
 * - `write` hands the record to the open transaction; a background loop sends what accumulated, one request at a
 *   time (so a busy writer sends fewer, larger requests), never awaited per record;
 * - `prepareCommit(n)` flushes, adds the checkpoint's offsets if asked, and returns the transaction's committable
 *   (transactional id, producer id and epoch, checkpoint id). The transaction stays open: Kafka has one open
 *   transaction per producer, so records written from here on are held in memory;
 * - `commit(n)` commits it, then the held records go into the next transaction, on a fresh producer for the same
 *   transactional id. Its InitProducerId bumps the epoch, so the committed transaction's epoch is never used again;
 * - `recover(committables)` commits each transaction of the restored checkpoint by its producer id and epoch
 *   (`EndTxn`, as Flink resumes a transaction): "superseded" (a newer epoch exists) means a writer had committed it
 *   and moved on. A pre-committed transaction whose checkpoint did not complete is aborted by the fencing that a new
 *   writer's InitProducerId does.
 * - `abort()` aborts the open transaction when it belongs to no checkpoint yet; a pre-committed one is left for
 *   `recover` (its checkpoint may have completed: aborting it would lose that checkpoint's output).
 */
export class KafkaTransactionalSink<T> implements Sink<T> {
  readonly name: string;
  readonly #o: KafkaTransactionalSinkOptions<T>;
  /** What the last `recover` did, per transactional id (for logs and tests). */
  lastRecovery: { transactionalId: string; checkpointId: number; outcome: ResumeOutcome }[] = [];

  constructor(options: KafkaTransactionalSinkOptions<T>) {
    if (!/^[A-Za-z0-9._-]+$/.test(options.transactionalIdPrefix)) {
      throw new Error(`transactionalIdPrefix '${options.transactionalIdPrefix}': use [A-Za-z0-9._-]`);
    }
    this.#o = options;
    this.name = options.name ?? 'output';
  }

  get exactlyOnce(): boolean {
    return (this.#o.guarantee ?? 'exactly-once') === 'exactly-once';
  }

  transactionalId(subtask: number): string {
    return `${this.#o.transactionalIdPrefix}-${subtask}`;
  }

  async createWriter(context: SinkWriterContext): Promise<KafkaSinkWriter<T>> {
    const writer = new KafkaSinkWriter(this.#o, context, this.exactlyOnce, this.transactionalId(context.subtaskIndex));
    await writer.open();
    return writer;
  }

  /**
   * Before an attempt: commits the restored checkpoint's transactions, then fences the transactional ids (see the
   * class comment). `restoredCheckpointId` is not needed: each committable names its checkpoint.
   */
  async recover(committables: readonly JsonValue[], _restoredCheckpointId?: number): Promise<void> {
    if (!this.exactlyOnce) return;
    const mine = committables.map(parseCommittable).filter((c): c is KafkaTransactionCommittable => c !== undefined);
    const prefix = `${this.#o.transactionalIdPrefix}-`;
    const outcomes: KafkaTransactionalSink<T>['lastRecovery'] = [];
    for (const c of mine) {
      if (!c.transactionalId.startsWith(prefix)) continue;
      const outcome = await resumeAndCommit(this.#o.kafka, c.transactionalId, c, this.#o.transactionTimeoutMs);
      outcomes.push({ transactionalId: c.transactionalId, checkpointId: c.checkpointId, outcome });
    }
    this.lastRecovery = outcomes;
    // Only now fence: an InitProducerId aborts what is open, so it must come after the commits above.
    const fence = new Set(mine.map((c) => c.transactionalId).filter((id) => id.startsWith(prefix)));
    for (let i = 0; i < (this.#o.fenceSubtasks ?? 0); i++) fence.add(this.transactionalId(i));
    for (const transactionalId of fence) {
      const producer = this.#o.kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      try {
        // transaction() runs InitProducerId, which aborts a lingering transaction and bumps the epoch; nothing is sent.
        await producer.transaction();
      } finally {
        await producer.disconnect();
      }
    }
  }
}

function parseCommittable(value: JsonValue): KafkaTransactionCommittable | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, JsonValue>;
  if (
    typeof v.transactionalId !== 'string' ||
    (typeof v.producerId !== 'string' && typeof v.producerId !== 'number') ||
    typeof v.producerEpoch !== 'number' ||
    typeof v.checkpointId !== 'number'
  ) {
    return undefined;
  }
  return {
    transactionalId: v.transactionalId,
    producerId: String(v.producerId),
    producerEpoch: v.producerEpoch,
    checkpointId: v.checkpointId,
    subtask: typeof v.subtask === 'number' ? v.subtask : -1,
  };
}

interface Deferred<V> {
  promise: Promise<V>;
  resolve: (v: V) => void;
  reject: (e: unknown) => void;
  settled: boolean;
}

function deferred<V>(): Deferred<V> {
  let resolve!: (v: V) => void;
  let reject!: (e: unknown) => void;
  const d: Deferred<V> = {
    promise: new Promise<V>((res, rej) => {
      resolve = res;
      reject = rej;
    }),
    resolve: (v) => {
      d.settled = true;
      resolve(v);
    },
    reject: (e) => {
      d.settled = true;
      reject(e);
    },
    settled: false,
  };
  d.promise.catch(() => undefined);
  return d;
}

/** The records between two `prepareCommit` calls: one checkpoint's output. */
interface Segment {
  /** The checkpoint that closed it; undefined while it is open. */
  id: number | undefined;
  records: KafkaSinkRecord[];
  /** Records already handed to Kafka. */
  sent: number;
  prepared: Deferred<JsonValue | undefined>;
  /** Set once `prepared` resolved: the transaction to commit, or none. */
  committable: KafkaTransactionCommittable | undefined;
}

interface OpenTransaction {
  producer: Producer;
  transaction: Transaction;
  identity: ProducerIdentity;
  /** Records or offsets went into it: it must be committed or aborted. */
  used: boolean;
}

/** One writer: see {@link KafkaTransactionalSink}. */
export class KafkaSinkWriter<T> implements SinkWriter<T> {
  readonly #o: KafkaTransactionalSinkOptions<T>;
  readonly #context: SinkWriterContext;
  readonly #exactlyOnce: boolean;
  readonly #transactionalId: string;
  readonly #maxPerSend: number;
  /** Oldest first; the last one is open. */
  readonly #segments: Segment[] = [newSegment()];
  #txn: OpenTransaction | undefined;
  /** At-least-once: the idempotent producer. */
  #producer: Producer | undefined;
  #committedUpTo = 0;
  readonly #commitWaiters: { id: number; done: Deferred<void> }[] = [];
  #failure: Error | undefined;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #commitWaitTimer: NodeJS.Timeout | undefined;

  constructor(
    options: KafkaTransactionalSinkOptions<T>,
    context: SinkWriterContext,
    exactlyOnce: boolean,
    transactionalId: string,
  ) {
    this.#o = options;
    this.#context = context;
    this.#exactlyOnce = exactlyOnce;
    this.#transactionalId = transactionalId;
    this.#maxPerSend = options.maxRecordsPerSend ?? 5000;
  }

  /**
   * Starts the first transaction now rather than at the first record: its InitProducerId fences the transaction a
   * previous incarnation of this writer left open, which would otherwise hold read_committed consumers back.
   */
  async open(): Promise<void> {
    if (this.#exactlyOnce) {
      this.#txn = await this.#begin();
    } else {
      this.#producer = this.#o.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await this.#producer.connect();
    }
    this.#loop = this.#run();
  }

  write(value: T, timestamp: number): void {
    if (this.#failure) throw this.#failure;
    const record = this.#o.toRecord(value, timestamp);
    if (record === undefined) return;
    this.#segments[this.#segments.length - 1]!.records.push(record);
    // Only the head segment is being sent; later ones wait for the head's commit.
    if (this.#segments.length === 1) this.#notify();
  }

  prepareCommit(checkpointId: number): Promise<JsonValue | undefined> {
    if (this.#failure) return Promise.reject(this.#failure);
    const open = this.#segments[this.#segments.length - 1]!;
    open.id = checkpointId;
    this.#segments.push(newSegment());
    this.#notify();
    return open.prepared.promise;
  }

  commit(checkpointId: number): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (checkpointId > this.#committedUpTo) this.#committedUpTo = checkpointId;
    const pending = this.#segments.some((s) => s.id !== undefined && s.id <= checkpointId);
    if (!pending) return Promise.resolve();
    const done = deferred<void>();
    this.#commitWaiters.push({ id: checkpointId, done });
    this.#notify();
    return done.promise;
  }

  async abort(): Promise<void> {
    await this.#stop(true);
  }

  async close(): Promise<void> {
    await this.#stop(true);
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #idle(): Promise<void> {
    return new Promise<void>((resolve) => (this.#wake = resolve));
  }

  /** The loop that talks to Kafka, one request at a time, in segment order. */
  async #run(): Promise<void> {
    try {
      while (!this.#stopped && !this.#failure) {
        const head = this.#segments[0]!;
        if (head.sent < head.records.length) {
          await this.#send(head);
          continue;
        }
        if (head.id === undefined) {
          await this.#idle();
          continue;
        }
        if (!head.prepared.settled) {
          head.committable = await this.#prepare(head.id);
          head.prepared.resolve(head.committable ? { ...head.committable } : undefined);
        }
        if (head.committable !== undefined) {
          if (this.#committedUpTo < head.id) {
            this.#watchCommitWait(head);
            await this.#idle();
            continue;
          }
          await this.#commitOpenTransaction();
        }
        this.#segments.shift();
        this.#settleCommitWaiters();
        clearTimeout(this.#commitWaitTimer);
        this.#commitWaitTimer = undefined;
      }
    } catch (error) {
      this.#fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  async #send(segment: Segment): Promise<void> {
    const end = Math.min(segment.records.length, segment.sent + this.#maxPerSend);
    const topicMessages = groupByTopic(segment.records, segment.sent, end);
    if (this.#exactlyOnce) {
      const txn = (this.#txn ??= await this.#begin());
      txn.used = true;
      await txn.transaction.sendBatch({ topicMessages, acks: -1 });
    } else {
      await this.#producer!.sendBatch({ topicMessages, acks: -1 });
    }
    // Sent records are Kafka's now: drop them from memory, keep the count.
    for (let i = segment.sent; i < end; i++) (segment.records as (KafkaSinkRecord | undefined)[])[i] = undefined;
    segment.sent = end;
  }

  /** Everything of the segment is acknowledged; add the offsets and describe the transaction. */
  async #prepare(checkpointId: number): Promise<KafkaTransactionCommittable | undefined> {
    if (!this.#exactlyOnce) return undefined;
    const offsets = this.#o.offsets?.(checkpointId);
    if (offsets && offsets.topics.some((t) => t.partitions.length > 0)) {
      const txn = (this.#txn ??= await this.#begin());
      txn.used = true;
      await txn.transaction.sendOffsets(offsets);
    }
    const txn = this.#txn;
    if (!txn || !txn.used) return undefined;
    return {
      transactionalId: this.#transactionalId,
      producerId: txn.identity.producerId,
      producerEpoch: txn.identity.producerEpoch,
      checkpointId,
      subtask: this.#context.subtaskIndex,
    };
  }

  async #commitOpenTransaction(): Promise<void> {
    const txn = this.#txn!;
    await txn.transaction.commit();
    this.#txn = undefined;
    await txn.producer.disconnect().catch(() => undefined);
    // The next transaction starts on a fresh producer (new epoch) as soon as there is something to send, or now when
    // records are already waiting.
    if ((this.#segments[1]?.records.length ?? 0) > 0) this.#txn = await this.#begin();
  }

  async #begin(): Promise<OpenTransaction> {
    const { producer, identity } = identifiedProducer(this.#o.kafka, {
      transactionalId: this.#transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.#o.transactionTimeoutMs ?? 60_000,
    });
    await producer.connect();
    try {
      const transaction = await producer.transaction();
      const id = identity();
      if (!id) throw new Error(`${this.#transactionalId}: the producer id and epoch were not observed`);
      return { producer, transaction, identity: id, used: false };
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /**
   * A later checkpoint was pre-committed while `head` still waits for its commit. Normally that commit comes within
   * milliseconds (the coordinator commits the manifest, then notifies every instance in turn, while the next
   * checkpoint may already have started); if `head`'s checkpoint was abandoned it never comes, and the records held
   * behind it could only go into `head`'s transaction, whose epoch a restore from `head`'s checkpoint would commit. So
   * after `commitWaitTimeoutMs` the writer fails instead and the runtime restarts from its latest checkpoint.
   */
  #watchCommitWait(head: Segment): void {
    const later = this.#segments.find((s) => s !== head && s.id !== undefined);
    if (!later || this.#commitWaitTimer !== undefined) return;
    this.#commitWaitTimer = setTimeout(() => {
      this.#commitWaitTimer = undefined;
      if (this.#segments[0] === head) {
        this.#fail(
          new Error(
            `${this.#transactionalId}: commit(${head.id}) did not come before checkpoint ${later.id} was ` +
              `pre-committed (checkpoint ${head.id} abandoned?): failing so that the job restarts from its latest checkpoint`,
          ),
        );
      }
    }, this.#o.commitWaitTimeoutMs ?? 30_000);
    this.#commitWaitTimer.unref();
  }

  #settleCommitWaiters(): void {
    for (let i = this.#commitWaiters.length - 1; i >= 0; i--) {
      const w = this.#commitWaiters[i]!;
      if (!this.#segments.some((s) => s.id !== undefined && s.id <= w.id)) {
        w.done.resolve();
        this.#commitWaiters.splice(i, 1);
      }
    }
  }

  #fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    for (const s of this.#segments) if (!s.prepared.settled) s.prepared.reject(error);
    for (const w of this.#commitWaiters.splice(0)) w.done.reject(error);
    this.#notify();
  }

  async #stop(abort: boolean): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#commitWaitTimer);
    this.#notify();
    await this.#loop?.catch(() => undefined);
    const stopped = new Error(`${this.#transactionalId}: the writer stopped`);
    for (const s of this.#segments) if (!s.prepared.settled) s.prepared.reject(stopped);
    for (const w of this.#commitWaiters.splice(0)) w.done.reject(stopped);
    const txn = this.#txn;
    this.#txn = undefined;
    if (txn) {
      // Pre-committed (its committable handed out, commit not done): its checkpoint may be complete, so only
      // `recover` may decide; it stays open until then (or until the broker's transaction timeout).
      const preCommitted = this.#segments[0]?.committable !== undefined;
      if (abort && txn.used && !preCommitted) await txn.transaction.abort().catch(() => undefined);
      await txn.producer.disconnect().catch(() => undefined);
    }
    await this.#producer?.disconnect().catch(() => undefined);
    this.#producer = undefined;
  }
}

function newSegment(): Segment {
  return { id: undefined, records: [], sent: 0, prepared: deferred(), committable: undefined };
}

function groupByTopic(
  records: readonly KafkaSinkRecord[],
  from: number,
  to: number,
): { topic: string; messages: Message[] }[] {
  const topics = new Map<string, Message[]>();
  for (let i = from; i < to; i++) {
    const r = records[i]!;
    let messages = topics.get(r.topic);
    if (!messages) topics.set(r.topic, (messages = []));
    messages.push({ key: r.key, value: r.value, headers: r.headers, partition: r.partition });
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}
