import type { Admin, ITopicConfig } from 'kafkajs';

/** The topics one Cepheus deployment uses (see docs/kafka.md). */
export interface CepheusTopicNames {
  /** Keyed events; the engines' consumer group reads it. @defaultValue `events` */
  events: string;
  /** Rules, one partition, compacted, key = rule id; every engine reads all of it. @defaultValue `rules` */
  rules: string;
  /** Alerts, written in transactions. @defaultValue `alerts` */
  alerts: string;
  /** What each instance did with each rule version. @defaultValue `rules-status` */
  rulesStatus: string;
  /** Events that could not be read, with the reason. @defaultValue `events-dlq` */
  eventsDlq: string;
}

export const DEFAULT_TOPIC_NAMES: CepheusTopicNames = {
  events: 'events',
  rules: 'rules',
  alerts: 'alerts',
  rulesStatus: 'rules-status',
  eventsDlq: 'events-dlq',
};

export interface EnsureTopicsOptions {
  names?: Partial<CepheusTopicNames>;
  /** Partitions of the events and alerts topics when they must be created. @defaultValue 4 */
  eventPartitions?: number;
  /**
   * Replicas of every created topic. Unset, the broker's `default.replication.factor` applies (kafkajs sends -1, which
   * brokers from Kafka 2.4 on resolve, KIP-464). @defaultValue the broker's
   */
  replicationFactor?: number;
  /**
   * `min.insync.replicas` of every created topic: with `acks=all` (the alerts writer's transactions), a write fails
   * rather than succeed on fewer replicas. Unset, the broker's `min.insync.replicas` applies. @defaultValue the broker's
   */
  minInsyncReplicas?: number;
}

/** The settings each topic is created with when missing: the rules topic must be compacted with one partition. */
export function topicConfigs(options: EnsureTopicsOptions = {}): ITopicConfig[] {
  const names = { ...DEFAULT_TOPIC_NAMES, ...options.names };
  const { replicationFactor, minInsyncReplicas } = options;
  for (const [name, value] of [
    ['replicationFactor', replicationFactor],
    ['minInsyncReplicas', minInsyncReplicas],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new RangeError(`${name} must be a positive integer (or unset: the broker's default); got ${value}`);
    }
  }
  if (replicationFactor !== undefined && minInsyncReplicas !== undefined && minInsyncReplicas > replicationFactor) {
    throw new RangeError(
      `minInsyncReplicas (${minInsyncReplicas}) above replicationFactor (${replicationFactor}) would refuse every write`,
    );
  }
  const partitions = options.eventPartitions ?? 4;
  // Left out when unset, so that the broker's defaults apply.
  const replication = replicationFactor === undefined ? {} : { replicationFactor };
  const insync =
    minInsyncReplicas === undefined ? [] : [{ name: 'min.insync.replicas', value: String(minInsyncReplicas) }];
  const topic = (
    name: string,
    numPartitions: number,
    configEntries: ITopicConfig['configEntries'] = [],
  ): ITopicConfig => ({
    topic: name,
    numPartitions,
    ...replication,
    ...(configEntries.length + insync.length > 0 ? { configEntries: [...configEntries, ...insync] } : {}),
  });
  return [
    topic(names.events, partitions),
    topic(names.rules, 1, [
      { name: 'cleanup.policy', value: 'compact' },
      { name: 'min.compaction.lag.ms', value: '0' },
    ]),
    topic(names.alerts, partitions),
    topic(names.rulesStatus, 1),
    topic(names.eventsDlq, 1),
  ];
}

/**
 * Creates the missing topics with Cepheus's settings and leaves existing ones alone. Returns the names it created.
 * A rules topic with more than one partition is refused: every instance must apply rule versions in one order.
 */
export async function ensureTopics(admin: Admin, options: EnsureTopicsOptions = {}): Promise<string[]> {
  const wanted = topicConfigs(options);
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((t) => !existing.has(t.topic));
  if (missing.length > 0) {
    try {
      await admin.createTopics({ topics: missing, waitForLeaders: true });
    } catch (error) {
      // kafkajs says only INVALID_REPLICATION_FACTOR per topic; say which setting and value to change.
      const detail = (error as { errors?: Array<{ topic?: string; type?: string }> }).errors
        ?.map((e) => `${e.topic}: ${e.type}`)
        .join(', ');
      const asked = `replication factor ${options.replicationFactor ?? "the broker's default"}, min.insync.replicas ${options.minInsyncReplicas ?? "the broker's default"}`;
      throw new Error(
        `creating topics ${missing.map((t) => t.topic).join(', ')} (${asked}) failed: ${detail ?? String(error)}`,
        {
          cause: error,
        },
      );
    }
  }
  const rules = wanted[1].topic;
  const metadata = await admin.fetchTopicMetadata({ topics: [rules] });
  const partitions = metadata.topics[0]?.partitions.length ?? 0;
  if (partitions !== 1) {
    throw new Error(`the rules topic "${rules}" has ${partitions} partitions; it must have exactly 1`);
  }
  return missing.map((t) => t.topic);
}
