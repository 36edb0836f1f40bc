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
  /** @defaultValue 1 (a single local broker) */
  replicationFactor?: number;
}

/** The settings each topic is created with when missing: the rules topic must be compacted with one partition. */
export function topicConfigs(options: EnsureTopicsOptions = {}): ITopicConfig[] {
  const names = { ...DEFAULT_TOPIC_NAMES, ...options.names };
  const replicationFactor = options.replicationFactor ?? 1;
  const partitions = options.eventPartitions ?? 4;
  return [
    { topic: names.events, numPartitions: partitions, replicationFactor },
    {
      topic: names.rules,
      numPartitions: 1,
      replicationFactor,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'min.compaction.lag.ms', value: '0' },
      ],
    },
    { topic: names.alerts, numPartitions: partitions, replicationFactor },
    { topic: names.rulesStatus, numPartitions: 1, replicationFactor },
    { topic: names.eventsDlq, numPartitions: 1, replicationFactor },
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
    await admin.createTopics({ topics: missing, waitForLeaders: true });
  }
  const rules = wanted[1].topic;
  const metadata = await admin.fetchTopicMetadata({ topics: [rules] });
  const partitions = metadata.topics[0]?.partitions.length ?? 0;
  if (partitions !== 1) {
    throw new Error(`the rules topic "${rules}" has ${partitions} partitions; it must have exactly 1`);
  }
  return missing.map((t) => t.topic);
}
