import type { Kafka, Producer, ProducerConfig } from 'kafkajs';

/**
 * The few kafkajs 2.2.4 internals the runtime connectors need, in one place, each checked at run time so that a kafkajs
 * upgrade that moves them fails loudly here rather than silently elsewhere.
 *
 * Why internals at all: kafkajs's public API cannot
 * - commit a transaction that another producer (a crashed writer) pre-committed: Flink's `KafkaSink` resumes such a
 *   transaction by sending `EndTxn` with the producer id and epoch stored in the checkpoint, and so do we;
 * - tell the producer id and epoch of a transactional producer, which that `EndTxn` needs;
 * - list offsets with `read_committed` isolation (the admin client asks read_uncommitted, i.e. for the high watermark,
 *   while a `read_committed` reader can never get past the last stable offset).
 * All three go through the `Cluster` that `Kafka` creates for each client (a private factory keyed by a symbol).
 */

/** `isolation_level` of ListOffsets / Fetch. */
const READ_COMMITTED = 1;
/** FindCoordinator key type of a transaction coordinator. */
const TRANSACTION_COORDINATOR = 1;

/** The producer id and epoch of a transactional producer, as InitProducerId returned them. */
export interface ProducerIdentity {
  /** An int64, as kafkajs decodes it: a decimal string. */
  readonly producerId: string;
  readonly producerEpoch: number;
}

interface InternalBroker {
  initProducerId(request: { transactionalId?: string; transactionTimeout?: number }): Promise<ProducerIdentity>;
  endTxn(request: {
    transactionalId: string;
    producerId: string;
    producerEpoch: number;
    transactionResult: boolean;
  }): Promise<unknown>;
}

interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findGroupCoordinator(request: { groupId: string; coordinatorType?: number }): Promise<InternalBroker>;
  fetchTopicsOffset(
    topics: { topic: string; fromBeginning: boolean; partitions: { partition: number }[] }[],
  ): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

type CreateCluster = (options: { isolationLevel?: number; maxInFlightRequests?: number | null }) => InternalCluster;

function createClusterSymbol(kafka: Kafka): symbol {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  if (symbol === undefined || typeof (kafka as unknown as Record<symbol, unknown>)[symbol] !== 'function') {
    throw new Error('kafkajs internals changed: Kafka has no private createCluster (written for kafkajs 2.2.x)');
  }
  return symbol;
}

function checkCluster(cluster: InternalCluster): InternalCluster {
  for (const method of ['connect', 'disconnect', 'addTargetTopic', 'findGroupCoordinator', 'fetchTopicsOffset']) {
    if (typeof (cluster as unknown as Record<string, unknown>)[method] !== 'function') {
      throw new Error(`kafkajs internals changed: Cluster has no ${method}() (written for kafkajs 2.2.x)`);
    }
  }
  return cluster;
}

/** A kafkajs `Cluster` of its own (connections, metadata), created with the same settings as the Kafka client's. */
function createCluster(kafka: Kafka, isolationLevel?: number): InternalCluster {
  const symbol = createClusterSymbol(kafka);
  const factory = (kafka as unknown as Record<symbol, CreateCluster>)[symbol]!;
  return checkCluster(factory({ isolationLevel }));
}

/**
 * The last stable offset of each partition (ListOffsets `latest` with read_committed): every record below it is
 * decided, and a read_committed consumer can read up to it but not beyond while a transaction is open.
 */
export async function lastStableOffsets(
  kafka: Kafka,
  topic: string,
  partitions: readonly number[],
): Promise<Map<number, bigint>> {
  const cluster = createCluster(kafka, READ_COMMITTED);
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    const result = await cluster.fetchTopicsOffset([
      { topic, fromBeginning: false, partitions: partitions.map((partition) => ({ partition })) },
    ]);
    const out = new Map<number, bigint>();
    for (const t of result) for (const p of t.partitions) out.set(p.partition, BigInt(p.offset));
    return out;
  } finally {
    await cluster.disconnect().catch(() => undefined);
  }
}

/** What happened to a transaction that `resumeAndCommit` was asked to commit. */
export type ResumeOutcome =
  /** It was still open with that producer epoch, and is now committed. */
  | 'committed'
  /** It had ended with that epoch already (committed before the failure; an abort leaves the epoch bumped). */
  | 'already-ended'
  /** The transactional id has a newer epoch: a producer initialised it after this transaction ended. */
  | 'superseded';

/**
 * Commits a transaction left open by a producer that is gone, by sending `EndTxn(commit)` with its producer id and
 * epoch to the transaction coordinator (what Flink's `FlinkKafkaInternalProducer.resumeTransaction` does). Retries
 * while the coordinator is busy (markers of an earlier end being written) or moving.
 */
export async function resumeAndCommit(
  kafka: Kafka,
  transactionalId: string,
  identity: ProducerIdentity,
  retryForMs = 60_000,
): Promise<ResumeOutcome> {
  const cluster = createCluster(kafka);
  await cluster.connect();
  const deadline = Date.now() + retryForMs;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const broker = await cluster.findGroupCoordinator({
          groupId: transactionalId,
          coordinatorType: TRANSACTION_COORDINATOR,
        });
        await broker.endTxn({
          transactionalId,
          producerId: identity.producerId,
          producerEpoch: identity.producerEpoch,
          transactionResult: true,
        });
        return 'committed';
      } catch (error) {
        const { type, code } = protocolError(error);
        // EndTxn below v2 reports PRODUCER_FENCED (90) as INVALID_PRODUCER_EPOCH (47).
        if (type === 'INVALID_PRODUCER_EPOCH' || code === 90 || type === 'INVALID_PRODUCER_ID_MAPPING') {
          return 'superseded';
        }
        if (type === 'INVALID_TXN_STATE') return 'already-ended';
        const retriable =
          type === 'CONCURRENT_TRANSACTIONS' ||
          type === 'COORDINATOR_LOAD_IN_PROGRESS' ||
          type === 'COORDINATOR_NOT_AVAILABLE' ||
          type === 'NOT_COORDINATOR' ||
          (error instanceof Error && error.name === 'KafkaJSConnectionError');
        if (!retriable || Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
      }
    }
  } finally {
    await cluster.disconnect().catch(() => undefined);
  }
}

function protocolError(error: unknown): { type: string | undefined; code: number | undefined } {
  if (typeof error !== 'object' || error === null) return { type: undefined, code: undefined };
  const e = error as { type?: unknown; code?: unknown };
  return {
    type: typeof e.type === 'string' ? e.type : undefined,
    code: typeof e.code === 'number' ? e.code : undefined,
  };
}

/** A transactional producer and the identity its last transactional InitProducerId got. */
export interface IdentifiedProducer {
  readonly producer: Producer;
  /** Undefined until the producer's first `transaction()` has initialised the transactional id. */
  identity(): ProducerIdentity | undefined;
}

/**
 * `kafka.producer(config)`, with the producer id and epoch of its transactional InitProducerId recorded. The producer
 * keeps them private; they are observed on the transaction coordinator's `Broker` object of this producer's own
 * `Cluster` (kafkajs builds one cluster per client), so no other client is affected.
 */
export function identifiedProducer(kafka: Kafka, config: ProducerConfig): IdentifiedProducer {
  const transactionalId = config.transactionalId;
  if (!transactionalId) throw new Error('identifiedProducer needs a transactionalId');
  const symbol = createClusterSymbol(kafka);
  const holder = kafka as unknown as Record<symbol, CreateCluster>;
  const original = holder[symbol]!;
  let identity: ProducerIdentity | undefined;
  const wrapped = new WeakSet<InternalBroker>();
  // kafka.producer() calls the factory synchronously, once: swapping it for that call alone is safe in one thread.
  holder[symbol] = (options) => {
    const cluster = checkCluster(original(options));
    const find = cluster.findGroupCoordinator.bind(cluster);
    cluster.findGroupCoordinator = async (request) => {
      const broker = await find(request);
      if (request.coordinatorType === TRANSACTION_COORDINATOR && !wrapped.has(broker)) {
        wrapped.add(broker);
        const init = broker.initProducerId.bind(broker);
        broker.initProducerId = async (r) => {
          const result = await init(r);
          if (r.transactionalId === transactionalId) {
            identity = { producerId: result.producerId, producerEpoch: result.producerEpoch };
          }
          return result;
        };
      }
      return broker;
    };
    return cluster;
  };
  try {
    const producer = kafka.producer(config);
    return { producer, identity: () => identity };
  } finally {
    holder[symbol] = original;
  }
}
