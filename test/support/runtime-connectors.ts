import type { ITopicConfig, Message } from 'kafkajs';
import type { SourceReader, SourceReaderContext, SourceRecord } from '@cepheus/runtime';
import { uniqueName } from './services';
import { kafka } from './topics';

/** Creates topics (waiting for their leaders). */
export async function createTopics(topics: ITopicConfig[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics, waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** Sends messages in one transaction, then commits or aborts it. */
export async function inTransaction(
  topic: string,
  messages: Message[],
  end: 'commit' | 'abort',
  transactionalId = uniqueName('e2e-tx'),
): Promise<void> {
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const txn = await producer.transaction();
    await txn.send({ topic, acks: -1, messages });
    if (end === 'commit') await txn.commit();
    else await txn.abort();
  } finally {
    await producer.disconnect();
  }
}

export function readerContext(subtaskIndex: number, parallelism: number, jobId = 'e2e'): SourceReaderContext {
  return { jobId, subtaskIndex, parallelism, attempt: 0 };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls the readers round-robin until `done` says so; throws after `timeoutMs` with what it got. */
export async function pollUntil<T>(
  readers: readonly SourceReader<T>[],
  done: (got: readonly SourceRecord<T>[]) => boolean,
  timeoutMs: number,
  max = 100,
): Promise<SourceRecord<T>[]> {
  const got: SourceRecord<T>[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!done(got)) {
    if (Date.now() > deadline) throw new Error(`polling timed out after ${timeoutMs} ms with ${got.length} records`);
    let n = 0;
    for (const r of readers) {
      const polled = await r.poll(max);
      got.push(...polled);
      n += polled.length;
    }
    if (n === 0) await sleep(20);
  }
  return got;
}

export async function waitUntil(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** A stable small hash, to place a key on a partition the same way in Kafka and in the in-memory run. */
export function partitionOf(key: string, partitions: number): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
  return Math.abs(h) % partitions;
}
