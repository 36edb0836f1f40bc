// Runtime benchmark: throughput at P=1 and P=2 (shared rings, and MessagePort channels as the baseline), checkpoint
// duration and stall by key count on the file and Redis backends (Redis at REDIS_URL, started by scripts/redis.mjs
// when none answers), and restore time. Prints one figure a line, `name: value unit`, medians; the headline (P2/P1)
// last.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureRedis } from '../support/services';
import { RedisCheckpointStorage } from '@cepheus/redis';
import { FileCheckpointStorage, JobRunner, type CheckpointStorage, type JsonValue } from '@cepheus/runtime';
import Redis from 'ioredis';
import { gaps, throughputJob, type ThroughputParams } from './jobs';
import { paymentInputs, ruleJobRun } from './rule-job';

// The worker threads load the jobs module the way this file was loaded: compiled (`npm run bench:runtime`) or tsx.
const MODULE = join(__dirname, __filename.endsWith('.js') ? 'jobs.js' : 'jobs.ts');
// Five runs of 4 s windows: with three of 2 s, the ratio of medians moved between 0.9 and 1.8 from run to run on one
// quiet machine (the in-thread P=1 figure alone moved by a third); five of 4 s kept it within a few percent.
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 1_000);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 4_000);
/** `throughput`, `checkpoint` or `rulejob` runs only that part (quicker iterations); anything else runs all. */
const PART = process.env.BENCH_PART ?? 'all';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const print = (name: string, value: number, unit: string, digits = 0): void =>
  console.log(`${name}: ${value.toFixed(digits)} ${unit}`);

/**
 * Steady-state events per second (wall) and CPU microseconds per event over all threads of the process, in a window of
 * WINDOW_MS after WARMUP_MS of an unbounded job: a streaming job runs for long, and fresh worker threads start with
 * cold code while the in-thread P=1 runs in a warm isolate, so a short bounded run measures warm-up more than the
 * channels. P > 1 runs on worker threads, with keyed frames over shared rings (the default for a stream with a codec)
 * or over MessagePorts.
 */
async function throughput(
  parallelism: number,
  channelTransport: 'shared-ring' | 'message-port' = 'shared-ring',
): Promise<{ rate: number; cpuUs: number }> {
  const params = { keys: 10_000, splits: 4 } satisfies ThroughputParams as unknown as JsonValue;
  const runner =
    parallelism === 1
      ? new JobRunner(throughputJob(params), { parallelism: 1 })
      : new JobRunner({ module: MODULE, exportName: 'throughputJob', params }, { parallelism, channelTransport });
  await runner.start();
  const processed = async (): Promise<number> =>
    (await runner.metrics()).instances.reduce((n, i) => n + i.recordsProcessed, 0);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const n0 = await processed();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const n1 = await processed();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  await runner.cancel();
  const events = n1 - n0;
  if (events <= 0) throw new Error(`no events processed at P=${parallelism}`);
  return { rate: events / seconds, cpuUs: (cpu.user + cpu.system) / events };
}

type Backend = 'file' | 'redis';

/** A fresh storage of the backend, and how to clean it up afterwards. */
async function openStorage(backend: Backend): Promise<{ storage: CheckpointStorage; cleanup: () => Promise<void> }> {
  if (backend === 'file') {
    const dir = await mkdtemp(join(tmpdir(), 'cepheus-bench-'));
    return {
      storage: new FileCheckpointStorage({ directory: dir }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const url = ensureRedis();
  const redis = new Redis(url);
  const prefix = `cepheus-bench-${Date.now()}`;
  return {
    storage: new RedisCheckpointStorage(redis, { keyPrefix: prefix }),
    cleanup: async () => {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      redis.disconnect();
    },
  };
}

async function checkpointFigures(keys: number, backend: Backend): Promise<void> {
  const { storage, cleanup } = await openStorage(backend);
  try {
    const params: ThroughputParams = { keys, splits: 4, measureGaps: true };
    const runner = new JobRunner(throughputJob(params as unknown as JsonValue), { storage, retainedCheckpoints: 2 });
    await runner.start();
    // Warm up until every key has state.
    for (;;) {
      const m = await runner.metrics();
      if (m.instances[0]!.keys >= keys) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const durations: number[] = [];
    const stalls: number[] = [];
    const gapsMs: number[] = [];
    const baselineGaps: number[] = [];
    const sizes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Baseline: the longest gap over a window as long as the last checkpoint, without one (GC, other processes).
      gaps.reset();
      await new Promise((r) => setTimeout(r, 20 + (durations.at(-1) ?? 200)));
      baselineGaps.push(gaps.max);
      gaps.reset();
      await runner.triggerCheckpoint();
      // Keep processing a little after completion so that the gap covers the whole checkpoint.
      await new Promise((r) => setTimeout(r, 20));
      const stats = (await runner.metrics()).checkpoints.at(-1)!;
      durations.push(stats.durationMs);
      stalls.push(stats.stallMs);
      sizes.push(stats.bytes);
      gapsMs.push(gaps.max);
    }
    await runner.cancel();
    const label = keys >= 1_000_000 ? `${keys / 1_000_000}M` : `${keys / 1000}k`;
    print(`checkpoint duration ${label} keys (${backend})`, median(durations), 'ms');
    print(`checkpoint size ${label} keys (${backend})`, median(sizes) / 1024 / 1024, 'MiB', 1);
    print(`checkpoint synchronous stall ${label} keys (${backend})`, median(stalls), 'ms', 1);
    print(`longest processing gap during checkpoint ${label} keys (${backend})`, median(gapsMs), 'ms', 1);
    print(`longest processing gap without checkpoint ${label} keys (baseline)`, median(baselineGaps), 'ms', 1);

    const restores: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await new Promise((r) => setTimeout(r, 200)); // let the cancelled job's heap be collected first
      const t0 = performance.now();
      const restored = new JobRunner(throughputJob(params as unknown as JsonValue), { storage, restore: 'latest' });
      await restored.start();
      restores.push(performance.now() - t0);
      const m = await restored.metrics();
      if (m.instances[0]!.keys < keys) throw new Error('restore lost keys');
      await restored.cancel();
    }
    print(`restore time ${label} keys (${backend})`, median(restores), 'ms');
  } finally {
    await cleanup();
  }
}

async function main(): Promise<void> {
  const p1: number[] = [];
  const p2: number[] = [];
  const p2port: number[] = [];
  const cpu1: number[] = [];
  const cpu2: number[] = [];
  const cpu2port: number[] = [];
  // Interleaved, so that a change in the machine's load touches every variant alike.
  for (let i = 0; i < RUNS && PART !== 'checkpoint'; i++) {
    const a = await throughput(1);
    const b = await throughput(2);
    const c = await throughput(2, 'message-port');
    p1.push(a.rate);
    p2.push(b.rate);
    p2port.push(c.rate);
    cpu1.push(a.cpuUs);
    cpu2.push(b.cpuUs);
    cpu2port.push(c.cpuUs);
  }
  if (PART === 'all' || PART === 'rulejob') {
    const inputs = paymentInputs(Number(process.env.BENCH_RULE_JOB_PAYMENTS ?? 100_000), 4);
    const one: { rate: number; cpuUs: number }[] = [];
    const two: { rate: number; cpuUs: number }[] = [];
    await ruleJobRun(inputs, 1); // warm-up of this thread's code
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      one.push(await ruleJobRun(inputs, 1));
      two.push(await ruleJobRun(inputs, 2));
    }
    print('rule job (fraud rules) cpu time per event P=1', median(one.map((r) => r.cpuUs)), 'us', 2);
    print('rule job (fraud rules) cpu time per event P=2 (all threads)', median(two.map((r) => r.cpuUs)), 'us', 2);
    print('rule job (fraud rules) events per cpu second P=1', 1e6 / median(one.map((r) => r.cpuUs)), 'events/s');
    print('rule job (fraud rules) events per cpu second P=2', 1e6 / median(two.map((r) => r.cpuUs)), 'events/s');
    print('rule job (fraud rules) throughput P=1 (in thread)', median(one.map((r) => r.rate)), 'events/s');
    print('rule job (fraud rules) throughput P=2 (worker threads)', median(two.map((r) => r.rate)), 'events/s');
    print(
      'rule job (fraud rules) ratio P2/P1',
      median(two.map((r) => r.rate)) / median(one.map((r) => r.rate)),
      'x',
      2,
    );
    if (PART === 'rulejob') return;
  }
  if (PART !== 'throughput') {
    for (const backend of ['file', 'redis'] as const) {
      for (const keys of [10_000, 100_000, 1_000_000]) await checkpointFigures(keys, backend);
    }
  }
  if (PART === 'checkpoint') return;
  // CPU per event is less sensitive to other processes on the machine than events/s.
  print('cpu time per event P=1', median(cpu1), 'us', 3);
  print('cpu time per event P=2 MessagePort channels (all threads)', median(cpu2port), 'us', 3);
  print('cpu time per event P=2 (all threads)', median(cpu2), 'us', 3);
  print('throughput P=1 (in thread)', median(p1), 'events/s');
  print('throughput P=2 (worker threads, MessagePort channels)', median(p2port), 'events/s');
  print('throughput ratio P2/P1 with MessagePort channels', median(p2port) / median(p1), 'x', 2);
  print('throughput P=2 (worker threads, shared rings)', median(p2), 'events/s');
  print('throughput ratio P2/P1', median(p2) / median(p1), 'x', 2);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
