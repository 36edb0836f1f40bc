import type { Kafka } from 'kafkajs';

/** A topic to create: partitions, and compaction for rules topics. */
export interface TopicSpec {
  topic: string;
  partitions?: number;
  compact?: boolean;
}

/** Creates topics (waiting for their leaders), as benchmarks and tests set up their own isolated ones. */
export async function createTopics(kafka: Kafka, specs: TopicSpec[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: specs.map((s) => ({
        topic: s.topic,
        numPartitions: s.partitions ?? 1,
        configEntries: s.compact ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
      })),
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

/** The fields of an alert document the benchmarks and tests read. */
export interface AlertBody {
  alertId: string;
  ruleId: string;
  ruleVersion: number;
  key: string;
  message: string;
  events: Array<{ id: string }>;
}
