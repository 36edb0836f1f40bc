import { ByteWriter } from '@cepheus/common';
import type { CheckpointStorage } from '@cepheus/runtime';
import { CHECKPOINT_FORMAT_VERSION } from '@cepheus/runtime';
import type { Admin, Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import {
  deadLetterValue,
  EventDecoder,
  type DecodedEvent,
  type DecodeFailureReason,
  type EventDecoderOptions,
} from '../codec/event-decoder';
import { AlertTransactionWriter, type DeliveryGuarantee, type OutputRecord } from '../sink/alert-transaction-writer';
import { EagerSender } from '../sink/eager-sender';
import { RulesTopicReader, type RuleRecord } from '../source/rules-topic-reader';
import { DEFAULT_TOPIC_NAMES, ensureTopics, type CepheusTopicNames } from '../topics/topic-config';
import { EventTimeGate, type EventTimeGateState } from './event-time-gate';
import type { EmittedAlert, PartitionProcessor, PartitionSnapshot, RuleStatusReport } from './partition-processor';

/** The few logging calls the job makes; pino's logger fits. */
export interface JobLogger {
  info(object: Record<string, unknown>, message: string): void;
  warn(object: Record<string, unknown>, message: string): void;
  error(object: Record<string, unknown>, message: string): void;
}

export interface KafkaRuleJobOptions<S> {
  kafka: Kafka;
  /** Names the consumer group, the checkpoints and the transactional ids. `[A-Za-z0-9._-]+`. */
  jobId: string;
  /** Stable across restarts of one engine instance (fences its zombie); distinct between instances. */
  instanceId: string;
  processor: PartitionProcessor<S>;
  storage: CheckpointStorage;
  topics?: Partial<CepheusTopicNames>;
  /** @defaultValue `exactly-once` */
  guarantee?: DeliveryGuarantee;
  /** How often output and state are committed. @defaultValue 1000 ms */
  checkpointIntervalMs?: number;
  /** Event-time disorder tolerated per partition before an event counts as late. @defaultValue 0 */
  outOfOrdernessMs?: number;
  /** Snapshots kept per partition besides the one Kafka's committed offset points at. @defaultValue 2 */
  retainedCheckpoints?: number;
  /**
   * Incremental checkpoints: a partition's snapshot holds only the keys changed since its previous checkpoint, chained
   * on a full one; a full one is taken again once the chain is `maxIncrementalChain` long or its bytes reach four
   * times the full one's, so a restore reads at most about five times the state. Needs the processor's
   * `beginSnapshot`. @defaultValue true
   */
  incrementalCheckpoints?: boolean;
  /** Longest chain of incremental snapshots after a full one. @defaultValue 20 */
  maxIncrementalChain?: number;
  /** Create missing topics at start. @defaultValue true */
  createTopics?: boolean;
  /** Partitions for created events/alerts topics. @defaultValue 4 */
  eventPartitions?: number;
  /** Replicas of created topics. @defaultValue the broker's */
  replicationFactor?: number;
  /** `min.insync.replicas` of created topics. @defaultValue the broker's */
  minInsyncReplicas?: number;
  decoder?: EventDecoderOptions;
  logger?: JobLogger;
  /**
   * Back-pressure: a partition whose uncommitted output reaches this many records (a checkpoint that keeps failing,
   * e.g. Redis down) is paused until a checkpoint succeeds, so memory stays bounded. @defaultValue 100000
   */
  maxPendingRecordsPerPartition?: number;
  /**
   * Start from a savepoint: before joining, the consumer group's offsets are set to the savepoint's and its partition
   * states become the restore points. Only for a group with no committed offsets yet (a new job id, or after every
   * instance of the job stopped). `jobId` defaults to this job's.
   */
  startFromSavepoint?: { savepointId: string; jobId?: string };
  /**
   * How long the group waits for a silent member before its partitions move. Shorter means faster fail-over after a
   * crash; the broker bounds it (group.min.session.timeout.ms, 6 s by default). @defaultValue 30000
   */
  sessionTimeoutMs?: number;
}

/** Counters the engine exposes as metrics. */
export interface KafkaRuleJobStats {
  eventsIn: number;
  alertsOut: number;
  dlq: Record<DecodeFailureReason | 'LATE_EVENT', number>;
  checkpoints: number;
  checkpointFailures: number;
  lastCheckpointMs: number;
  lastCheckpointBytes: number;
  restores: number;
  /** Incremental snapshots applied on top of full ones by those restores. */
  restoredIncrementalSnapshots: number;
  restoredWithoutSnapshot: number;
  ownedPartitions: number[];
  rulesApplied: number;
  rulesRejected: number;
  broadcastDigest: string;
  lagByPartition: Record<number, number>;
  /**
   * Per owned partition, the offset of the next event its state expects (every earlier one is processed). Unlike
   * eventsIn, which also counts events processed again after a restart, this says exactly how far the state is.
   */
  positionByPartition: Record<number, string>;
  /** Wall-clock ms of the first and the latest event read (0 before any), for throughput figures. */
  firstEventAt: number;
  lastEventAt: number;
  /** Partitions paused for back-pressure now, and the milliseconds spent paused in total. */
  pausedPartitions: number[];
  backPressureMs: number;
}

interface PartitionRun<S> {
  partition: number;
  state: S;
  /** Offset of the next message this run expects; what a checkpoint commits. */
  nextOffset: bigint;
  dirty: boolean;
  /** Events held until the watermark passes them, so the processor sees event-time order. */
  time: EventTimeGate<DecodedEvent>;
  output: OutputRecord[];
  /** The committed snapshot the next incremental one chains on; none when the state has no stored base. */
  base?: SnapshotBase;
  /**
   * Where this partition's snapshots are written, reset at each checkpoint: its buffer, once grown, is written again
   * rather than allocated afresh (see `ByteWriter.reset`). A checkpoint's bytes are stored before the next one starts.
   */
  snapshotOut?: ByteWriter;
}

/** A committed partition snapshot as a base for incremental ones: where it is and how long its chain is. */
interface SnapshotBase {
  offset: bigint;
  /** Incremental snapshots between the full one and this one (0: this one is full). */
  chain: number;
  /** Bytes of those incremental snapshots, and of the full one. */
  chainBytes: number;
  fullBytes: number;
}

/**
 * How long a snapshot encodes before the batch loop gets its turn, and in steps of how many keys: a key's state can
 * take tens of microseconds to encode, so slices are bounded by time, not by a key count. Between slices the loop has a
 * few milliseconds to itself: a fetch response passes through several turns of the event loop in kafkajs before it
 * reaches the batch loop, and slices back to back (setImmediate) delayed each of those turns (the latency benchmark
 * measured events reaching the batch loop ~45 ms after they were produced, against ~8 ms without checkpoints).
 */
const SNAPSHOT_SLICE_MS = 2;
const SNAPSHOT_GAP_MS = 3;
const SNAPSHOT_STEP_KEYS = 32;
/** A partition writer's first buffer; it grows to the partition's largest recent snapshot (see `ByteWriter.reset`). */
const SNAPSHOT_INITIAL_BYTES = 256 * 1024;
/**
 * A full snapshot is taken again once the incremental ones after it hold this many times its bytes: a restore reads at
 * most about five times the state, and a growing state (whose first full snapshot was small) is not written in full
 * at every other checkpoint.
 */
const CHAIN_BYTES_PER_FULL_BYTE = 4;

/** A partition as a checkpoint took it under the lock: its state as bytes, or a snapshot still being encoded. */
interface SnapshotCapture<S> {
  run: PartitionRun<S>;
  offset: bigint;
  header: PartitionSnapshotHeader;
  state: Uint8Array | PartitionSnapshot;
  /** Where the header written into the run's `snapshotOut` ends; undefined when the chunk is encoded afterwards. */
  headerEnd?: number;
  /** Exactly-once: the output of the events before `offset`, written in this checkpoint's transaction. */
  records: OutputRecord[];
}

/** A partition's state encoded at a checkpoint, with the offset it stands for. */
interface PendingSnapshot<S> {
  run: PartitionRun<S>;
  offset: bigint;
  data: Buffer;
  header: PartitionSnapshotHeader;
  /** The processor's snapshot, told whether it was committed (absent for `snapshotPartition`'s bytes). */
  snapshot?: PartitionSnapshot;
}

/** What a partition's stored state holds besides the processor's bytes. */
interface PartitionSnapshotHeader {
  v: 2;
  offset: string;
  time: EventTimeGateState<DecodedEvent>;
  /** An incremental snapshot: the offset of the snapshot it chains on. */
  parent?: string;
}

/** A restore point read back with its chain: the full snapshot's bytes, then the incremental ones, oldest first. */
interface StoredPartitionState {
  header: PartitionSnapshotHeader;
  full: Uint8Array;
  deltas: Uint8Array[];
}

/**
 * One chunk per partition: a 4-byte header length, the JSON header, then the processor's own bytes as they are (no
 * base64, no second JSON pass over the keyed state).
 */
function encodePartitionSnapshot(header: PartitionSnapshotHeader, state: Uint8Array): Buffer {
  const out = new ByteWriter(state.byteLength + 256);
  writeSnapshotHeader(out, header);
  out.bytes(state);
  return out.view();
}

/** Writes a chunk's header (see `encodePartitionSnapshot`) and returns where it ends. */
function writeSnapshotHeader(out: ByteWriter, header: PartitionSnapshotHeader): number {
  const head = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.allocUnsafe(4);
  prefix.writeUInt32BE(head.length, 0);
  out.bytes(prefix);
  out.bytes(head);
  return out.length;
}

function decodePartitionSnapshot(data: Uint8Array): { header: PartitionSnapshotHeader; state: Uint8Array } {
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const length = buffer.readUInt32BE(0);
  const header = JSON.parse(buffer.subarray(4, 4 + length).toString('utf8')) as PartitionSnapshotHeader;
  if (header.v !== 2) throw new Error(`unknown partition snapshot version ${String(header.v)}`);
  return { header, state: buffer.subarray(4 + length) };
}

/**
 * Runs the rule job on Kafka: every instance reads the whole rules topic into broadcast state, the instances of one
 * consumer group share the events partitions, and each partition's keyed state is checkpointed with its offset.
 *
 * The exactly-once protocol (docs/kafka.md):
 * 1. For each partition that moved, the state is written to the checkpoint storage under the offset it corresponds to
 *    (the next offset to read). This is "pending": nothing says yet that it is the truth.
 * 2. One Kafka transaction writes the checkpoint's alerts and DLQ records and commits the offsets (sendOffsets).
 * 3. Older snapshots are removed, keeping a few.
 * On restore (start, rebalance, failure) Kafka's committed offset for a partition decides: the snapshot stored under
 * that offset is the truth, because its transaction committed; a later pending one belongs to an aborted transaction
 * and is ignored. Output is only ever written inside the transaction that moves the offsets, so none is lost or
 * repeated.
 */
export class KafkaRuleJob<S> {
  private readonly topics: CepheusTopicNames;
  private readonly groupId: string;
  private readonly guarantee: DeliveryGuarantee;
  private readonly checkpointIntervalMs: number;
  private readonly outOfOrdernessMs: number;
  private readonly retained: number;
  private readonly incremental: boolean;
  private readonly maxChain: number;
  private readonly decoder: EventDecoder;
  private readonly runs = new Map<number, PartitionRun<S>>();
  private readonly log: JobLogger;
  private readonly rulesReader: RulesTopicReader;
  private consumer: Consumer | undefined;
  private writer: AlertTransactionWriter | undefined;
  private statusProducer: Producer | undefined;
  private admin: Admin | undefined;
  private assigned = new Set<number>();
  private rebalancing = false;
  private lock: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private lastCheckpointAt = Date.now();
  private running = false;
  private failureBackoffMs = 0;
  private retryNotBefore = 0;
  private pruning: Promise<void> = Promise.resolve();
  /** At-least-once: output leaves through this as soon as a batch produced it. */
  private eager: EagerSender;
  /** The checkpoint whose snapshot encoding, state write and commit run beside the batch loop (one at a time). */
  private background: Promise<void> | undefined;
  /** A background checkpoint found the outcome of a send or transaction unknown: the loop restarts from Kafka. */
  private restartNeeded = false;
  /** A background checkpoint whose state is stored: its commit, for the next turn of the lock. */
  private prepared: (() => Promise<void>) | undefined;
  /** Partition -> when it was paused for back-pressure. */
  private readonly paused = new Map<number, number>();
  private readonly counters: KafkaRuleJobStats;

  constructor(private readonly options: KafkaRuleJobOptions<S>) {
    this.topics = { ...DEFAULT_TOPIC_NAMES, ...options.topics };
    this.groupId = `cepheus-${options.jobId}`;
    this.guarantee = options.guarantee ?? 'exactly-once';
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? 1000;
    this.outOfOrdernessMs = options.outOfOrdernessMs ?? 0;
    this.retained = options.retainedCheckpoints ?? 2;
    this.incremental = options.incrementalCheckpoints ?? true;
    this.maxChain = options.maxIncrementalChain ?? 20;
    this.decoder = new EventDecoder(options.decoder);
    this.log = options.logger ?? silentLogger;
    this.rulesReader = new RulesTopicReader(options.kafka, {
      topic: this.topics.rules,
      clientName: `cepheus-rules-${options.instanceId}`,
    });
    this.eager = this.newEagerSender();
    this.counters = {
      eventsIn: 0,
      alertsOut: 0,
      dlq: {
        NOT_JSON: 0,
        NOT_AN_OBJECT: 0,
        MISSING_KEY: 0,
        MISSING_TIMESTAMP: 0,
        TOO_LARGE: 0,
        TOO_DEEP: 0,
        FUTURE_EVENT: 0,
        LATE_EVENT: 0,
      },
      checkpoints: 0,
      checkpointFailures: 0,
      lastCheckpointMs: 0,
      lastCheckpointBytes: 0,
      restores: 0,
      restoredIncrementalSnapshots: 0,
      restoredWithoutSnapshot: 0,
      ownedPartitions: [],
      rulesApplied: 0,
      rulesRejected: 0,
      broadcastDigest: options.processor.broadcastDigest(),
      lagByPartition: {},
      positionByPartition: {},
      firstEventAt: 0,
      lastEventAt: 0,
      pausedPartitions: [],
      backPressureMs: 0,
    };
  }

  /** Starts reading rules, waits until the existing ones are applied, then joins the events consumer group. */
  async start(): Promise<void> {
    const { kafka } = this.options;
    this.admin = kafka.admin();
    await this.admin.connect();
    if (this.options.createTopics ?? true) {
      const created = await ensureTopics(this.admin, {
        names: this.topics,
        eventPartitions: this.options.eventPartitions,
        replicationFactor: this.options.replicationFactor,
        minInsyncReplicas: this.options.minInsyncReplicas,
      });
      if (created.length > 0) this.log.info({ created }, 'created missing topics');
    }
    this.statusProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.statusProducer.connect();
    await this.rulesReader.start((record) => this.applyRule(record));
    this.log.info({ digest: this.options.processor.broadcastDigest() }, 'rules loaded');

    const consumer = kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      sessionTimeout: this.options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: Math.max(500, Math.floor((this.options.sessionTimeoutMs ?? 30_000) / 10)),
      rebalanceTimeout: 60_000,
      maxBytesPerPartition: 4 * 1024 * 1024,
      // An idle fetch returns after this long; it bounds how long a stop waits for the fetch in flight.
      maxWaitTimeInMs: 500,
    });
    this.consumer = consumer;
    this.writer = new AlertTransactionWriter(kafka, {
      guarantee: this.guarantee,
      transactionalId: `cepheus-${this.options.jobId}-${this.options.instanceId}`,
      commitConsumerOffsets: (offsets) => consumer.commitOffsets(offsets),
    });
    await this.writer.connect();
    consumer.on(consumer.events.REBALANCING, () => {
      this.rebalancing = true;
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const partitions = new Set<number>(payload.memberAssignment[this.topics.events] ?? []);
      this.onAssignment(partitions);
    });
    if (this.options.startFromSavepoint) await this.seedFromSavepoint(this.options.startFromSavepoint);
    await consumer.connect();
    await consumer.subscribe({ topic: this.topics.events, fromBeginning: true });
    this.running = true;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.exclusive(() => this.onBatch(payload)),
    });
    this.timer = setInterval(
      () => {
        if (!this.running || this.rebalancing) return;
        if (Date.now() - this.lastCheckpointAt >= this.checkpointIntervalMs) {
          void this.exclusive(() => this.checkpoint(false)).catch(() => undefined);
        } else if (this.prepared !== undefined) {
          void this.exclusive(() => this.commitPrepared()).catch(() => undefined);
        }
      },
      Math.max(20, Math.floor(this.checkpointIntervalMs / 10)),
    );
  }

  /** Stops after a final checkpoint (SIGTERM): nothing processed is left uncommitted. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    await this.exclusive(() => this.checkpoint()).catch((error: unknown) =>
      this.log.warn({ err: String(error) }, 'final checkpoint failed; the next owner replays from the last one'),
    );
    await this.pruning;
    // In parallel: each consumer's disconnect waits for its fetch in flight.
    await Promise.all([this.consumer?.disconnect(), this.rulesReader.stop()]);
    await Promise.all([this.writer?.disconnect(), this.statusProducer?.disconnect()]);
    await this.admin?.disconnect();
  }

  /**
   * Stops without a final checkpoint, as a crash would: uncommitted work is dropped and the partitions' next owner
   * replays it from the committed offsets.
   */
  async abort(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.runs.clear();
    await this.consumer?.disconnect().catch(() => undefined);
    await this.writer?.disconnect().catch(() => undefined);
    await this.rulesReader.stop().catch(() => undefined);
    await this.statusProducer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }

  stats(): KafkaRuleJobStats {
    return {
      ...this.counters,
      dlq: { ...this.counters.dlq },
      ownedPartitions: [...this.assigned].sort((a, b) => a - b),
      positionByPartition: Object.fromEntries(
        [...this.runs.values()]
          .filter((run) => this.assigned.has(run.partition))
          .map((run) => [run.partition, run.nextOffset.toString()]),
      ),
      pausedPartitions: [...this.paused.keys()].sort((a, b) => a - b),
      broadcastDigest: this.options.processor.broadcastDigest(),
    };
  }

  /** Forces a checkpoint now. */
  async checkpointNow(): Promise<void> {
    await this.exclusive(() => this.checkpoint());
  }

  /**
   * Takes a savepoint of the partitions this instance owns: a checkpoint now, then a copy of each partition's state
   * at its committed offset, kept (kind `savepoint`) until deleted. Several instances of a job each contribute their
   * partitions under the same id. Returns the offset per partition.
   */
  async savepoint(savepointId: string): Promise<Record<number, string>> {
    assertSavepointId(savepointId);
    return this.exclusive(async () => {
      await this.checkpoint();
      if ([...this.runs.values()].some((r) => r.dirty && this.assigned.has(r.partition))) {
        throw new Error('the checkpoint before the savepoint failed; try again');
      }
      const { storage } = this.options;
      const offsets: Record<number, string> = {};
      for (const partition of [...this.assigned].sort((a, b) => a - b)) {
        const committed = await this.committedOffset(partition);
        const offset = committed ?? 0n;
        offsets[partition] = offset.toString();
        const target = savepointJobId(this.options.jobId, savepointId, partition);
        const id = Number(offset) + 1;
        const chunks = [];
        const stored = offset > 0n ? await this.readRestorePoint(partition, offset) : undefined;
        if (stored !== undefined) {
          // A savepoint stands alone: a chain of incremental snapshots is folded into one full one.
          const { processor } = this.options;
          const state =
            stored.deltas.length === 0
              ? stored.full
              : processor.snapshotPartition(processor.restorePartition(stored.full, stored.deltas));
          const data = encodePartitionSnapshot({ v: 2, offset: stored.header.offset, time: stored.header.time }, state);
          await storage.writeChunk(target, id, 'state', data);
          chunks.push({ name: 'state', bytes: data.byteLength });
        }
        await storage.commit({
          formatVersion: CHECKPOINT_FORMAT_VERSION,
          jobId: target,
          checkpointId: id,
          kind: 'savepoint',
          createdAt: Date.now(),
          maxParallelism: 1,
          parallelism: 1,
          chunks,
          metadata: { offset: offset.toString(), partition, instanceId: this.options.instanceId, savepointId },
        });
      }
      this.log.info({ savepointId, offsets }, 'savepoint taken');
      return offsets;
    });
  }

  /** Copies a savepoint's partition states to this job's restore points and sets the group's offsets to it. */
  private async seedFromSavepoint(from: { savepointId: string; jobId?: string }): Promise<void> {
    assertSavepointId(from.savepointId);
    const sourceJob = from.jobId ?? this.options.jobId;
    const { storage } = this.options;
    const metadata = await this.admin!.fetchTopicMetadata({ topics: [this.topics.events] });
    const partitions = metadata.topics[0].partitions.map((p) => p.partitionId);
    const offsets: Array<{ partition: number; offset: string }> = [];
    for (const partition of partitions) {
      const manifest = await storage.readLatest(savepointJobId(sourceJob, from.savepointId, partition), 'savepoint');
      if (!manifest) {
        throw new Error(`savepoint ${from.savepointId} of job ${sourceJob} has no partition ${partition}`);
      }
      const offset = String(manifest.metadata.offset);
      offsets.push({ partition, offset });
      if (manifest.chunks.length > 0) {
        const data = await storage.readChunk(manifest.jobId, manifest.checkpointId, 'state');
        await this.writeRestorePoint(partition, Number(offset), data, { savepointId: from.savepointId });
      }
    }
    const committed = await this.admin!.fetchOffsets({ groupId: this.groupId, topics: [this.topics.events] });
    if (committed[0]?.partitions.some((p) => p.offset !== '-1')) {
      throw new Error(`group ${this.groupId} already has committed offsets; start from a savepoint under a new job id`);
    }
    await this.admin!.setOffsets({ groupId: this.groupId, topic: this.topics.events, partitions: offsets });
    this.log.info({ savepointId: from.savepointId, fromJob: sourceJob, offsets }, 'starting from a savepoint');
  }

  private applyRule(record: RuleRecord): void {
    let report: RuleStatusReport;
    try {
      report = this.options.processor.applyRule(record);
    } catch (error) {
      report = { ruleId: record.ruleId, version: null, status: 'rejected', reason: String(error) };
    }
    if (report.status === 'rejected') this.counters.rulesRejected += 1;
    else this.counters.rulesApplied += 1;
    const digest = this.options.processor.broadcastDigest();
    this.counters.broadcastDigest = digest;
    this.log.info({ ...report, offset: record.offset }, `rule ${report.status}`);
    const status = {
      ...report,
      instanceId: this.options.instanceId,
      jobId: this.options.jobId,
      rulesOffset: record.offset,
      broadcastDigest: digest,
      at: new Date().toISOString(),
    };
    void this.statusProducer
      ?.send({ topic: this.topics.rulesStatus, messages: [{ key: record.ruleId, value: JSON.stringify(status) }] })
      .catch((error: unknown) => this.log.warn({ err: String(error) }, 'could not publish rule status'));
  }

  private resumePaused(): void {
    if (this.paused.size === 0) return;
    const now = Date.now();
    for (const since of this.paused.values()) this.counters.backPressureMs += now - since;
    this.consumer?.resume([{ topic: this.topics.events, partitions: [...this.paused.keys()] }]);
    this.paused.clear();
  }

  private onAssignment(partitions: Set<number>): void {
    for (const partition of this.runs.keys()) {
      // A revoked partition's uncommitted work is dropped: its new owner replays it from the committed offset.
      if (!partitions.has(partition)) this.runs.delete(partition);
    }
    for (const partition of Object.keys(this.counters.lagByPartition).map(Number)) {
      if (!partitions.has(partition)) delete this.counters.lagByPartition[partition];
    }
    this.assigned = partitions;
    this.rebalancing = false;
    this.log.info({ partitions: [...partitions] }, 'partitions assigned');
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    if (await this.restartIfNeeded()) return;
    const partition = batch.partition;
    let run = this.runs.get(partition);
    const first = BigInt(batch.messages[0].offset);
    if (run && run.nextOffset !== first) {
      // The fetch position and the state disagree (a seek, a rebalance that kept the partition): the committed
      // offset is the truth, so start that partition over from it.
      this.runs.delete(partition);
      run = undefined;
    }
    if (!run) {
      run = await this.restorePartition(partition);
      if (run.nextOffset !== first) {
        this.consumer?.seek({ topic: this.topics.events, partition, offset: run.nextOffset.toString() });
        return;
      }
    }
    // kafkajs turns each resolved offset into a Long and back to a string: the last one processed is all it needs.
    let processed: string | undefined;
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break;
      this.onMessage(run, {
        topic: batch.topic,
        partition,
        offset: message.offset,
        key: message.key,
        value: message.value,
      });
      processed = message.offset;
    }
    if (processed !== undefined) resolveOffset(processed);
    this.counters.lagByPartition[partition] = Math.max(0, Number(batch.highWatermark) - Number(run.nextOffset));
    const now = Date.now();
    if (this.counters.firstEventAt === 0) this.counters.firstEventAt = now;
    this.counters.lastEventAt = now;
    if (this.guarantee === 'at-least-once' && run.output.length > 0) {
      this.eager.enqueue(run.output);
      run.output = [];
      // Back-pressure: the loop waits for the sends once too much is in flight.
      if (this.eager.pending >= (this.options.maxPendingRecordsPerPartition ?? 100_000)) {
        await this.eager.flush().catch(() => undefined);
      }
      if (this.eager.failed) {
        this.onCheckpointFailure(this.eager.failure, 'could not send output; restarting from the committed offsets');
        await this.restartFromCommitted();
        return;
      }
    }
    if (run.output.length >= (this.options.maxPendingRecordsPerPartition ?? 100_000) && !this.paused.has(partition)) {
      this.consumer?.pause([{ topic: this.topics.events, partitions: [partition] }]);
      this.paused.set(partition, Date.now());
      this.log.warn({ partition, pending: run.output.length }, 'back-pressure: partition paused until a checkpoint');
    }
    if (Date.now() - this.lastCheckpointAt >= this.checkpointIntervalMs) await this.checkpoint(false);
    else await this.commitPrepared();
    await heartbeat();
  }

  private onMessage(run: PartitionRun<S>, message: Parameters<EventDecoder['decode']>[0]): void {
    run.nextOffset = BigInt(message.offset) + 1n;
    run.dirty = true;
    this.counters.eventsIn += 1;
    const decoded = this.decoder.decode(message);
    if (!decoded.ok) {
      this.deadLetter(run, message, decoded.reason, decoded.message);
      return;
    }
    const watermarkBefore = run.time.watermark;
    const ready = run.time.offer(decoded.event);
    if (ready === undefined) {
      const detail = `event time ${decoded.event.timestamp} is behind the watermark ${run.time.watermark}`;
      this.deadLetter(run, message, 'LATE_EVENT', detail);
      return;
    }
    const { processor } = this.options;
    for (const event of ready) this.emit(run, processor.processEvent(run.state, event));
    if (run.time.watermark > watermarkBefore) this.emit(run, processor.advanceWatermark(run.state, run.time.watermark));
  }

  private emit(run: PartitionRun<S>, alerts: readonly EmittedAlert[]): void {
    for (const alert of alerts) {
      run.output.push({
        topic: this.topics.alerts,
        key: alert.key,
        value: JSON.stringify(alert.body),
        headers: { 'cepheus-alert-id': alert.id },
      });
    }
  }

  private deadLetter(
    run: PartitionRun<S>,
    message: Parameters<EventDecoder['decode']>[0],
    reason: DecodeFailureReason | 'LATE_EVENT',
    detail: string,
  ): void {
    this.counters.dlq[reason] += 1;
    run.output.push({
      topic: this.topics.eventsDlq,
      key: message.key?.toString('utf8') ?? null,
      value: JSON.stringify({
        reason,
        message: detail,
        source: { topic: message.topic, partition: message.partition, offset: message.offset },
        key: message.key?.toString('utf8', 0, 1024) ?? null,
        // Cut, so that the dead letter always fits the topic's message limit: source says where the whole one is.
        value: deadLetterValue(message.value),
      }),
      headers: { 'cepheus-dlq-reason': reason },
    });
  }

  private partitionJobId(partition: number): string {
    return `${this.options.jobId}.p${partition}`;
  }

  private async restorePartition(partition: number): Promise<PartitionRun<S>> {
    const committed = await this.committedOffset(partition);
    const { processor } = this.options;
    const run: PartitionRun<S> = {
      partition,
      state: processor.createPartitionState(),
      nextOffset: committed ?? 0n,
      dirty: false,
      time: new EventTimeGate<DecodedEvent>(this.outOfOrdernessMs),
      output: [],
    };
    if (committed !== undefined && committed > 0n) {
      const stored = await this.readRestorePoint(partition, committed).catch((error: unknown) => {
        // Treated as a lost snapshot, as when Redis lost its data: the partition goes on, and the log says so.
        this.log.error({ partition, err: String(error) }, 'the snapshot chain is broken');
        return undefined;
      });
      if (stored) {
        run.state = processor.restorePartition(stored.full, stored.deltas);
        run.time.restore(stored.header.time);
        run.base = {
          offset: committed,
          chain: stored.deltas.length,
          chainBytes: stored.deltas.reduce((sum, d) => sum + d.byteLength, 0),
          fullBytes: stored.full.byteLength,
        };
        this.counters.restores += 1;
        this.counters.restoredIncrementalSnapshots += stored.deltas.length;
      } else {
        // Kafka moved past this offset but no state is stored for it (e.g. Redis lost its data): go on, say so.
        this.counters.restoredWithoutSnapshot += 1;
        this.log.warn({ partition, offset: committed.toString() }, 'no snapshot for the committed offset; empty state');
      }
    }
    this.runs.set(partition, run);
    return run;
  }

  /**
   * The state stored under `offset` with the chain it needs: an incremental snapshot names its parent, back to a full
   * one. Undefined when nothing is stored there; an error when a link of the chain is missing.
   */
  private async readRestorePoint(partition: number, offset: bigint): Promise<StoredPartitionState | undefined> {
    const { storage } = this.options;
    const jobId = this.partitionJobId(partition);
    if (!(await storage.readManifest(jobId, Number(offset)))) return undefined;
    const latest = decodePartitionSnapshot(await storage.readChunk(jobId, Number(offset), 'state'));
    const deltas: Uint8Array[] = [];
    let link = latest;
    while (link.header.parent !== undefined) {
      if (deltas.length > 10_000) throw new Error(`partition ${partition}: the snapshot chain at ${offset} loops`);
      deltas.unshift(link.state);
      const parent = Number(link.header.parent);
      if (!(await storage.readManifest(jobId, parent))) {
        throw new Error(`partition ${partition}: the snapshot at ${offset} chains on ${parent}, which is not stored`);
      }
      link = decodePartitionSnapshot(await storage.readChunk(jobId, parent, 'state'));
    }
    return { header: latest.header, full: link.state, deltas };
  }

  private async committedOffset(partition: number): Promise<bigint | undefined> {
    const offsets = await this.admin!.fetchOffsets({ groupId: this.groupId, topics: [this.topics.events] });
    const entry = offsets[0]?.partitions.find((p) => p.partition === partition);
    if (!entry || entry.offset === '-1' || entry.offset === '') return undefined;
    return BigInt(entry.offset);
  }

  /**
   * Commits what was processed. `wait` false (the timer, the batch loop): a checkpoint still in flight is left alone;
   * true (stop, savepoint, checkpointNow): returns once everything processed so far is committed (or failed).
   */
  private async checkpoint(wait = true): Promise<void> {
    if (await this.restartIfNeeded()) return;
    await this.commitPrepared();
    if (this.background !== undefined) {
      if (!wait) return;
      await this.background;
      await this.commitPrepared();
    }
    const started = this.startCheckpoint();
    if (wait && started !== undefined) {
      await started;
      await this.commitPrepared();
    }
  }

  /** Commits a checkpoint whose state is stored; called with the lock held. */
  private async commitPrepared(): Promise<void> {
    const commit = this.prepared;
    this.prepared = undefined;
    if (commit !== undefined) await commit();
  }

  /** Carries out the restart a background checkpoint asked for (it cannot take the lock itself); true if it did. */
  private async restartIfNeeded(): Promise<boolean> {
    if (!this.restartNeeded) return false;
    this.restartNeeded = false;
    await this.restartFromCommitted();
    return true;
  }

  /**
   * Starts a checkpoint; only its start holds the lock, so batches go on being processed while it runs. Under the lock:
   * per moved partition the offset, the event-time gate and the start of a snapshot of its state taken a slice at a
   * time (the processor copies a key before changing it), and, exactly-once, the output so far (later output belongs to the
   * next checkpoint); at-least-once, how far the sender has got. Beside the batch loop: the snapshots are finished a
   * slice at a time and stored under their offsets (step 1 of the protocol), then one Kafka transaction writes the
   * output and the offsets (exactly-once), or the output is acknowledged and the offsets committed (at-least-once).
   * A committed offset therefore always has its state stored and its output written. If the state cannot be stored,
   * or at-least-once offsets cannot be committed, the partitions count as moved again and their output is kept for
   * the next checkpoint; if a transaction or a send fails, the loop restarts from Kafka's committed offsets.
   */
  private startCheckpoint(): Promise<void> | undefined {
    if (this.rebalancing || !this.writer || Date.now() < this.retryNotBefore) return undefined;
    const runs = [...this.runs.values()].filter((r) => r.dirty && this.assigned.has(r.partition));
    this.lastCheckpointAt = Date.now();
    if (runs.length === 0) return undefined;
    const started = Date.now();
    const exactlyOnce = this.guarantee === 'exactly-once';
    const captures = runs.map((run) => this.captureSnapshot(run, exactlyOnce));
    for (const run of runs) run.dirty = false;
    const flushed = exactlyOnce ? undefined : this.eager.flush();
    const giveBack = (): void => {
      for (const c of captures) {
        if (!(c.state instanceof Uint8Array)) c.state.abandon();
        if (this.runs.get(c.run.partition) !== c.run) continue;
        c.run.dirty = true;
        c.run.output = c.records.concat(c.run.output);
      }
    };
    const work = async (): Promise<void> => {
      const snapshots: PendingSnapshot<S>[] = [];
      try {
        // One partition after the other: side by side, each partition's slice would run in the same turn of the event
        // loop, and the batch loop would wait for all of them.
        for (const c of captures) snapshots.push(await this.finishSnapshot(c));
      } catch (error) {
        giveBack();
        this.onCheckpointFailure(error, 'state could not be encoded; retrying');
        return;
      }
      if (flushed !== undefined) {
        try {
          await flushed;
        } catch (error) {
          this.onCheckpointFailure(error, 'could not send output; restarting from the committed offsets');
          this.restartNeeded = true;
          return;
        }
      }
      try {
        await this.storeSnapshots(snapshots);
      } catch (error) {
        // Nothing reached Kafka: state and pending output in memory are still consistent, so keep them and try again
        // later (a Redis restart must not cost the state it no longer holds).
        giveBack();
        this.onCheckpointFailure(error, 'state could not be stored; keeping it in memory and retrying');
        return;
      }
      // The commit itself runs under the lock (the batch loop's or the timer's turn), never beside a batch: a batch
      // that restarts a partition from Kafka's offsets cannot interleave with it, and kafkajs does not rejoin the group
      // in the middle of a batch.
      this.prepared = () => commit(snapshots);
    };
    const commit = async (snapshots: PendingSnapshot<S>[]): Promise<void> => {
      if (this.rebalancing || captures.some((c) => this.runs.get(c.run.partition) !== c.run)) {
        // Partitions changed owner or restarted from Kafka since the cut: committing now could land after an owner
        // read the offsets it starts from (kafkajs's sendOffsets carries no group generation to fence it). Keep the
        // work of the partitions still here for the next checkpoint.
        giveBack();
        return;
      }
      const records = captures.flatMap((c) => c.records);
      try {
        await this.writer!.commit(records, {
          consumerGroupId: this.groupId,
          topic: this.topics.events,
          offsets: new Map(snapshots.map((snap) => [snap.run.partition, snap.offset.toString()])),
        });
      } catch (error) {
        if (exactlyOnce) {
          // The transaction's outcome may be unknown (a broker that went away during commit): only Kafka's committed
          // offsets can say what is true now, so start over from them.
          this.onCheckpointFailure(error, 'transaction failed; restarting the partitions from the committed offsets');
          this.restartNeeded = true;
        } else {
          giveBack();
          this.onCheckpointFailure(error, 'offsets could not be committed; retrying at the next checkpoint');
        }
        return;
      }
      for (const snap of snapshots) {
        snap.snapshot?.confirm();
        snap.run.base = nextBase(snap.run.base, snap);
      }
      this.countAlertsOut(records);
      this.onCheckpointDone(started, snapshots);
    };
    const background = work().finally(() => {
      this.background = undefined;
    });
    this.background = background;
    return background;
  }

  /** What a checkpoint takes of a partition under the lock; the state's bytes come later (`finishSnapshot`). */
  private captureSnapshot(run: PartitionRun<S>, takeOutput: boolean): SnapshotCapture<S> {
    const { processor } = this.options;
    const header: PartitionSnapshotHeader = { v: 2, offset: run.nextOffset.toString(), time: run.time.snapshot() };
    const records = takeOutput ? run.output : [];
    if (takeOutput) run.output = [];
    const base = run.base;
    const incremental =
      this.incremental &&
      base !== undefined &&
      base.chain < this.maxChain &&
      base.chainBytes < CHAIN_BYTES_PER_FULL_BYTE * base.fullBytes;
    if (incremental) header.parent = base!.offset.toString();
    if (!processor.beginSnapshot) {
      return { run, offset: run.nextOffset, header, state: processor.snapshotPartition(run.state), records };
    }
    // The header goes first, so that a processor writing into `out` leaves the chunk complete, with nothing to copy.
    const out = (run.snapshotOut ??= new ByteWriter(SNAPSHOT_INITIAL_BYTES));
    out.reset();
    const headerEnd = writeSnapshotHeader(out, header);
    const state = processor.beginSnapshot(run.state, { incremental, out });
    if (state.kind === 'full' && header.parent !== undefined) {
      // Asked for an incremental snapshot, the processor took a full one: the header written must not name a parent.
      delete header.parent;
      return { run, offset: run.nextOffset, header, state, records, headerEnd: undefined };
    }
    return { run, offset: run.nextOffset, header, state, records, headerEnd };
  }

  /** Finishes a partition's snapshot a slice of keys at a time, giving the batch loop its turn between slices. */
  private async finishSnapshot(c: SnapshotCapture<S>): Promise<PendingSnapshot<S>> {
    let bytes: Uint8Array;
    let snapshot: PartitionSnapshot | undefined;
    if (c.state instanceof Uint8Array) {
      bytes = c.state;
    } else {
      snapshot = c.state;
      for (;;) {
        const sliceEnds = performance.now() + SNAPSHOT_SLICE_MS;
        let done = false;
        while (!done && performance.now() < sliceEnds) done = snapshot.step(SNAPSHOT_STEP_KEYS);
        if (done) break;
        await new Promise((resolve) => setTimeout(resolve, SNAPSHOT_GAP_MS));
      }
      bytes = snapshot.bytes();
      const out = c.run.snapshotOut;
      if (c.headerEnd !== undefined && out !== undefined && out.length > c.headerEnd) {
        // The processor wrote after the header in the partition's writer: the chunk is that writer's content.
        return { run: c.run, offset: c.offset, data: out.view(), header: c.header, snapshot };
      }
    }
    return { run: c.run, offset: c.offset, data: encodePartitionSnapshot(c.header, bytes), header: c.header, snapshot };
  }

  /** Step 1 of the protocol: each moved partition's state under the offset it corresponds to. */
  private async storeSnapshots(snapshots: PendingSnapshot<S>[]): Promise<void> {
    const digest = this.options.processor.broadcastDigest();
    // Written side by side: the round trips overlap.
    await Promise.all(
      snapshots.map(({ run, offset, data, header }) =>
        this.writeRestorePoint(run.partition, Number(offset), data, {
          broadcastDigest: digest,
          ...(header.parent !== undefined ? { parent: header.parent } : {}),
        }),
      ),
    );
  }

  private onCheckpointDone(started: number, snapshots: PendingSnapshot<S>[]): void {
    this.resumePaused();
    this.counters.checkpoints += 1;
    this.counters.lastCheckpointMs = Date.now() - started;
    this.counters.lastCheckpointBytes = snapshots.reduce((sum, { data }) => sum + data.length, 0);
    this.failureBackoffMs = 0;
    // Off the critical path: only snapshots older than the committed ones are removed, which nothing reads any more.
    this.pruning = this.pruning
      .then(() => this.pruneSnapshots(snapshots.map((s) => [s.run.partition, s.offset] as const)))
      .catch((error: unknown) =>
        this.log.warn({ err: String(error) }, 'could not remove old snapshots; will retry at the next checkpoint'),
      );
  }

  /** Output records reached Kafka: the alerts among them count as out (DLQ records do not). */
  private countAlertsOut(records: readonly OutputRecord[]): void {
    for (const r of records) if (r.topic === this.topics.alerts) this.counters.alertsOut += 1;
  }

  private newEagerSender(): EagerSender {
    return new EagerSender(
      (records) => this.writer!.send(records),
      (records) => this.countAlertsOut(records),
    );
  }

  /** A partition's state stored under the offset it corresponds to: what `restorePartition` looks up. */
  private async writeRestorePoint(
    partition: number,
    offset: number,
    data: Uint8Array,
    metadata: Record<string, string>,
  ): Promise<void> {
    const { storage } = this.options;
    const jobId = this.partitionJobId(partition);
    await storage.writeChunk(jobId, offset, 'state', data);
    await storage.commit({
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      jobId,
      checkpointId: offset,
      kind: 'checkpoint',
      createdAt: Date.now(),
      maxParallelism: 1,
      parallelism: 1,
      chunks: [{ name: 'state', bytes: data.byteLength }],
      metadata: { offset: String(offset), instanceId: this.options.instanceId, ...metadata },
    });
  }

  private onCheckpointFailure(error: unknown, what: string): void {
    this.counters.checkpointFailures += 1;
    this.failureBackoffMs = Math.min(5000, Math.max(200, this.failureBackoffMs * 2));
    this.retryNotBefore = Date.now() + this.failureBackoffMs;
    this.log.error({ err: String(error), retryInMs: this.failureBackoffMs }, `checkpoint failed: ${what}`);
  }

  /** Flink's restart strategy in miniature: drop uncommitted work, back off, resume from the committed truth. */
  private async restartFromCommitted(): Promise<void> {
    this.runs.clear();
    this.prepared = undefined;
    await this.background;
    // Records still queued come again from the replayed events.
    this.eager = this.newEagerSender();
    this.resumePaused();
    await new Promise((resolve) => setTimeout(resolve, this.failureBackoffMs));
    try {
      await this.writer?.disconnect();
    } catch {
      // A broken producer is replaced below either way.
    }
    const consumer = this.consumer!;
    this.writer = new AlertTransactionWriter(this.options.kafka, {
      guarantee: this.guarantee,
      transactionalId: `cepheus-${this.options.jobId}-${this.options.instanceId}`,
      commitConsumerOffsets: (offsets) => consumer.commitOffsets(offsets),
    });
    await this.writer.connect().catch((error: unknown) => this.log.warn({ err: String(error) }, 'reconnect failed'));
    for (const partition of this.assigned) {
      const committed = await this.committedOffset(partition).catch(() => undefined);
      consumer.seek({ topic: this.topics.events, partition, offset: (committed ?? 0n).toString() });
    }
  }

  private async pruneSnapshots(committed: ReadonlyArray<readonly [number, bigint]>): Promise<void> {
    for (const [partition, offset] of committed) {
      const jobId = this.partitionJobId(partition);
      const stored = await this.options.storage.list(jobId);
      const snapshots = stored.map((m) => ({ offset: m.checkpointId, parent: m.metadata.parent }));
      for (const id of prunableSnapshots(snapshots, Number(offset), this.retained)) {
        await this.options.storage.delete(jobId, id);
      }
    }
  }

  /** Serialises batches, checkpoints and the timer: one thing touches partition state at a time. */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const result = this.lock.then(task);
    this.lock = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/**
 * The stored snapshots of a partition that may go once `committed` is committed: those older than it, but the
 * `retained` newest of them and every snapshot a kept one chains on (`parent`, an offset).
 */
export function prunableSnapshots(
  stored: ReadonlyArray<{ offset: number; parent?: unknown }>,
  committed: number,
  retained: number,
): number[] {
  const parentOf = new Map(stored.map((s) => [s.offset, s.parent] as const));
  const kept = new Set<number>();
  const keep = (offset: number): void => {
    for (let at: number | undefined = offset; at !== undefined && !kept.has(at);) {
      kept.add(at);
      const parent = parentOf.get(at);
      at = parent === undefined || parent === null ? undefined : Number(parent);
    }
  };
  const older = stored
    .map((s) => s.offset)
    .filter((offset) => offset < committed)
    .sort((a, b) => a - b);
  for (const s of stored) if (s.offset >= committed) keep(s.offset);
  for (const offset of older.slice(Math.max(0, older.length - retained))) keep(offset);
  return older.filter((offset) => !kept.has(offset));
}

/** The base the next incremental snapshot of a partition chains on, once `committed` is committed. */
function nextBase<S>(previous: SnapshotBase | undefined, committed: PendingSnapshot<S>): SnapshotBase {
  const bytes = committed.data.byteLength;
  if (committed.header.parent === undefined)
    return { offset: committed.offset, chain: 0, chainBytes: 0, fullBytes: bytes };
  const base = previous!;
  return {
    offset: committed.offset,
    chain: base.chain + 1,
    chainBytes: base.chainBytes + bytes,
    fullBytes: base.fullBytes,
  };
}

/** Where a savepoint's copy of one partition lives in the checkpoint storage. */
export function savepointJobId(jobId: string, savepointId: string, partition: number): string {
  return `${jobId}.savepoint.${savepointId}.p${partition}`;
}

function assertSavepointId(savepointId: string): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(savepointId)) {
    throw new Error(`invalid savepoint id '${savepointId}': use [A-Za-z0-9_-], at most 64 characters`);
  }
}

const silentLogger: JobLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
