import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { kafkaBrokers, uniqueName } from './services';

export const kafka = new Kafka({ clientId: 'cepheus-e2e', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });

/** Fresh topic names for one test, so tests never see each other's data. */
export function testTopics(
  prefix: string,
): Record<'events' | 'rules' | 'alerts' | 'rulesStatus' | 'eventsDlq', string> {
  const base = uniqueName(prefix);
  return {
    events: `${base}.events`,
    rules: `${base}.rules`,
    alerts: `${base}.alerts`,
    rulesStatus: `${base}.rules-status`,
    eventsDlq: `${base}.events-dlq`,
  };
}

/** The topic variables of the API for these test topics (the same names the engine gets, less the DLQ). */
export function apiTopicEnv(topics: ReturnType<typeof testTopics>): Record<string, string> {
  return {
    CEPHEUS_EVENTS_TOPIC: topics.events,
    CEPHEUS_RULES_TOPIC: topics.rules,
    CEPHEUS_ALERTS_TOPIC: topics.alerts,
    CEPHEUS_RULES_STATUS_TOPIC: topics.rulesStatus,
  };
}

export function engineTopicEnv(topics: ReturnType<typeof testTopics>): Record<string, string> {
  return { ...apiTopicEnv(topics), CEPHEUS_DLQ_TOPIC: topics.eventsDlq };
}

export async function produce(
  topic: string,
  messages: Array<{ key: string | null; value: string | null; partition?: number }>,
): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 1000) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 1000) });
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * Reads a topic (read_committed) from the beginning into memory. `until` says when enough has arrived; `settleMs`
 * keeps reading a little longer so that duplicates or extra messages would show up too.
 */
export class TopicTail {
  readonly messages: KafkaMessage[] = [];
  private consumer: Consumer | undefined;

  static async start(topic: string): Promise<TopicTail> {
    const tail = new TopicTail();
    const consumer = kafka.consumer({ groupId: uniqueName('e2e-tail'), readUncommitted: false });
    tail.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void tail.messages.push(message) });
    return tail;
  }

  values<T>(): T[] {
    return this.messages.map((m) => JSON.parse(m.value?.toString() ?? 'null') as T);
  }

  async waitFor(predicate: (tail: TopicTail) => boolean, timeoutMs: number, settleMs = 0): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms with ${this.messages.length} messages`);
      await new Promise((r) => setTimeout(r, 100));
    }
    if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

/** Publishes rule documents on a rules topic (key = rule id), as the API and the CLI do. */
export async function pushRules(topic: string, rules: readonly unknown[]): Promise<void> {
  await produce(
    topic,
    rules.map((r) => ({ key: (r as { id: string }).id, value: JSON.stringify(r) })),
  );
}
