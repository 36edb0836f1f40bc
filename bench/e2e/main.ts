/**
 * End to end on a real broker: events -> engine -> alerts with exactly-once, one and two engine processes, against a
 * raw kafkajs consume -> produce pipe (one transaction per batch, read_committed) on the same broker in the same run.
 * Then end-to-end latency at a fixed input rate, exactly-once and at-least-once: card payments that ten velocity rules
 * evaluate, with one event in BENCH_E2E_PROBE_EVERY (default 10) a probe that raises an alert, timed from just before
 * its produce to its arrival at a read_committed consumer. Figures: `name: value unit`, the headline (engine / raw
 * pipe ratio) last.
 *
 * Environment: KAFKA_BROKERS (else a broker is started), BENCH_E2E_EVENTS (default 300000), BENCH_E2E_RUNS (3),
 * BENCH_E2E_PROBE_EVERY (10), BENCH_E2E_ONLY (`latency`, `alo`, `raw` or `engine`: one part alone, for tuning),
 * BENCH_E2E_CHECKPOINT_MS (the latency runs' checkpoint interval, e.g. 600000 to see latency without checkpoints),
 * BENCH_E2E_DIAG (latency runs also print, to stderr, where the time goes: probe sent -> alert produced, each second,
 * and the engine's event-loop delay, GC and checkpoint figures), BENCH_CHILD_NODE_ARGS (node flags for the engine
 * processes, e.g. `--cpu-prof`), BENCH_E2E_WARMUP_S (3: seconds the latency runs send at their rate before they
 * measure; a longer warm-up measures a larger state, since every second touches ~10% of the 100k cards anew).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { RedisCheckpointStorage } from '@cepheus/redis';
import { JobRunner, type JsonValue } from '@cepheus/runtime';
import Redis from 'ioredis';
import type { KafkaRuleJobParams } from '../../apps/engine/src/job/kafka-rule-job-module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { spawnEngine, type EngineProcess } from '../support/engine-process';
import { createTopics } from '../support/kafka-topics';
import { ensureKafka, ensureRedis, figure, median, percentile, removeJobState } from '../support/services';

const EVENTS = Number(process.env.BENCH_E2E_EVENTS ?? 300_000);
const RUNS = Number(process.env.BENCH_E2E_RUNS ?? 3);
const PARTITIONS = 4;
const CHECKPOINT_MS = 1000;
/** Latency runs send this long at their rate before the measured seconds. */
const WARM_UP_SECONDS = Number(process.env.BENCH_E2E_WARMUP_S ?? 3);
/** Cards the latency runs spread payments over: enough that the velocity rules stay under their limits. */
const CARDS = 100_000;
/** Latency runs: one event in PROBE_EVERY is a probe that raises an alert; latency is measured on the probes. */
const PROBE_EVERY = Number(process.env.BENCH_E2E_PROBE_EVERY ?? 10);

/** Ten velocity rules over card payments, as a fraud team writes them; a few fire. */
function velocityRules(): unknown[] {
  return Array.from({ length: 10 }, (_, i) => ({
    id: `velocity-${i}`,
    version: 1,
    status: 'active',
    type: 'aggregate',
    severity: 'medium',
    groupBy: ['cardId'],
    alert: { template: '{{value}} payments on {{key}}' },
    aggregate: {
      filter: { all: [{ fact: 'event', path: '$.amount', operator: 'greaterThan', value: i * 100 }] },
      function: 'count',
      window: '10m',
      operator: 'greaterThan',
      limit: 20 + i,
    },
  }));
}

/** Payment `i` of a stream over `cards` cards, at `time`; the ten velocity rules evaluate it. */
function payment(i: number, time: number, cards = 10_000): { key: string; value: string } {
  const cardId = `card-${i % cards}`;
  return {
    key: cardId,
    value: JSON.stringify({
      id: `p-${i}`,
      type: 'payment',
      cardId,
      amount: (i * 7919) % 2000,
      country: 'FR',
      timestamp: time,
    }),
  };
}

async function produceAll(
  producer: Producer,
  topic: string,
  count: number,
  make: (i: number) => { key: string; value: string },
) {
  const batch = 5000;
  for (let i = 0; i < count; i += batch) {
    const messages = [];
    for (let j = i; j < Math.min(count, i + batch); j++) messages.push(make(j));
    await producer.send({ topic, acks: -1, messages });
  }
}

/** The baseline: consume, parse, produce one record per event in one transaction per batch, commit offsets in it. */
async function rawPipe(kafka: Kafka, input: string, output: string, count: number): Promise<number> {
  const groupId = `bench-raw-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxBytesPerPartition: 4 * 1024 * 1024 });
  const producer = kafka.producer({
    transactionalId: `bench-raw-${randomUUID()}`,
    maxInFlightRequests: 1,
    idempotent: true,
  });
  await Promise.all([consumer.connect(), producer.connect()]);
  await consumer.subscribe({ topic: input, fromBeginning: true });
  let seen = 0;
  let started = 0;
  const done = new Promise<number>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (started === 0) started = performance.now();
        const messages = batch.messages.map((m) => {
          const event = JSON.parse(String(m.value)) as { cardId: string };
          return { key: event.cardId, value: String(m.value) };
        });
        const tx = await producer.transaction();
        // Sends of at most 5,000 records: kafkajs crawls on one request of tens of thousands (see the alerts writer).
        for (let i = 0; i < messages.length; i += 5000)
          await tx.send({ topic: output, messages: messages.slice(i, i + 5000) });
        await tx.sendOffsets({
          consumerGroupId: groupId,
          topics: [
            {
              topic: batch.topic,
              partitions: [{ partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }],
            },
          ],
        });
        await tx.commit();
        seen += batch.messages.length;
        if (seen >= count) resolve(performance.now() - started);
      },
    });
  });
  const elapsed = await done;
  await Promise.all([consumer.disconnect(), producer.disconnect()]);
  return (count / elapsed) * 1000;
}

async function engineRun(
  kafka: Kafka,
  brokers: string,
  redisUrl: string,
  topics: Record<string, string>,
  engines: number,
  count: number,
): Promise<number> {
  const jobId = `bench-${randomUUID().slice(0, 8)}`;
  const env = {
    KAFKA_BROKERS: brokers,
    REDIS_URL: redisUrl,
    CEPHEUS_JOB_ID: jobId,
    CEPHEUS_EVENTS_TOPIC: topics.events,
    CEPHEUS_RULES_TOPIC: topics.rules,
    CEPHEUS_ALERTS_TOPIC: `${topics.events}.alerts`,
    CEPHEUS_RULES_STATUS_TOPIC: `${topics.events}.status`,
    CEPHEUS_DLQ_TOPIC: `${topics.events}.dlq`,
    CEPHEUS_CHECKPOINT_INTERVAL_MS: String(CHECKPOINT_MS),
  };
  const running: EngineProcess[] = await Promise.all(
    Array.from({ length: engines }, (_, i) => spawnEngine({ ...env, CEPHEUS_INSTANCE_ID: `${jobId}-${i}` })),
  );
  try {
    // From the first event an engine read to the moment the consumer group's committed offsets cover every event: the
    // last checkpoint's transaction (state stored, alerts and offsets committed) is inside the figure.
    const admin = kafka.admin();
    await admin.connect();
    try {
      const deadline = Date.now() + 600_000;
      for (;;) {
        if (Date.now() > deadline) throw new Error(`the engines did not commit ${count} events within 10 minutes`);
        const offsets = await admin.fetchOffsets({ groupId: `cepheus-${jobId}`, topics: [topics.events] });
        const committed = (offsets[0]?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
        if (committed >= count) {
          const end = Date.now();
          const stats = await Promise.all(running.map((e) => e.instance()));
          const first = Math.min(...stats.filter((s) => Number(s.firstEventAt) > 0).map((s) => Number(s.firstEventAt)));
          return (count / Math.max(1, end - first)) * 1000;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await admin.disconnect();
    }
  } finally {
    await Promise.all(running.map((e) => e.stop()));
    await removeJobState(redisUrl, jobId);
  }
}

/** The engine's job module, loaded by every worker thread the way this file was loaded (compiled, or tsx). */
const RULE_JOB_MODULE = join(
  __dirname,
  '../../apps/engine/src/job',
  __filename.endsWith('.js') ? 'kafka-rule-job-module.js' : 'kafka-rule-job-module.ts',
);

/**
 * The rule job graph on the runtime (`kafkaRuleJob`: partition source, keyBy shuffle between worker-thread
 * instances, one transaction per checkpoint), in this process: from start to the moment the consumer group's
 * committed offsets cover every event, so the last checkpoint's transaction is inside the figure.
 */
async function ruleJobRun(
  kafka: Kafka,
  brokers: string,
  redisUrl: string,
  topics: Record<string, string>,
  parallelism: number,
  count: number,
): Promise<{ rate: number; cpuUs: number }> {
  const jobId = `bench-rj-${randomUUID().slice(0, 8)}`;
  const outTopics = {
    events: topics.events,
    rules: topics.rules,
    alerts: `${topics.events}.rj-alerts`,
    eventsDlq: `${topics.events}.rj-dlq`,
    rulesStatus: `${topics.events}.rj-status`,
  };
  await createTopics(kafka, [
    { topic: outTopics.alerts },
    { topic: outTopics.eventsDlq },
    { topic: outTopics.rulesStatus },
  ]);
  const params: KafkaRuleJobParams = {
    brokers: brokers.split(','),
    clientId: jobId,
    instanceId: jobId,
    topics: outTopics,
    consumerGroupId: jobId,
    transactionalId: `${jobId}-committer`,
    guarantee: 'exactly-once',
    options: { jobName: jobId },
  };
  const redis = new Redis(redisUrl);
  const runner = new JobRunner(
    { module: RULE_JOB_MODULE, exportName: 'kafkaRuleJob', params: params as unknown as JsonValue },
    {
      parallelism,
      threads: parallelism > 1,
      storage: new RedisCheckpointStorage(redis, { keyPrefix: jobId }),
      checkpointIntervalMs: CHECKPOINT_MS,
    },
  );
  const admin = kafka.admin();
  await admin.connect();
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  try {
    await runner.start();
    const deadline = Date.now() + 600_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`the rule job did not commit ${count} events within 10 minutes`);
      const offsets = await admin.fetchOffsets({ groupId: jobId, topics: [topics.events] });
      const committed = (offsets[0]?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
      if (committed >= count) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const cpu = process.cpuUsage(cpu0);
    return { rate: (count / (performance.now() - started)) * 1000, cpuUs: (cpu.user + cpu.system) / count };
  } finally {
    await runner.cancel();
    await admin.disconnect();
    redis.disconnect();
    await removeJobState(redisUrl, jobId);
  }
}

/** Sends probes at a fixed rate through a one-step rule that alerts on each; latency = alert seen - probe sent. */
async function latency(
  kafka: Kafka,
  brokers: string,
  redisUrl: string,
  guarantee: string,
  checkpointMs: number,
  rate: number,
  seconds: number,
  probeEvery: number,
) {
  const base = `bench-lat-${randomUUID().slice(0, 8)}`;
  const topics = { events: `${base}.events`, rules: `${base}.rules`, alerts: `${base}.alerts` };
  await createTopics(kafka, [
    { topic: topics.events, partitions: PARTITIONS },
    { topic: topics.rules, compact: true },
    { topic: topics.alerts, partitions: PARTITIONS },
  ]);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const probeRule = {
    id: 'probe',
    version: 1,
    status: 'active',
    type: 'sequence',
    severity: 'info',
    groupBy: ['cardId'],
    alert: { template: 'probe' },
    sequence: {
      steps: [
        { name: 'probe', condition: { all: [{ fact: 'event', path: '$.type', operator: 'equal', value: 'probe' }] } },
      ],
    },
  };
  // The other events are card payments the ten velocity rules evaluate (100k cards: they stay under the limits).
  await producer.send({
    topic: topics.rules,
    messages: [probeRule, ...velocityRules()].map((r) => ({ key: (r as { id: string }).id, value: JSON.stringify(r) })),
  });
  const engine = await spawnEngine({
    KAFKA_BROKERS: brokers,
    REDIS_URL: redisUrl,
    CEPHEUS_JOB_ID: base,
    CEPHEUS_INSTANCE_ID: base,
    CEPHEUS_GUARANTEE: guarantee,
    CEPHEUS_CHECKPOINT_INTERVAL_MS: process.env.BENCH_E2E_CHECKPOINT_MS ?? String(checkpointMs),
    CEPHEUS_EVENTS_TOPIC: topics.events,
    CEPHEUS_RULES_TOPIC: topics.rules,
    CEPHEUS_ALERTS_TOPIC: topics.alerts,
    CEPHEUS_RULES_STATUS_TOPIC: `${base}.status`,
    CEPHEUS_DLQ_TOPIC: `${base}.dlq`,
  });
  const latencies: number[] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const bySecond = new Map<number, number[]>();
  const toEngineOut: number[] = [];
  const consumer = kafka.consumer({ groupId: `${base}-tail`, readUncommitted: false, maxWaitTimeInMs: 10 });
  await consumer.connect();
  await consumer.subscribe({ topic: topics.alerts, fromBeginning: true });
  // No offset commits: kafkajs' default commits after every batch, a round trip before each next fetch that adds
  // tens of milliseconds to what an alerts consumer sees (a latency-minded consumer commits on an interval or not at all).
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      const alert = JSON.parse(String(message.value)) as { ruleId: string; events: Array<{ id: string }> };
      const [kind, at] = alert.events[0].id.split('-');
      if (alert.ruleId !== 'probe' || kind !== 'probe') return;
      const sentAt = Number(at);
      latencies.push(Date.now() - sentAt);
      const second = Math.floor(sentAt / 1000);
      let values = bySecond.get(second);
      if (values === undefined) bySecond.set(second, (values = []));
      values.push(Date.now() - sentAt);
      toEngineOut.push(Number(message.timestamp) - sentAt);
    },
  });
  // Small sends: a probe waits at most one tick in the producer before it leaves.
  const tick = 10;
  const perTick = Math.max(1, Math.round((rate * tick) / 1000));
  let sent = 0;
  const sendAtRate = async (count: number, probePrefix: string): Promise<void> => {
    const started = Date.now();
    const first = sent;
    const end = sent + count;
    while (sent < end) {
      const now = Date.now();
      const messages = [];
      for (let i = 0; i < perTick && sent < end; i++, sent++) {
        if (sent % probeEvery !== 0) {
          messages.push(payment(sent, now, CARDS));
          continue;
        }
        const cardId = `card-${sent % CARDS}`;
        const probe = { id: `${probePrefix}-${now}-${sent}`, type: 'probe', cardId, timestamp: now };
        messages.push({ key: cardId, value: JSON.stringify(probe) });
      }
      await producer.send({ topic: topics.events, acks: -1, messages });
      const wait = started + ((sent - first) / perTick) * tick - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  };
  // Warm-up at the same rate, not measured: the engine's first seconds (partitions restored, code compiled, the first
  // transactions, which can retry while the coordinator warms up) are not its steady state.
  await sendAtRate(rate * WARM_UP_SECONDS, 'warmup');
  const total = rate * seconds;
  const probes = Math.ceil(total / probeEvery);
  await sendAtRate(total, 'probe');
  const deadline = Date.now() + 20_000;
  while (latencies.length < probes && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const stats = await engine.instance();
  if (process.env.BENCH_E2E_DIAG) {
    const metrics = await (await fetch(`http://127.0.0.1:${engine.port}/metrics`)).text();
    // Where the time goes: to the alert's produce (its Kafka timestamp), per second of the run, and inside the engine.
    const split = (values: number[]): string => `p50 ${percentile(values, 50)} p99 ${percentile(values, 99)} ms`;
    process.stderr.write(`${guarantee}: probe sent -> alert produced: ${split(toEngineOut)}\n`);
    const ms = (ns: number): string => (ns / 1e6).toFixed(1);
    process.stderr.write(
      `${guarantee}: this process's event-loop delay p50 ${ms(loopDelay.percentile(50))} p99 ${ms(loopDelay.percentile(99))} max ${ms(loopDelay.max)} ms\n`,
    );
    const seconds = [...bySecond].sort((a, b) => a[0] - b[0]);
    seconds.forEach(([, values], i) => process.stderr.write(`${guarantee}: second ${i + 1}: ${split(values)}\n`));
    process.stderr.write(
      metrics
        .split('\n')
        .filter(
          (l) =>
            /eventloop_lag_(p50|p99|max)|gc_duration_seconds_sum|cpu_seconds_total|checkpoint/.test(l) &&
            !l.startsWith('#'),
        )
        .join('\n') + '\n',
    );
  }
  await consumer.disconnect();
  await producer.disconnect();
  await engine.stop();
  await removeJobState(redisUrl, base);
  if (latencies.length < probes) {
    throw new Error(`only ${latencies.length} of ${probes} probe alerts arrived; engine: ${JSON.stringify(stats)}`);
  }
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function main(): Promise<void> {
  const { brokers, release } = ensureKafka();
  const redisUrl = ensureRedis();
  const kafka = new Kafka({ clientId: 'bench-e2e', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  try {
    const base = `bench-e2e-${randomUUID().slice(0, 8)}`;
    const topics = { events: `${base}.events`, rules: `${base}.rules`, raw: `${base}.raw-out` };
    await createTopics(kafka, [
      { topic: topics.events, partitions: PARTITIONS },
      { topic: topics.rules, compact: true },
      { topic: topics.raw, partitions: PARTITIONS },
    ]);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic: topics.rules,
      messages: velocityRules().map((r) => ({ key: (r as { id: string }).id, value: JSON.stringify(r) })),
    });
    const t0 = 1_700_000_000_000;
    await produceAll(producer, topics.events, EVENTS, (i) => payment(i, t0 + i * 10));
    await producer.disconnect();
    process.stderr.write(`bench:e2e: ${EVENTS} events on ${PARTITIONS} partitions, 10 rules, ${RUNS} runs\n`);

    // Exactly-once at 2k events/s with a 500 ms checkpoint interval; at-least-once at 10k events/s.
    const eosLatency = async (): Promise<number> => {
      const eos = await latency(kafka, brokers, redisUrl, 'exactly-once', 500, 2000, 10, PROBE_EVERY);
      figure('latency_eos_p50_at_2k_per_s_ckpt_500ms', eos.p50, 'ms');
      figure('latency_eos_p99_at_2k_per_s_ckpt_500ms', eos.p99, 'ms');
      return eos.p99;
    };
    const aloLatency = async (): Promise<void> => {
      const alo = await latency(kafka, brokers, redisUrl, 'at-least-once', 1000, 10_000, 10, PROBE_EVERY);
      figure('latency_alo_p50_at_10k_per_s', alo.p50, 'ms');
      figure('latency_alo_p99_at_10k_per_s', alo.p99, 'ms');
    };
    if (process.env.BENCH_E2E_ONLY === 'latency') {
      // Latency alone (for tuning): BENCH_E2E_ONLY=latency npm run bench:e2e
      await eosLatency();
      await aloLatency();
      return;
    }
    if (process.env.BENCH_E2E_ONLY === 'raw') {
      figure('raw_pipe_eos_events_per_s', await rawPipe(kafka, topics.events, topics.raw, EVENTS), 'events/s');
      return;
    }
    if (process.env.BENCH_E2E_ONLY === 'alo') {
      await aloLatency();
      return;
    }
    if (process.env.BENCH_E2E_ONLY === 'rulejob') {
      const raw = await rawPipe(kafka, topics.events, topics.raw, EVENTS);
      const p1 = await ruleJobRun(kafka, brokers, redisUrl, topics, 1, EVENTS);
      const p2 = await ruleJobRun(kafka, brokers, redisUrl, topics, 2, EVENTS);
      figure('raw_pipe_eos_events_per_s', raw, 'events/s');
      figure('rule_job_p1_eos_events_per_s', p1.rate, 'events/s');
      figure('rule_job_p1_cpu_us_per_event', p1.cpuUs, 'us');
      figure('rule_job_p2_eos_events_per_s', p2.rate, 'events/s');
      figure('rule_job_p2_cpu_us_per_event', p2.cpuUs, 'us');
      figure('rule_job_p2_vs_raw_pipe_ratio', p2.rate / raw, 'x');
      return;
    }
    if (process.env.BENCH_E2E_ONLY === 'engine') {
      figure('engine_1proc_eos_events_per_s', await engineRun(kafka, brokers, redisUrl, topics, 1, EVENTS), 'events/s');
      return;
    }
    const raw: number[] = [];
    const one: number[] = [];
    const two: number[] = [];
    const job1: { rate: number; cpuUs: number }[] = [];
    const job2: { rate: number; cpuUs: number }[] = [];
    for (let run = 0; run < RUNS; run++) {
      raw.push(await rawPipe(kafka, topics.events, topics.raw, EVENTS));
      one.push(await engineRun(kafka, brokers, redisUrl, topics, 1, EVENTS));
      two.push(await engineRun(kafka, brokers, redisUrl, topics, 2, EVENTS));
      job1.push(await ruleJobRun(kafka, brokers, redisUrl, topics, 1, EVENTS));
      job2.push(await ruleJobRun(kafka, brokers, redisUrl, topics, 2, EVENTS));
    }
    figure('raw_pipe_eos_events_per_s', median(raw), 'events/s');
    figure('engine_1proc_eos_events_per_s', median(one), 'events/s');
    figure('engine_2proc_eos_events_per_s', median(two), 'events/s');
    figure('engine_2proc_vs_raw_pipe_ratio', median(two) / median(raw), 'x');
    figure('rule_job_p1_eos_events_per_s', median(job1.map((r) => r.rate)), 'events/s');
    figure('rule_job_p1_cpu_us_per_event', median(job1.map((r) => r.cpuUs)), 'us');
    figure('rule_job_p2_eos_events_per_s', median(job2.map((r) => r.rate)), 'events/s');
    figure('rule_job_p2_cpu_us_per_event', median(job2.map((r) => r.cpuUs)), 'us');
    figure('rule_job_p2_vs_raw_pipe_ratio', median(job2.map((r) => r.rate)) / median(raw), 'x');

    figure('latency_eos_p99_over_checkpoint_interval', (await eosLatency()) / 500, 'x');
    await aloLatency();
    figure('engine_1proc_vs_raw_pipe_ratio', median(one) / median(raw), 'x');
  } finally {
    release();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:e2e failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
