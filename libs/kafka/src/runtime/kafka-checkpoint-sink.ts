import type { Kafka } from 'kafkajs';
import type { CheckpointSources, JsonValue, Sink, SinkWriter } from '@cepheus/runtime';
import {
  AlertTransactionWriter,
  type CommittedPositions,
  type DeliveryGuarantee,
  type OutputRecord,
} from '../sink/alert-transaction-writer';
import { EagerSender } from '../sink/eager-sender';

/** Options of a {@link KafkaCheckpointSink}. */
export interface KafkaCheckpointSinkOptions<T> {
  /** A client of the cluster; each thread that runs writers makes its own sink (and client). */
  kafka: Kafka;
  /** @defaultValue 'kafka' */
  name?: string;
  guarantee: DeliveryGuarantee;
  /** The committer's transactional id: stable per job and engine process, so that a restart fences a zombie. */
  transactionalId: string;
  /** What to write for a value (alerts, dead letters, statuses); `undefined` writes nothing. */
  toRecord: (value: T) => OutputRecord | undefined;
  /** The source positions a checkpoint's output commits with: the events partitions and their next offsets. */
  positionsOf: (sources: CheckpointSources) => CommittedPositions;
}

/**
 * Kafka output of a runtime job, exactly once across every parallel instance of a process: the records each instance
 * writes during a checkpoint interval are its committable (stored in the checkpoint), and once the checkpoint is
 * durable the sink's global committer writes all of them and `sendOffsets` of the checkpoint's source positions in
 * one transaction. kafkajs cannot resume another producer's transaction after a crash (Flink's KafkaSink does, by
 * reflection), so the checkpoint holds the records themselves: after a crash between "durable" and "committed",
 * `recover` compares the consumer group's committed offsets with the restored checkpoint's positions and writes the
 * records again only if that transaction did not commit. Consumers read `read_committed`.
 *
 * At-least-once: each writer sends its records at once (one send in flight, what queues meanwhile goes next), a
 * checkpoint waits for them, and its positions are committed afterwards: a crash repeats output, never loses it.
 */
export class KafkaCheckpointSink<T> implements Sink<T> {
  readonly name: string;
  readonly #o: KafkaCheckpointSinkOptions<T>;
  #committer: AlertTransactionWriter | undefined;
  #commits = 0;

  constructor(options: KafkaCheckpointSinkOptions<T>) {
    this.#o = options;
    this.name = options.name ?? 'kafka';
  }

  /** Checkpoints committed by this sink's committer since it was made. */
  get commits(): number {
    return this.#commits;
  }

  createWriter(): SinkWriter<T> {
    const toRecord = this.#o.toRecord;
    if (this.#o.guarantee === 'exactly-once') {
      let open: OutputRecord[] = [];
      return {
        write: (value) => {
          const record = toRecord(value);
          if (record !== undefined) open.push(record);
        },
        prepareCommit: () => {
          const records = open;
          open = [];
          return records as unknown as JsonValue;
        },
        commit: () => undefined,
        abort: () => void (open = []),
      };
    }
    const producer = new AlertTransactionWriter(this.#o.kafka, {
      guarantee: 'at-least-once',
      transactionalId: this.#o.transactionalId,
    });
    const connected = producer.connect();
    let sender: EagerSender | undefined;
    const send = async (records: OutputRecord[]): Promise<void> => {
      await connected;
      await producer.send(records);
    };
    sender = new EagerSender(send);
    return {
      write: (value) => {
        const record = toRecord(value);
        if (record !== undefined) sender!.enqueue([record]);
      },
      prepareCommit: async () => {
        await sender!.flush();
        return undefined;
      },
      commit: () => undefined,
      abort: () => {
        sender = new EagerSender(send);
      },
      close: async () => {
        await connected.catch(() => undefined);
        await producer.disconnect();
      },
    };
  }

  async commitCheckpoint(_checkpointId: number, committables: readonly JsonValue[], sources: CheckpointSources) {
    await this.#publish(committables, sources);
  }

  async recover(committables: readonly JsonValue[], restored: number | undefined, sources: CheckpointSources) {
    if (restored === undefined) return;
    const positions = this.#o.positionsOf(sources);
    if (await this.#committed(positions)) return;
    await this.#publish(committables, sources);
  }

  /** Disconnects the committer. */
  async close(): Promise<void> {
    const committer = this.#committer;
    this.#committer = undefined;
    await committer?.disconnect();
  }

  async #publish(committables: readonly JsonValue[], sources: CheckpointSources): Promise<void> {
    const records: OutputRecord[] = [];
    for (const c of committables) records.push(...(c as unknown as OutputRecord[]));
    const committer = await this.#connectedCommitter();
    const positions = this.#o.positionsOf(sources);
    if (this.#o.guarantee === 'exactly-once') {
      await committer.commit(records, positions);
    } else {
      await this.#setOffsets(positions);
    }
    this.#commits++;
  }

  async #connectedCommitter(): Promise<AlertTransactionWriter> {
    if (this.#committer === undefined) {
      const committer = new AlertTransactionWriter(this.#o.kafka, {
        guarantee: this.#o.guarantee,
        transactionalId: this.#o.transactionalId,
      });
      await committer.connect();
      this.#committer = committer;
    }
    return this.#committer;
  }

  /** Whether the group's committed offsets are exactly these positions (their transaction committed). */
  async #committed(positions: CommittedPositions): Promise<boolean> {
    const admin = this.#o.kafka.admin();
    await admin.connect();
    try {
      const [topic] = await admin.fetchOffsets({ groupId: positions.consumerGroupId, topics: [positions.topic] });
      const committed = new Map((topic?.partitions ?? []).map((p) => [p.partition, p.offset]));
      for (const [partition, offset] of positions.offsets) if (committed.get(partition) !== offset) return false;
      return true;
    } finally {
      await admin.disconnect();
    }
  }

  /** At-least-once: the group's offsets follow the checkpoint (the group has no members: positions live here). */
  async #setOffsets(positions: CommittedPositions): Promise<void> {
    if (positions.offsets.size === 0) return;
    const admin = this.#o.kafka.admin();
    await admin.connect();
    try {
      await admin.setOffsets({
        groupId: positions.consumerGroupId,
        topic: positions.topic,
        partitions: [...positions.offsets].map(([partition, offset]) => ({ partition, offset })),
      });
    } finally {
      await admin.disconnect();
    }
  }
}
