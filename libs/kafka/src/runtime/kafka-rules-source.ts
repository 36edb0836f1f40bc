import type { Kafka } from 'kafkajs';
import type { Source, SourceReader, SourceReaderContext, SourceRecord, SplitState } from '@cepheus/runtime';
import type { RuleRecord } from '../source/rules-topic-reader';
import { lastStableOffsets } from './kafkajs-internals';
import { PartitionConsumer, splitName } from './partition-consumer';

/** Consecutive empty fetches after which a reader with nothing buffered counts as caught up. */
const IDLE_FETCHES_CAUGHT_UP = 3;

/** Options of a {@link KafkaRulesSource}. */
export interface KafkaRulesSourceOptions {
  kafka: Kafka;
  /** The rules topic: one partition, compacted, key = rule id. */
  topic: string;
  /** The source's name in the job graph and in checkpoints. @defaultValue 'rules' */
  name?: string;
  /** Longest a fetch waits on the quiet topic: how soon a rule change is seen. @defaultValue 100 */
  maxWaitTimeInMs?: number;
  /** Records buffered before fetching pauses. @defaultValue 10000 */
  maxBufferedMessages?: number;
  /** Prefix of each reader's private consumer group. @defaultValue 'cepheus-rules' */
  groupPrefix?: string;
}

/**
 * The rules topic as the job's broadcast source: one split (`<topic>/0`), read whole from the beginning in topic order
 * (compacted: the latest version of every rule, and tombstones not yet removed), read_committed, then every new record
 * as it comes. Unbounded.
 */
export class KafkaRulesSource implements Source<RuleRecord> {
  readonly name: string;
  readonly bounded = false;
  readonly #o: KafkaRulesSourceOptions;

  constructor(options: KafkaRulesSourceOptions) {
    this.#o = options;
    this.name = options.name ?? 'rules';
  }

  listSplits(): readonly string[] {
    return [splitName(this.#o.topic, 0)];
  }

  createReader(context: SourceReaderContext): KafkaRulesReader {
    return new KafkaRulesReader(this.#o, context);
  }
}

/** Reads the rules topic; {@link isCaughtUp} once what the topic held at start has been handed out. */
export class KafkaRulesReader implements SourceReader<RuleRecord> {
  readonly #o: KafkaRulesSourceOptions;
  readonly #consumer: PartitionConsumer;
  readonly #split: string;
  /** The last stable offset when the reader started: every committed record below it existed then. */
  #caughtUpAt = 0n;
  #caughtUp = false;

  constructor(options: KafkaRulesSourceOptions, context: SourceReaderContext) {
    this.#o = options;
    this.#split = splitName(options.topic, 0);
    this.#consumer = new PartitionConsumer({
      kafka: options.kafka,
      groupPrefix: `${options.groupPrefix ?? 'cepheus-rules'}-${context.jobId}`,
      maxBufferedMessages: options.maxBufferedMessages ?? 10_000,
      maxWaitTimeInMs: options.maxWaitTimeInMs ?? 100,
      maxBytesPerPartition: 1024 * 1024,
    });
  }

  async addSplits(splits: readonly SplitState[]): Promise<void> {
    const mine = splits.find((s) => s.split === this.#split);
    if (splits.length !== 1 || !mine) {
      throw new Error(`the rules source has one split, '${this.#split}'; got ${JSON.stringify(splits)}`);
    }
    // The last stable offset, not the high watermark: a read_committed reader cannot pass an open transaction, and
    // must not count a transaction that was still open at start as part of "what the topic held".
    const lso = await lastStableOffsets(this.#o.kafka, this.#o.topic, [0]);
    this.#caughtUpAt = lso.get(0) ?? 0n;
    const start = mine.offset === null ? await this.#earliest() : BigInt(mine.offset as string | number);
    await this.#consumer.start([{ topic: this.#o.topic, partition: 0, offset: start }]);
  }

  async #earliest(): Promise<bigint> {
    const admin = this.#o.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(this.#o.topic);
      return BigInt(offsets.find((o) => o.partition === 0)?.low ?? '0');
    } finally {
      await admin.disconnect();
    }
  }

  poll(max: number): SourceRecord<RuleRecord>[] {
    const out: SourceRecord<RuleRecord>[] = [];
    for (const { message } of this.#consumer.take(max)) {
      // A record without a key names no rule: nothing to apply, but the position moves past it.
      const ruleId = message.key?.toString('utf8');
      if (!ruleId) continue;
      const timestamp = Number(message.timestamp);
      out.push({
        value: {
          ruleId,
          value: message.value === null ? null : message.value.toString('utf8'),
          offset: message.offset,
          timestamp,
        },
        timestamp,
        split: this.#split,
      });
    }
    return out;
  }

  /**
   * True once the position (the next offset after what `poll` returned, moved past markers, aborted records and
   * compacted gaps as kafkajs fetches over them) reached the last stable offset of the start. Counting records would
   * never get there: compaction removes offsets and commit markers are never delivered. Where the cleaner removed a
   * batch's records but kept the batch (Kafka keeps a producer's last batch for its sequence state), kafkajs receives
   * nothing to move past; then {@link IDLE_FETCHES_CAUGHT_UP} consecutive fetches that brought nothing, with nothing
   * buffered, say that nothing readable remains before the end.
   */
  isCaughtUp(): boolean {
    if (!this.#caughtUp) {
      const s = this.#consumer.states.get(this.#split);
      this.#caughtUp =
        this.#position() >= this.#caughtUpAt ||
        (s !== undefined && s.buffered === 0 && s.idleFetches >= IDLE_FETCHES_CAUGHT_UP);
    }
    return this.#caughtUp;
  }

  snapshotState(): SplitState[] {
    return [{ split: this.#split, offset: this.#position().toString() }];
  }

  isFinished(): boolean {
    return false;
  }

  async close(): Promise<void> {
    await this.#consumer.close();
  }

  #position(): bigint {
    return this.#consumer.states.get(this.#split)?.next ?? 0n;
  }
}
