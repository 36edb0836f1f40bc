import {
  KafkaPartitionSource,
  KafkaRulesSource,
  KafkaTransactionalSink,
  type EmittedAlert,
  type KafkaSinkRecord,
  type RawMessage,
  type RuleRecord,
} from '@cepheus/kafka';
import { buildRuleJob, runRuleJob, type RuleJobOutput } from '@cepheus/job';
import { RedisCheckpointStorage } from '@cepheus/redis';
import { FRAUD_RULES, generateFraud } from '@cepheus/rules';
import {
  JobRunner,
  type JsonValue,
  type SinkWriterContext,
  type SourceRecord,
  type SplitState,
} from '@cepheus/runtime';
import Redis from 'ioredis';
import {
  createTopics,
  inTransaction,
  partitionOf,
  pollUntil,
  readerContext,
  sleep,
  waitUntil,
} from '../support/runtime-connectors';
import { redisUrl, uniqueName } from '../support/services';
import { kafka, produce, pushRules, TopicTail } from '../support/topics';

// Generous: these tests must hold on a machine several times slower than the one they were written on.
jest.setTimeout(300_000);

const text = (r: SourceRecord<RawMessage>): string => r.value.value?.toString() ?? 'null';

function writerContext(subtaskIndex: number, parallelism = 1): SinkWriterContext {
  return { jobId: 'e2e', subtaskIndex, parallelism, attempt: 0, restoredCheckpointId: undefined };
}

describe('KafkaPartitionSource', () => {
  it('reads every record of a multi-partition topic exactly once across a restore, at parallelism 1 then 2', async () => {
    const topic = uniqueName('src');
    await createTopics([{ topic, numPartitions: 4, replicationFactor: 1 }]);
    // Plain records, an aborted transaction (never visible) and a committed one: positions must step over markers.
    const plain = Array.from({ length: 1200 }, (_, i) => ({ key: null, value: `a-${i}`, partition: i % 4 }));
    await produce(topic, plain);
    await inTransaction(
      topic,
      Array.from({ length: 100 }, (_, i) => ({ value: `aborted-${i}`, partition: i % 4 })),
      'abort',
    );
    await inTransaction(
      topic,
      Array.from({ length: 800 }, (_, i) => ({ value: `c-${i}`, partition: i % 4 })),
      'commit',
    );
    const expected = [...plain.map((m) => m.value), ...Array.from({ length: 800 }, (_, i) => `c-${i}`)].sort();

    // First attempt: one reader, all splits, a small buffer.
    const source = new KafkaPartitionSource({
      kafka,
      topics: [topic],
      maxBufferedMessages: 50,
      maxBytesPerPartition: 512,
    });
    const splits = await source.listSplits();
    expect(splits).toEqual([0, 1, 2, 3].map((p) => `${topic}/${p}`));
    const first = source.createReader(readerContext(0, 1));
    await first.addSplits(splits.map((split) => ({ split, offset: null })));
    const before = await pollUntil([first], (got) => got.length >= 700, 60_000, 37);
    // Back-pressure: left alone, the reader stops fetching once its buffer is full (plus what one fetch brings).
    await sleep(1500);
    const buffered = first.buffered;
    expect(buffered).toBeLessThan(expected.length - before.length);
    const snapshot: SplitState[] = first.snapshotState();
    await first.close();
    expect(snapshot.map((s) => s.split)).toEqual(splits);

    // Second attempt at parallelism 2: the splits re-assigned round-robin with the checkpointed offsets; bounded at
    // the topic's end so that the readers finish.
    const ends: Record<string, string> = {};
    const admin = kafka.admin();
    await admin.connect();
    for (const o of await admin.fetchTopicOffsets(topic)) ends[`${topic}/${o.partition}`] = o.high;
    await admin.disconnect();
    const bounded = new KafkaPartitionSource({ kafka, topics: [topic], endOffsets: ends });
    expect(bounded.bounded).toBe(true);
    const readers = [0, 1].map((i) => bounded.createReader(readerContext(i, 2)));
    for (const [i, r] of readers.entries()) await r.addSplits(snapshot.filter((_, j) => j % 2 === i));
    const after = await pollUntil(readers, () => readers.every((r) => r.isFinished()), 60_000);
    for (const r of readers) {
      for (const s of r.snapshotState()) {
        expect(r.isSplitFinished(s.split)).toBe(true);
        // Past the last commit marker, which is never delivered.
        expect(s.offset).toBe(ends[s.split]);
      }
    }
    await Promise.all(readers.map((r) => r.close()));

    const all = [...before, ...after].map(text);
    expect(all.filter((v) => v.startsWith('aborted'))).toEqual([]);
    expect(all.length).toBe(expected.length);
    expect([...all].sort()).toEqual(expected);
    // Per split, offsets strictly increase: nothing repeated, in partition order.
    const last = new Map<string, bigint>();
    for (const r of [...before, ...after]) {
      const o = BigInt(r.value.offset);
      expect(o).toBeGreaterThan(last.get(r.split) ?? -1n);
      last.set(r.split, o);
    }
  });
});

describe('KafkaRulesSource', () => {
  it('is caught up once it passed the last stable offset of the start, over compaction and transaction markers', async () => {
    const topic = uniqueName('rules');
    await createTopics([
      {
        topic,
        numPartitions: 1,
        replicationFactor: 1,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'min.compaction.lag.ms', value: '0' },
          { name: 'min.cleanable.dirty.ratio', value: '0.01' },
          { name: 'segment.ms', value: '100' },
          { name: 'delete.retention.ms', value: '100' },
        ],
      },
    ]);
    const rule = (id: string, v: string | null) => ({ key: id, value: v === null ? null : JSON.stringify({ id, v }) });
    await produce(topic, [rule('r1', 'v1'), rule('r2', 'v1'), rule('r1', 'v2'), rule('r3', 'v1')]);
    await produce(topic, [rule('r3', null), rule('r2', 'v2')]);
    await inTransaction(topic, [rule('r4', 'v1'), rule('r1', 'v3')], 'commit');
    await inTransaction(topic, [rule('r5', 'v1'), rule('r2', 'v99')], 'abort');
    // Roll the segment (segment.ms) so that the cleaner may compact what is above; wait until it did.
    await sleep(300);
    await produce(topic, [rule('r6', 'v1')]);
    await sleep(300);
    await produce(topic, [rule('r6', 'v1')]);
    const raw = async (): Promise<number> => {
      const source = new KafkaRulesSource({ kafka, topic });
      const reader = source.createReader(readerContext(0, 1));
      await reader.addSplits([{ split: `${topic}/0`, offset: null }]);
      const got = await pollUntil([reader], () => reader.isCaughtUp(), 60_000);
      await reader.close();
      return got.length;
    };
    let compacted = false;
    const deadline = Date.now() + 90_000;
    while (!compacted && Date.now() < deadline) {
      compacted = (await raw()) < 9; // 9 committed records written so far
      if (!compacted) await sleep(1000);
    }
    expect(compacted).toBe(true);

    // The topic now ends on a commit marker, and a transaction is open (its records lie past the last stable offset).
    await inTransaction(topic, [rule('r7', 'v1')], 'commit');
    const openTxn = kafka.producer({ transactionalId: uniqueName('open'), idempotent: true, maxInFlightRequests: 1 });
    await openTxn.connect();
    const txn = await openTxn.transaction();
    await txn.send({ topic, acks: -1, messages: [rule('r8', 'v1')] });

    const source = new KafkaRulesSource({ kafka, topic });
    expect(source.listSplits()).toEqual([`${topic}/0`]);
    const reader = source.createReader(readerContext(0, 1));
    await reader.addSplits([{ split: `${topic}/0`, offset: null }]);
    const got: SourceRecord<RuleRecord>[] = [];
    let rulesAtCatchUp: Map<string, string | null> | undefined;
    const apply = () => {
      const rules = new Map<string, string | null>();
      for (const r of got) {
        if (r.value.value === null) rules.delete(r.value.ruleId);
        else rules.set(r.value.ruleId, (JSON.parse(r.value.value) as { v: string }).v);
      }
      return rules;
    };
    await waitUntil(
      async () => {
        got.push(...(await reader.poll(100)));
        if (reader.isCaughtUp()) rulesAtCatchUp = apply();
        return rulesAtCatchUp !== undefined;
      },
      60_000,
      'the rules reader to catch up',
    );
    // Caught up with exactly the committed state of the start: nothing aborted, nothing of the open transaction.
    expect(Object.fromEntries(rulesAtCatchUp!)).toEqual({ r1: 'v3', r2: 'v2', r4: 'v1', r6: 'v1', r7: 'v1' });
    expect(got.some((r) => r.value.ruleId === 'r5' || r.value.value?.includes('v99'))).toBe(false);
    const offsets = got.map((r) => BigInt(r.value.offset));
    expect(offsets).toEqual([...offsets].sort((a, b) => (a < b ? -1 : 1)));

    // It keeps reading: the open transaction commits and its rule arrives.
    await txn.commit();
    await openTxn.disconnect();
    await waitUntil(
      async () => {
        got.push(...(await reader.poll(100)));
        return got.some((r) => r.value.ruleId === 'r8');
      },
      60_000,
      'the rule committed after the start',
    );
    expect(reader.isCaughtUp()).toBe(true);
    // A reader restored at its snapshot offset starts there and is caught up at once (nothing new since).
    const snapshot = reader.snapshotState();
    await reader.close();
    const again = source.createReader(readerContext(0, 1));
    await again.addSplits(snapshot);
    await waitUntil(
      async () => {
        expect(await again.poll(100)).toEqual([]);
        return again.isCaughtUp();
      },
      60_000,
      'the restored reader to catch up',
    );
    await again.close();
  });
});

describe('KafkaTransactionalSink', () => {
  const toRecord =
    (topic: string) =>
    (value: string): KafkaSinkRecord => ({ topic, key: value, value: JSON.stringify(value) });

  it('commits, on recover, a transaction a crashed writer had pre-committed; aborts what no checkpoint holds', async () => {
    const topic = uniqueName('sink');
    await createTopics([{ topic, numPartitions: 2, replicationFactor: 1 }]);
    const prefix = uniqueName('tx');
    const tail = await TopicTail.start(topic);
    try {
      const sink = new KafkaTransactionalSink<string>({
        kafka,
        transactionalIdPrefix: prefix,
        toRecord: toRecord(topic),
      });
      const writer = await sink.createWriter(writerContext(0));
      for (const v of ['a1', 'a2', 'a3']) writer.write(v, 0);
      const c1 = (await writer.prepareCommit(1)) as JsonValue;
      expect(c1).toMatchObject({ transactionalId: `${prefix}-0`, checkpointId: 1, subtask: 0 });
      writer.write('b1', 0); // after the barrier: held for the next transaction
      await writer.commit(1);
      writer.write('b2', 0);
      const c2 = (await writer.prepareCommit(2)) as JsonValue;
      expect((c2 as { producerEpoch: number }).producerEpoch).not.toBe((c1 as { producerEpoch: number }).producerEpoch);
      writer.write('c1', 0); // held: transaction 2 is pre-committed, not committed
      await writer.abort(); // the crash: checkpoint 2 completed, commit(2) never ran
      await writer.close();
      await tail.waitFor((t) => t.messages.length >= 3, 30_000, 1000);
      expect(tail.values<string>().sort()).toEqual(['a1', 'a2', 'a3']);

      // Restart from checkpoint 2: its transaction is committed by its producer id and epoch, nothing else.
      const restarted = new KafkaTransactionalSink<string>({
        kafka,
        transactionalIdPrefix: prefix,
        toRecord: toRecord(topic),
      });
      await restarted.recover([c2], 2);
      expect(restarted.lastRecovery.map((r) => r.outcome)).toEqual(['committed']);
      await tail.waitFor((t) => t.messages.length >= 5, 30_000, 1000);
      expect(tail.values<string>().sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
      // Idempotent: recovering again (a second failure before any new checkpoint) changes nothing; the fencing of the
      // first recovery bumped the epoch.
      await restarted.recover([c2], 2);
      expect(restarted.lastRecovery.map((r) => r.outcome)).toEqual(['superseded']);
      await sleep(1000);
      expect(tail.messages).toHaveLength(5);

      // A restore from checkpoint 1 after transaction 3 had started: 1 was committed and superseded, 3 is fenced.
      const w2 = await restarted.createWriter(writerContext(0));
      w2.write('d1', 0);
      const c3 = await w2.prepareCommit(3);
      expect(c3).toBeDefined();
      await w2.abort();
      await restarted.recover([c1], 1);
      expect(restarted.lastRecovery.map((r) => r.outcome)).toEqual(['superseded']);
      const w3 = await restarted.createWriter(writerContext(0));
      w3.write('e1', 0);
      await w3.prepareCommit(4);
      await w3.commit(4);
      await w3.close();
      await tail.waitFor((t) => t.values<string>().includes('e1'), 30_000, 1500);
      expect(tail.values<string>().sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2', 'e1']);
    } finally {
      await tail.stop();
    }
  });

  it('commits the source offsets in the same transaction; at-least-once acknowledges at prepareCommit', async () => {
    const topic = uniqueName('sink-offsets');
    await createTopics([{ topic, numPartitions: 1, replicationFactor: 1 }]);
    const group = uniqueName('group');
    const sink = new KafkaTransactionalSink<string>({
      kafka,
      transactionalIdPrefix: uniqueName('tx'),
      toRecord: toRecord(topic),
      offsets: (checkpointId) => ({
        consumerGroupId: group,
        topics: [{ topic, partitions: [{ partition: 0, offset: String(checkpointId * 10) }] }],
      }),
    });
    const writer = await sink.createWriter(writerContext(0));
    writer.write('x', 0);
    await writer.prepareCommit(7);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const committed = async () =>
        (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0]!.partitions[0]!.offset;
      expect(await committed()).toBe('-1');
      await writer.commit(7);
      // The group's offsets show a transaction's sendOffsets once its commit marker is written: wait for it.
      let offset = await committed();
      for (const deadline = Date.now() + 30_000; offset !== '70' && Date.now() < deadline;) {
        await new Promise((r) => setTimeout(r, 100));
        offset = await committed();
      }
      expect(offset).toBe('70');
    } finally {
      await admin.disconnect();
      await writer.close();
    }

    const alo = new KafkaTransactionalSink<string>({
      kafka,
      transactionalIdPrefix: uniqueName('alo'),
      guarantee: 'at-least-once',
      toRecord: toRecord(topic),
    });
    await alo.recover([]);
    const w = await alo.createWriter(writerContext(0));
    const tail = await TopicTail.start(topic);
    try {
      for (let i = 0; i < 20; i++) w.write(`y${i}`, 0);
      expect(await w.prepareCommit(1)).toBeUndefined();
      await w.commit(1);
      await tail.waitFor((t) => t.messages.length >= 21, 30_000);
      expect(tail.values<string>().filter((v) => v.startsWith('y'))).toHaveLength(20);
    } finally {
      await w.close();
      await tail.stop();
    }
  });
});

describe('the rule job on the runtime with the Kafka connectors', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(redisUrl());
  });
  afterAll(() => redis.disconnect());

  const PARTITIONS = 4;
  const stream = generateFraud({ seed: 21, payments: 4000, cards: 150, planted: 8 });
  // Each event on the partition of its card, in time order: the same split layout for Kafka and the in-memory run.
  const byPartition = new Map<number, string[]>();
  for (const e of stream.events) {
    const card = String(e.event.cardId);
    const p = partitionOf(card, PARTITIONS);
    byPartition.set(p, [...(byPartition.get(p) ?? []), JSON.stringify({ ...e.event, timestamp: e.timestamp })]);
  }
  const cardOf = (line: string): string => String((JSON.parse(line) as { cardId: unknown }).cardId);
  let reference: EmittedAlert[] | undefined;
  const referenceAlerts = async (events: string): Promise<EmittedAlert[]> => {
    reference ??= (
      await runRuleJob(FRAUD_RULES, new Map([...byPartition].map(([p, lines]) => [`${events}/${p}`, lines] as const)), {
        parallelism: 2,
      })
    ).alerts;
    return reference;
  };

  async function runOnKafka(kill: boolean) {
    const name = uniqueName(kill ? 'job-kill' : 'job');
    const topics = {
      events: `${name}.events`,
      rules: `${name}.rules`,
      alerts: `${name}.alerts`,
      other: `${name}.other`,
    };
    await createTopics([
      { topic: topics.events, numPartitions: PARTITIONS, replicationFactor: 1 },
      {
        topic: topics.rules,
        numPartitions: 1,
        replicationFactor: 1,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
      { topic: topics.alerts, numPartitions: PARTITIONS, replicationFactor: 1 },
      { topic: topics.other, numPartitions: 1, replicationFactor: 1 },
    ]);
    await pushRules(topics.rules, FRAUD_RULES);
    const ends: Record<string, string> = {};
    for (const [p, lines] of byPartition) ends[`${topics.events}/${p}`] = String(lines.length);
    const half = (first: boolean) =>
      [...byPartition].flatMap(([partition, lines]) => {
        const cut = Math.floor(lines.length / 2);
        return (first ? lines.slice(0, cut) : lines.slice(cut)).map((value) => ({
          key: cardOf(value),
          value,
          partition,
        }));
      });
    const firstHalf = half(true);
    await produce(topics.events, firstHalf);

    const sink = new KafkaTransactionalSink<RuleJobOutput>({
      kafka,
      transactionalIdPrefix: name,
      toRecord: (out): KafkaSinkRecord =>
        out.type === 'alert'
          ? {
              topic: topics.alerts,
              key: out.alert.key,
              value: JSON.stringify(out.alert.body),
              headers: { 'cepheus-alert-id': out.alert.id },
            }
          : { topic: topics.other, key: null, value: JSON.stringify(out) },
    });
    const env = buildRuleJob(
      {
        events: new KafkaPartitionSource({ kafka, topics: [topics.events], endOffsets: ends }),
        rules: new KafkaRulesSource({ kafka, topic: topics.rules }),
      },
      { output: sink },
      { jobName: name },
    );
    const storage = new RedisCheckpointStorage(redis, { keyPrefix: `cepheus-test-${name}` });
    const runner = new JobRunner(env, {
      parallelism: 2,
      storage,
      checkpointIntervalMs: 500,
      jobId: name,
    });
    const alerts = await TopicTail.start(topics.alerts);
    const expected = await referenceAlerts(topics.events);
    const read = async () => (await runner.metrics()).instances.reduce((n, i) => n + i.recordsRead, 0);
    try {
      await runner.start();
      if (kill) {
        await waitUntil(async () => (await read()) >= firstHalf.length, 120_000, 'the first half to be read');
        const done = (await runner.metrics()).checkpoints.length;
        await waitUntil(async () => (await runner.metrics()).checkpoints.length > done, 120_000, 'a checkpoint');
        await produce(topics.events, half(false));
        await waitUntil(async () => (await read()) > firstHalf.length, 120_000, 'the second half to start');
        expect(runner.killInstance(1)).toBe(true);
        await waitUntil(async () => (await runner.metrics()).attempt >= 1, 120_000, 'the restart');
      } else {
        await produce(topics.events, half(false));
      }
      await alerts.waitFor((t) => t.messages.length >= expected.length, 240_000, 3000);
      const got = alerts.messages.map((m) => ({
        id: m.headers?.['cepheus-alert-id']?.toString() ?? '',
        key: m.key?.toString() ?? '',
        body: JSON.parse(m.value!.toString()) as Record<string, unknown>,
      }));
      const other = await TopicTail.start(topics.other);
      await sleep(1000);
      await other.stop();
      expect(other.values<RuleJobOutput>().filter((o) => o.type === 'dead-letter')).toEqual([]);
      const sortById = (xs: readonly EmittedAlert[]) => [...xs].sort((a, b) => (a.id < b.id ? -1 : 1));
      expect(got.length).toBe(expected.length);
      expect(new Set(got.map((a) => a.id)).size).toBe(got.length);
      expect(sortById(got)).toEqual(sortById(expected));
    } finally {
      await alerts.stop();
      const result = await runner.cancel();
      if (kill) expect(result.restarts).toBeGreaterThanOrEqual(1);
      console.info(
        `rule job on Kafka (${kill ? 'with a kill' : 'no kill'}): ${expected.length} alerts expected, ` +
          `${alerts.messages.length} read_committed, restarts ${result.restarts}, ` +
          `checkpoints ${result.checkpoints.length}, last recovery [${sink.lastRecovery.map((r) => `${r.transactionalId}@${r.checkpointId}: ${r.outcome}`).join(', ')}]`,
      );
    }
  }

  it('writes, read_committed, exactly the alerts of the in-memory run', async () => {
    await runOnKafka(false);
  });

  it('loses and repeats nothing when an instance is killed mid-run and the job restarts from its checkpoint', async () => {
    await runOnKafka(true);
  });
});
