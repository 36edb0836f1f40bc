import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBoundedRanges, resolveKafkaRange, runReplay } from '@cepheus/replay';
import { FRAUD_RULES, generateFraud } from '@cepheus/rules';
import { Kafka, logLevel } from 'kafkajs';

/**
 * Replay throughput over the events topic with 100 rules, against the raw consume rate of the same topic in the same
 * run (eachBatch + JSON.parse, the same bounded reader). Prints `name: value unit`, medians of BENCH_REPEATS runs, the
 * headline (replay / raw) last. Starts the test broker (scripts/kafka.mjs) when KAFKA_BROKERS is unset.
 */
const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
/** Raw consume runs (cheap); the replay of 1M events runs REPLAY_REPEATS times (one long run is its own median). */
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const REPLAY_REPEATS = Number(process.env.BENCH_REPLAY_REPEATS ?? 1);
const RULES = 100;
/** Worker threads of the replay (partitions spread over them), the API's default; also measured: 0 = in-thread. */
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const ROOT = join(__dirname, '..', '..', '..');

function brokers(): { list: string; startedHere: boolean } {
  if (process.env.KAFKA_BROKERS) return { list: process.env.KAFKA_BROKERS, startedHere: false };
  const stateFile = join(ROOT, '.cache', 'kafka', 'state.json');
  const before = existsSync(stateFile)
    ? (JSON.parse(readFileSync(stateFile, 'utf8')) as { brokers: string })
    : undefined;
  const list = execFileSync(process.execPath, [join(ROOT, 'scripts', 'kafka.mjs'), 'start'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return { list, startedHere: before?.brokers !== list };
}

/**
 * 100 aggregate rules in the shape of `fraud-velocity-count`, each scoped to one merchant (so a payment concerns about
 * one of them, as in a rule book of per-segment limits); every rule is still evaluated for every event.
 */
function hundredRules(): unknown[] {
  const base = FRAUD_RULES.find((r) => (r as { id: string }).id === 'fraud-velocity-count') as {
    aggregate: { filter: { all: Array<Record<string, unknown>> }; limit: number };
  };
  return Array.from({ length: RULES }, (_, i) => {
    const rule = JSON.parse(JSON.stringify(base)) as typeof base & { id: string };
    rule.id = `merchant-velocity-${i}`;
    rule.aggregate.filter.all = [
      ...rule.aggregate.filter.all.map((c) => (c.path === '$.amount' ? { ...c, value: 250 } : c)),
      { fact: 'event', path: '$.merchantId', operator: 'equal', value: `m-${i}` },
    ];
    rule.aggregate.limit = 2;
    return rule;
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const { list, startedHere } = brokers();
  const kafka = new Kafka({ clientId: 'bench-replay', brokers: list.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `bench-replay-${Date.now().toString(36)}`;
  const outputs: string[] = [];
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 4, replicationFactor: 1 }], waitForLeaders: true });
    const stream = generateFraud({ seed: 1, payments: EVENTS, cards: 10_000, planted: 50 });
    const messages = stream.events.slice(0, EVENTS).map((e) => ({
      key: String(e.event.cardId),
      value: JSON.stringify({ ...e.event, timestamp: e.timestamp }),
    }));
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    let started = Date.now();
    for (let i = 0; i < messages.length; i += 5000) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 5000) });
    }
    await producer.disconnect();
    console.log(`events: ${messages.length} events`);
    console.log(`produce: ${Math.round((messages.length * 1000) / (Date.now() - started))} msg/s`);
    const ranges = await resolveKafkaRange(admin, topic, { type: 'time', from: 0 });
    const rules = hundredRules();

    const raw: number[] = [];
    const replay: number[] = [];
    const inThread: number[] = [];
    let alerts = 0;
    const replayOnce = async (threads: number, label: string): Promise<number> => {
      const replayId = `bench-${Date.now().toString(36)}-${label}`;
      const summary = await runReplay({
        kafka,
        replayId,
        rules,
        threads,
        source: { type: 'kafka', topic, range: { type: 'time', from: 0 } },
      });
      outputs.push(summary.outputTopic);
      if (summary.eventsRead !== messages.length) throw new Error(`replay read ${summary.eventsRead} events`);
      alerts = summary.alerts;
      return (summary.eventsRead * 1000) / summary.durationMs;
    };
    for (let r = 0; r < REPEATS; r++) {
      let read = 0;
      started = Date.now();
      await readBoundedRanges({
        kafka,
        topic,
        ranges,
        onMessages: (_partition, batch) => {
          for (const message of batch) if (JSON.parse(message.value?.toString('utf8') ?? 'null') !== null) read += 1;
        },
      });
      raw.push((read * 1000) / (Date.now() - started));
      if (r >= REPLAY_REPEATS) continue;
      // Both configurations in the same run, alternating, so that load from elsewhere hits them alike.
      replay.push(await replayOnce(THREADS, `t${r}`));
      if (THREADS !== 0) inThread.push(await replayOnce(0, `i${r}`));
    }
    console.log(`raw consume (eachBatch + JSON.parse): ${Math.round(median(raw))} events/s`);
    if (inThread.length > 0)
      console.log(`replay with ${RULES} rules, in-thread: ${Math.round(median(inThread))} events/s`);
    console.log(`replay with ${RULES} rules, ${THREADS} threads: ${Math.round(median(replay))} events/s`);
    console.log(`replay alerts: ${alerts} alerts`);
    console.log(`replay / raw consume: ${(median(replay) / median(raw)).toFixed(2)} ratio`);
  } finally {
    await admin.deleteTopics({ topics: [topic, ...outputs] }).catch(() => undefined);
    await admin.disconnect();
    if (startedHere) execFileSync(process.execPath, [join(ROOT, 'scripts', 'kafka.mjs'), 'stop'], { stdio: 'inherit' });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
