import { createHash } from 'node:crypto';
import {
  KafkaRuleJob,
  type BeginSnapshotOptions,
  type DecodedEvent,
  type PartitionSnapshot,
  type EmittedAlert,
  type PartitionProcessor,
  type RuleRecord,
} from '@cepheus/kafka';
import { RedisCheckpointStorage } from '@cepheus/redis';
import type { CheckpointStorage } from '@cepheus/runtime';
import Redis from 'ioredis';
import { redisUrl, uniqueName } from '../support/services';
import { kafka, produce, testTopics, TopicTail } from '../support/topics';

/**
 * A deliberately small processor so that this suite tests the Kafka job's protocol, not the rules: per key it counts
 * events and raises an alert at every `every`-th one; `every` is the broadcast state, set by rule records.
 */
type CountState = Map<string, number>;
class EveryNthProcessor implements PartitionProcessor<CountState> {
  every = 3;
  applyRule(record: RuleRecord) {
    const every = Number(JSON.parse(record.value ?? '{"every":3}').every);
    if (!Number.isInteger(every) || every < 1) {
      return { ruleId: record.ruleId, version: null, status: 'rejected' as const, reason: '/every: must be >= 1' };
    }
    this.every = every;
    return { ruleId: record.ruleId, version: 1, status: 'applied' as const };
  }
  broadcastDigest() {
    return createHash('sha256').update(String(this.every)).digest('hex');
  }
  createPartitionState(): CountState {
    return new Map();
  }
  processEvent(state: CountState, event: DecodedEvent): EmittedAlert[] {
    const count = (state.get(event.key) ?? 0) + 1;
    state.set(event.key, count);
    if (count % this.every !== 0) return [];
    return [
      { id: `${event.key}:${count}`, key: event.key, body: { id: `${event.key}:${count}`, key: event.key, count } },
    ];
  }
  advanceWatermark(): EmittedAlert[] {
    return [];
  }
  snapshotPartition(state: CountState): Uint8Array {
    return Buffer.from(JSON.stringify([...state]));
  }
  restorePartition(data: Uint8Array): CountState {
    return new Map(JSON.parse(Buffer.from(data).toString()) as Array<[string, number]>);
  }
}

/** The same counts, snapshotted incrementally: only the keys an event changed since the last confirmed snapshot. */
class IncrementalEveryNthProcessor extends EveryNthProcessor {
  private readonly changed = new WeakMap<CountState, Set<string>>();
  private changesOf(state: CountState): Set<string> {
    let changes = this.changed.get(state);
    if (changes === undefined) this.changed.set(state, (changes = new Set()));
    return changes;
  }
  override processEvent(state: CountState, event: DecodedEvent): EmittedAlert[] {
    this.changesOf(state).add(event.key);
    return super.processEvent(state, event);
  }
  override snapshotPartition(state: CountState): Uint8Array {
    return Buffer.from(JSON.stringify([...state]));
  }
  beginSnapshot(state: CountState, options: BeginSnapshotOptions = {}): PartitionSnapshot {
    const changes = this.changesOf(state);
    this.changed.set(state, new Set());
    const incremental = options.incremental === true;
    const keys = incremental ? [...changes] : [...state.keys()];
    const bytes = Buffer.from(JSON.stringify(keys.map((k) => [k, state.get(k)])));
    return {
      kind: incremental ? 'incremental' : 'full',
      step: () => true,
      bytes: () => bytes,
      confirm: () => undefined,
      abandon: () => {
        for (const key of changes) this.changesOf(state).add(key);
      },
    };
  }
  override restorePartition(data: Uint8Array, deltas: readonly Uint8Array[] = []): CountState {
    const state = new Map<string, number>();
    for (const bytes of [data, ...deltas]) {
      for (const [k, v] of JSON.parse(Buffer.from(bytes).toString()) as Array<[string, number]>) state.set(k, v);
    }
    return state;
  }
}

function events(keys: number, perKey: number, startTime = 1_000): Array<{ key: string; value: string }> {
  const out: Array<{ key: string; value: string }> = [];
  for (let i = 0; i < perKey; i++) {
    for (let k = 0; k < keys; k++) {
      out.push({ key: `k${k}`, value: JSON.stringify({ id: `e-${k}-${i}`, timestamp: startTime + i * 10 + k }) });
    }
  }
  return out;
}

async function waitUntil(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('KafkaRuleJob on the real broker and Redis', () => {
  const redis = new Redis(redisUrl());
  afterAll(() => redis.disconnect());

  function newJob(
    topics: ReturnType<typeof testTopics>,
    jobId: string,
    instanceId: string,
    processor = new EveryNthProcessor(),
    checkpointIntervalMs = 200,
    storage: CheckpointStorage = new RedisCheckpointStorage(redis, { keyPrefix: `cepheus-test-${jobId}` }),
    maxPendingRecordsPerPartition?: number,
  ) {
    return new KafkaRuleJob({
      kafka,
      jobId,
      instanceId,
      processor,
      // One prefix per job (the default above): a successor must find its predecessor's snapshots.
      storage,
      maxPendingRecordsPerPartition,
      topics,
      checkpointIntervalMs,
      eventPartitions: 3,
    });
  }

  it('writes exactly the expected alerts, and malformed events to the DLQ with their reasons', async () => {
    const topics = testTopics('job-dlq');
    const job = newJob(topics, uniqueName('job'), 'i1');
    await job.start();
    const alerts = await TopicTail.start(topics.alerts);
    const dlq = await TopicTail.start(topics.eventsDlq);
    try {
      await produce(topics.events, [
        ...events(4, 6),
        { key: 'k1', value: 'not json' },
        { key: 'k1', value: JSON.stringify({ colour: 'red' }) },
        { key: 'k2', value: JSON.stringify({ timestamp: 1 }) },
      ]);
      await alerts.waitFor((t) => t.messages.length >= 8, 30_000, 1500);
      const ids = alerts
        .values<{ id: string }>()
        .map((a) => a.id)
        .sort();
      expect(ids).toEqual(['k0:3', 'k0:6', 'k1:3', 'k1:6', 'k2:3', 'k2:6', 'k3:3', 'k3:6']);
      await dlq.waitFor((t) => t.messages.length >= 3, 10_000, 500);
      const reasons = dlq
        .values<{ reason: string; source: { offset: string } }>()
        .map((d) => d.reason)
        .sort();
      expect(reasons).toEqual(['LATE_EVENT', 'MISSING_TIMESTAMP', 'NOT_JSON']);
      expect(job.stats().dlq).toMatchObject({ NOT_JSON: 1, MISSING_TIMESTAMP: 1, LATE_EVENT: 1 });
    } finally {
      await alerts.stop();
      await dlq.stop();
      await job.stop();
    }
  });

  it('loses and repeats nothing when an instance dies with uncommitted work and a successor takes over', async () => {
    const topics = testTopics('job-crash');
    const jobId = uniqueName('job');
    // Checkpoints only when asked, so that the crash below is sure to fall between two of them.
    const first = newJob(topics, jobId, 'i1', new EveryNthProcessor(), 600_000);
    await first.start();
    const alerts = await TopicTail.start(topics.alerts);
    try {
      await produce(topics.events, events(5, 9));
      await waitUntil(() => first.stats().eventsIn >= 45, 30_000);
      await first.checkpointNow();
      await produce(
        topics.events,
        events(5, 9, 100_000).map((e) => ({ ...e, value: e.value.replace('"e-', '"f-') })),
      );
      await waitUntil(() => first.stats().eventsIn >= 90, 30_000);
      await first.abort();
      expect(alerts.messages).toHaveLength(15);

      const second = newJob(topics, jobId, 'i1');
      await second.start();
      try {
        // 5 keys x 18 events, an alert every 3rd: 30 alerts, each exactly once.
        await alerts.waitFor((t) => t.messages.length >= 30, 40_000, 2000);
        const ids = alerts.values<{ id: string }>().map((a) => a.id);
        expect(ids).toHaveLength(30);
        expect(new Set(ids).size).toBe(30);
        expect(second.stats().restores).toBeGreaterThan(0);
        expect(second.stats().restoredWithoutSnapshot).toBe(0);
      } finally {
        await second.stop();
      }
    } finally {
      await alerts.stop();
    }
  });

  it('restores a partition from its full snapshot and the incremental ones chained after it', async () => {
    const topics = testTopics('job-chain');
    const jobId = uniqueName('job');
    const first = newJob(topics, jobId, 'i1', new IncrementalEveryNthProcessor(), 600_000);
    await first.start();
    const alerts = await TopicTail.start(topics.alerts);
    try {
      // Every key, then only k0 and k1, then only k2: one full snapshot per partition, then incremental ones.
      const rounds = [events(5, 4), events(2, 2, 10_000), events(3, 2, 20_000).filter((e) => e.key === 'k2')];
      let sent = 0;
      for (const [i, round] of rounds.entries()) {
        const relabelled = round.map((e) => ({ ...e, value: e.value.replace('"e-', `"r${i}-`) }));
        await produce(topics.events, relabelled);
        sent += round.length;
        await waitUntil(() => first.stats().eventsIn >= sent, 30_000);
        await first.checkpointNow();
      }
      const manifests = await redis.keys(`cepheus-test-${jobId}:*manifest*`);
      const parents = (await Promise.all(manifests.map((k) => redis.get(k)))).filter((m) => m?.includes('"parent"'));
      expect(parents.length).toBeGreaterThan(0);
      await first.abort();

      const second = newJob(topics, jobId, 'i2', new IncrementalEveryNthProcessor(), 600_000);
      await second.start();
      try {
        // Restored counts: k0, k1, k2 at 6 (two of them only in incremental snapshots), k3, k4 at 4. Two more events
        // each: k3 and k4 reach 6 and alert; k0-k2 reach 8 and do not. A count lost in the chain would alert again.
        await produce(
          topics.events,
          events(5, 2, 30_000).map((e) => ({ ...e, value: e.value.replace('"e-', '"r3-') })),
        );
        await waitUntil(() => second.stats().eventsIn >= 10, 30_000);
        await second.checkpointNow();
        expect(second.stats().restoredIncrementalSnapshots).toBeGreaterThan(0);
        expect(second.stats().restoredWithoutSnapshot).toBe(0);
        await alerts.waitFor((t) => t.messages.length >= 10, 30_000, 1500);
        const ids = alerts
          .values<{ id: string }>()
          .map((a) => a.id)
          .sort();
        expect(ids).toEqual(['k0:3', 'k0:6', 'k1:3', 'k1:6', 'k2:3', 'k2:6', 'k3:3', 'k3:6', 'k4:3', 'k4:6']);
      } finally {
        await second.stop();
      }
    } finally {
      await alerts.stop();
    }
  });

  it('at-least-once: sends alerts before any checkpoint, and after a crash repeats them with the same ids', async () => {
    const topics = testTopics('job-alo');
    const jobId = uniqueName('job');
    const aloJob = () =>
      new KafkaRuleJob({
        kafka,
        jobId,
        instanceId: 'i1',
        processor: new EveryNthProcessor(),
        storage: new RedisCheckpointStorage(redis, { keyPrefix: `cepheus-test-${jobId}` }),
        topics,
        guarantee: 'at-least-once',
        // Checkpoints only when asked: alerts must leave without one.
        checkpointIntervalMs: 600_000,
        eventPartitions: 3,
      });
    const first = aloJob();
    await first.start();
    const alerts = await TopicTail.start(topics.alerts);
    try {
      await produce(topics.events, events(5, 9));
      await alerts.waitFor((t) => t.messages.length >= 15, 30_000, 500);
      expect(first.stats().checkpoints).toBe(0);
      expect(first.stats().alertsOut).toBe(15);
      await first.checkpointNow();
      expect(first.stats().checkpoints).toBe(1);
      await produce(
        topics.events,
        events(5, 9, 100_000).map((e) => ({ ...e, value: e.value.replace('"e-', '"f-') })),
      );
      await alerts.waitFor((t) => t.messages.length >= 30, 30_000, 500);
      await first.abort();

      // The successor restores the checkpoint and replays the second half: its 15 alerts come again, same ids.
      const second = aloJob();
      await second.start();
      try {
        await alerts.waitFor((t) => t.messages.length >= 45, 40_000, 2000);
        const ids = alerts.values<{ id: string }>().map((a) => a.id);
        expect(ids).toHaveLength(45);
        expect(new Set(ids).size).toBe(30);
        expect(second.stats().restores).toBeGreaterThan(0);
      } finally {
        await second.stop();
      }
    } finally {
      await alerts.stop();
    }
  });

  it('applies broadcast rule records on every instance before it reads events', async () => {
    const topics = testTopics('job-rules');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: topics.rules, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    await produce(topics.rules, [
      { key: 'every', value: JSON.stringify({ every: 2 }) },
      { key: 'every', value: JSON.stringify({ every: 0 }) },
    ]);
    const processors = [new EveryNthProcessor(), new EveryNthProcessor()];
    const jobId = uniqueName('job');
    const jobs = [newJob(topics, jobId, 'a', processors[0]), newJob(topics, jobId, 'b', processors[1])];
    let status: TopicTail | undefined;
    try {
      await Promise.all(jobs.map((j) => j.start()));
      status = await TopicTail.start(topics.rulesStatus);
      expect(processors.map((p) => p.every)).toEqual([2, 2]);
      expect(jobs[0].stats().broadcastDigest).toBe(jobs[1].stats().broadcastDigest);
      await status.waitFor((t) => t.messages.length >= 4, 10_000);
      const reports = status.values<{ instanceId: string; status: string; reason?: string }>();
      expect(reports.filter((r) => r.status === 'rejected').map((r) => r.reason)).toEqual([
        '/every: must be >= 1',
        '/every: must be >= 1',
      ]);
    } finally {
      await status?.stop();
      await Promise.all(jobs.map((j) => j.stop()));
    }
  });

  it('pauses a partition whose output cannot be committed, and resumes without loss once storage is back', async () => {
    const topics = testTopics('job-backpressure');
    const jobId = uniqueName('job');
    const redisStorage = new RedisCheckpointStorage(redis, { keyPrefix: `cepheus-test-${jobId}` });
    let storageDown = true;
    // The real Redis storage behind a switch, standing for a Redis outage: writes fail while it is down.
    const storage: CheckpointStorage = {
      writeChunk: (...args) =>
        storageDown ? Promise.reject(new Error('storage down')) : redisStorage.writeChunk(...args),
      commit: (m) => (storageDown ? Promise.reject(new Error('storage down')) : redisStorage.commit(m)),
      readManifest: (...args) => redisStorage.readManifest(...args),
      readLatest: (...args) => redisStorage.readLatest(...args),
      readChunk: (...args) => redisStorage.readChunk(...args),
      list: (jobId) => redisStorage.list(jobId),
      delete: (...args) => redisStorage.delete(...args),
    };
    const processor = new EveryNthProcessor();
    processor.every = 1;
    const job = newJob(topics, jobId, 'i1', processor, 200, storage, 20);
    await job.start();
    const alerts = await TopicTail.start(topics.alerts);
    try {
      await produce(topics.events, events(3, 30));
      await waitUntil(() => job.stats().eventsIn >= 90 && job.stats().checkpointFailures > 1, 30_000);
      // Every key's partition holds 30 uncommitted alerts, over the bound of 20: all are paused.
      expect(job.stats().pausedPartitions.length).toBeGreaterThan(0);
      const pausedBefore = job.stats().pausedPartitions;
      await produce(
        topics.events,
        events(3, 30, 100_000).map((e) => ({ ...e, value: e.value.replace('"e-', '"f-') })),
      );
      await new Promise((r) => setTimeout(r, 2000));
      expect(job.stats().pausedPartitions).toEqual(pausedBefore);
      expect(job.stats().eventsIn).toBeLessThan(180);
      expect(alerts.messages).toHaveLength(0);

      storageDown = false;
      await alerts.waitFor((t) => t.messages.length >= 180, 60_000, 1500);
      const ids = alerts.values<{ id: string }>().map((a) => a.id);
      expect(ids).toHaveLength(180);
      expect(new Set(ids).size).toBe(180);
      expect(job.stats().pausedPartitions).toEqual([]);
      expect(job.stats().backPressureMs).toBeGreaterThan(0);
    } finally {
      await alerts.stop();
      await job.stop();
    }
  });
});
