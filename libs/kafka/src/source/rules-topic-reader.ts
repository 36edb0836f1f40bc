import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';

/** How long a reader that has seen nothing new waits before it counts the topic as read through. */
const QUIET_MS = 1500;

/** One record of the rules topic. A `null` value is a tombstone: the rule is deleted. */
export interface RuleRecord {
  ruleId: string;
  value: string | null;
  offset: string;
  timestamp: number;
}

export interface RulesTopicReaderOptions {
  topic: string;
  /** Names this reader in the broker's view; a random suffix keeps every instance in a group of its own. */
  clientName?: string;
}

/**
 * Reads the whole rules topic, in order, on every engine instance: the broadcast side of the job. Each reader is the
 * only member of a throw-away consumer group and never commits, so every instance sees every rule version in the one
 * order of the topic's single partition (kafkajs has no group-less assign, so a private group is how it reads).
 */
export class RulesTopicReader {
  private readonly consumer: Consumer;
  private readonly topic: string;
  private endOffset = '0';
  private lastSeenOffset = -1;
  private lastActivity = Date.now();
  private caughtUpWaiters: Array<() => void> = [];

  constructor(
    private readonly kafka: Kafka,
    options: RulesTopicReaderOptions,
  ) {
    this.topic = options.topic;
    this.consumer = kafka.consumer({
      groupId: `${options.clientName ?? 'cepheus-rules-reader'}-${randomUUID()}`,
      readUncommitted: false,
      sessionTimeout: 30_000,
      // Rule changes arrive within this long on an idle topic, and a stop waits no longer for the fetch in flight.
      maxWaitTimeInMs: 500,
    });
  }

  /** Starts reading from the beginning and resolves once every rule that existed at start-up has been handed over. */
  async start(onRecord: (record: RuleRecord) => void | Promise<void>): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(this.topic);
      this.endOffset = offsets.find((o) => o.partition === 0)?.high ?? '0';
    } finally {
      await admin.disconnect();
    }
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    const caughtUp = this.caughtUp();
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        const ruleId = message.key?.toString('utf8');
        if (ruleId) {
          await onRecord({
            ruleId,
            value: message.value === null ? null : message.value.toString('utf8'),
            offset: message.offset,
            timestamp: Number(message.timestamp),
          });
        }
        this.lastSeenOffset = Number(message.offset);
        this.lastActivity = Date.now();
        this.releaseWaitersIfCaughtUp();
      },
    });
    this.releaseWaitersIfCaughtUp();
    // Compaction can leave the end offset past the last record the reader will ever see: a quiet topic is read through.
    const quietTimer = setInterval(() => {
      if (Date.now() - this.lastActivity > QUIET_MS) this.releaseWaitersIfCaughtUp(true);
    }, 250);
    try {
      await caughtUp;
    } finally {
      clearInterval(quietTimer);
    }
  }

  /** Resolves once the reader has passed the end offset the topic had when `start` was called. */
  caughtUp(): Promise<void> {
    return new Promise((resolve) => {
      this.caughtUpWaiters.push(resolve);
      this.releaseWaitersIfCaughtUp();
    });
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }

  private releaseWaitersIfCaughtUp(quiet = false): void {
    // The end offset may point past a transaction marker, so "caught up" is "seen the last data offset before it".
    if (quiet || this.lastSeenOffset + 1 >= Number(this.endOffset) - 1 || Number(this.endOffset) === 0) {
      const waiters = this.caughtUpWaiters;
      this.caughtUpWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
