import { randomUUID } from 'node:crypto';
import { AssignerProtocol, type Consumer, type Kafka, type KafkaMessage, type PartitionAssigner } from 'kafkajs';

/** One partition a {@link PartitionConsumer} reads. */
export interface PartitionPosition {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read. */
  readonly offset: bigint;
}

/** A message in the buffer, with its partition's state. */
export interface BufferedMessage {
  readonly state: PartitionState;
  readonly message: KafkaMessage;
  readonly offset: bigint;
}

/** Where one partition stands. */
export interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly split: string;
  /** The next offset after the last message handed out by `take` (or skipped as a marker or aborted record). */
  next: bigint;
  /** The next offset after everything kafkajs delivered for this partition, control and aborted records included. */
  fetched: bigint;
  /** Messages of this partition in the buffer. */
  buffered: number;
  /** Exclusive end (bounded reading); messages at or past it are dropped and the partition is paused. */
  end: bigint | undefined;
  /** Fetches that completed since this partition last got a batch (of data or of markers only), while not paused. */
  idleFetches: number;
}

/** Options of a {@link PartitionConsumer}. */
export interface PartitionConsumerOptions {
  kafka: Kafka;
  /** Prefix of the private consumer group; a random suffix is added. */
  groupPrefix: string;
  /** Messages the buffer holds before fetching pauses (it may overshoot by what one fetch brings). */
  maxBufferedMessages: number;
  /** Longest a fetch waits for data on a quiet partition. */
  maxWaitTimeInMs: number;
  maxBytesPerPartition: number;
}

/** The split name of a partition: `<topic>/<partition>`. */
export function splitName(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/** Parses `<topic>/<partition>` (the topic may itself contain `/`: the partition is after the last one). */
export function parseSplit(split: string): { topic: string; partition: number } {
  const at = split.lastIndexOf('/');
  const partition = Number(split.slice(at + 1));
  if (at <= 0 || !Number.isInteger(partition) || partition < 0) {
    throw new Error(`'${split}' is not a Kafka split (<topic>/<partition>)`);
  }
  return { topic: split.slice(0, at), partition };
}

/**
 * Reads a fixed set of partitions from given offsets, read_committed, into a bounded in-memory buffer that kafkajs
 * fills in the background; `take` hands messages out without waiting.
 *
 * kafkajs has no group-less `assign`, so the consumer is the only member of a private group whose assigner hands it
 * exactly the partitions asked for (the runtime owns the assignment; no rebalancing moves them), and `seek` sets the
 * start offsets. The group never commits, so the broker drops it when its member leaves. (Committing the start offsets
 * to the group before it joins, with `admin.setOffsets`, would avoid the seek but took ~5 s per reader here.)
 */
export class PartitionConsumer {
  readonly #o: PartitionConsumerOptions;
  readonly #groupId: string;
  readonly #states = new Map<string, PartitionState>();
  #buffer: BufferedMessage[] = [];
  #head = 0;
  #consumer: Consumer | undefined;
  #paused = false;
  #error: unknown;
  #closed = false;
  #starting: Promise<void> | undefined;

  constructor(options: PartitionConsumerOptions) {
    this.#o = options;
    this.#groupId = `${options.groupPrefix}-${randomUUID()}`;
  }

  get states(): ReadonlyMap<string, PartitionState> {
    return this.#states;
  }

  /** Messages waiting in the buffer. */
  get buffered(): number {
    return this.#buffer.length - this.#head;
  }

  /** Starts reading the partitions from their offsets; `end` bounds a partition (exclusive). */
  start(positions: readonly (PartitionPosition & { end?: bigint })[]): Promise<void> {
    // close() waits for it: a consumer created after close() would never be disconnected.
    this.#starting = this.#start(positions);
    return this.#starting;
  }

  async #start(positions: readonly (PartitionPosition & { end?: bigint })[]): Promise<void> {
    for (const p of positions) {
      const split = splitName(p.topic, p.partition);
      this.#states.set(split, {
        topic: p.topic,
        partition: p.partition,
        split,
        next: p.offset,
        fetched: p.offset,
        buffered: 0,
        end: p.end,
        idleFetches: 0,
      });
    }
    const toRead = [...this.#states.values()].filter((s) => s.end === undefined || s.next < s.end);
    if (toRead.length === 0) return;
    const byTopic = new Map<string, PartitionState[]>();
    for (const s of toRead) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s]);

    if (this.#closed) return;
    const assignment: Record<string, number[]> = {};
    for (const [topic, states] of byTopic) assignment[topic] = states.map((s) => s.partition);
    const consumer = this.#o.kafka.consumer({
      groupId: this.#groupId,
      readUncommitted: false,
      sessionTimeout: 30_000,
      maxWaitTimeInMs: this.#o.maxWaitTimeInMs,
      maxBytesPerPartition: this.#o.maxBytesPerPartition,
      partitionAssigners: [staticAssigner(assignment)],
    });
    this.#consumer = consumer;
    // Batches that only hold transaction markers or aborted records never reach eachBatch, but kafkajs moves past
    // them: this event is how the reader learns its position moved, so that a partition ending on a marker counts as
    // read through (a read_committed reader never receives the marker itself).
    consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
      const s = this.#states.get(splitName(event.payload.topic, event.payload.partition));
      if (!s) return;
      s.idleFetches = 0;
      const after = BigInt(event.payload.lastOffset) + 1n;
      if (after > s.fetched) s.fetched = s.end !== undefined && after > s.end ? s.end : after;
    });
    // A fetch that brought nothing for a partition means nothing readable lies at or after its position (below the
    // last stable offset) at that moment. The rules reader needs this where compaction removed the last records.
    consumer.on(consumer.events.FETCH, () => {
      if (this.#paused) return;
      for (const s of this.#states.values()) s.idleFetches++;
    });
    consumer.on(consumer.events.CRASH, (event) => {
      if (!event.payload.restart) this.#error ??= event.payload.error;
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [...byTopic.keys()], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, isRunning }) => {
        const s = this.#states.get(splitName(batch.topic, batch.partition));
        if (!s || !isRunning() || this.#closed) return;
        s.idleFetches = 0;
        for (const message of batch.messages) {
          const offset = BigInt(message.offset);
          // Below the position: fetched from the group's default position before the seek took effect, or fetched
          // again after a rejoin.
          if (offset < s.fetched) continue;
          if (s.end !== undefined && offset >= s.end) break;
          this.#buffer.push({ state: s, message, offset });
          s.buffered++;
          s.fetched = offset + 1n;
        }
        if (s.end !== undefined && s.fetched >= s.end) this.#pausePartition(s);
        if (this.buffered >= this.#o.maxBufferedMessages) this.#pauseAll();
      },
    });
    // The group is new and has no offsets: kafkajs starts at the earliest offset, at or below every start position,
    // so records fetched before the seek takes effect are below the position and skipped above.
    for (const s of toRead) consumer.seek({ topic: s.topic, partition: s.partition, offset: s.next.toString() });
  }

  /**
   * Up to `max` buffered messages, oldest first. Positions move past them, and past markers and aborted records
   * behind them once a partition has nothing left in the buffer.
   */
  take(max: number): BufferedMessage[] {
    if (this.#error !== undefined) throw this.#error;
    const n = Math.min(max, this.#buffer.length - this.#head);
    const out = this.#buffer.slice(this.#head, this.#head + n);
    this.#head += n;
    for (const m of out) {
      m.state.next = m.offset + 1n;
      m.state.buffered--;
    }
    // Drop the taken prefix now and then rather than shifting per message.
    if (this.#head > 4096 && this.#head * 2 > this.#buffer.length) {
      this.#buffer = this.#buffer.slice(this.#head);
      this.#head = 0;
    }
    for (const s of this.#states.values()) if (s.buffered === 0 && s.fetched > s.next) s.next = s.fetched;
    if (this.#paused && this.buffered <= this.#o.maxBufferedMessages / 2) this.#resumeAll();
    return out;
  }

  #pausePartition(s: PartitionState): void {
    this.#consumer?.pause([{ topic: s.topic, partitions: [s.partition] }]);
  }

  #pauseAll(): void {
    if (this.#paused || !this.#consumer) return;
    this.#paused = true;
    this.#consumer.pause(this.#assigned());
  }

  #resumeAll(): void {
    if (!this.#paused || !this.#consumer) return;
    this.#paused = false;
    // Bounded partitions that reached their end stay paused.
    const open = [...this.#states.values()].filter((s) => s.end === undefined || s.fetched < s.end);
    const byTopic = new Map<string, number[]>();
    for (const s of open) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s.partition]);
    this.#consumer.resume([...byTopic].map(([topic, partitions]) => ({ topic, partitions })));
  }

  #assigned(): { topic: string; partitions: number[] }[] {
    const byTopic = new Map<string, number[]>();
    for (const s of this.#states.values()) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s.partition]);
    return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#starting?.catch(() => undefined);
    this.#buffer = [];
    this.#head = 0;
    const consumer = this.#consumer;
    this.#consumer = undefined;
    if (!consumer) return;
    // The private group never committed: once its only member leaves, the broker drops it.
    await consumer.disconnect().catch(() => undefined);
  }
}

/** An assigner that gives the one member of a private group exactly the partitions the runtime assigned. */
function staticAssigner(assignment: Record<string, number[]>): PartitionAssigner {
  const name = 'CepheusStaticAssigner';
  return () => ({
    name,
    version: 0,
    async assign({ members }) {
      return members.map((member, i) => ({
        memberId: member.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          // A second member (a previous incarnation not yet expired) gets nothing.
          assignment: i === 0 ? assignment : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
      };
    },
  });
}
