/**
 * Rules benchmark: `npm run bench:rules` (the tsc build, as the engine runs it; `npx tsx bench/rules/main.ts` runs the sources).
 *
 * 1. The same conditions on the same events, compiled (`@cepheus/rules`) and through json-rules-engine 7.3's
 *    `Engine.run` (the reference, in the same process and run): evaluations per second and their ratio.
 * 2. `RuleEvaluator` in process on one core: routing plus `process` per routed key, with 10, 100 and 1,000 active
 *    rules (aggregates and sequences, five event types, three group-by fields) over 100k cards.
 * 3. The same 100 rules through the engine's per-partition logic (`RulesPartitionProcessor.processEvent`), which also
 *    tracks changed keys for incremental checkpoints and each key's next wake-up.
 *
 * 4. The same through the partition processor with the 100 rules all grouped by the card (100k keys, one routing key
 *    per event).
 *
 * Each run of 2-4 is a fresh Node process (see `measureInFreshProcesses`); every figure is the median of ENGINE_RUNS
 * such runs (`RULES_BENCH_RUNS`, default 5), or of RUNS in-process runs for 1. The headline (the ratio) is printed
 * last, one `name: value unit` per line.
 *
 * Profiling: `RULES_BENCH_PROFILE=<rules>` runs one evaluator run (`RULES_BENCH_EVENTS` events over `RULES_BENCH_KEYS`
 * keys) and prints its figures; with `RULES_BENCH_CPU_PROFILE=<file>.cpuprofile` it also writes a CPU profile of the
 * steady-state pass alone (open it in Chrome DevTools; `positionTicks` give per-line costs). `RULES_BENCH_ENGINE=1`
 * runs it through the partition processor instead.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Engine, type TopLevelCondition as JreCondition } from 'json-rules-engine';
import { RulesPartitionProcessor } from '@cepheus/job';
import type { DecodedEvent } from '@cepheus/kafka';
import {
  compileCondition,
  compileRule,
  FactRegistry,
  OperatorRegistry,
  RoutedKeyMap,
  RuleEvaluator,
  seededRandom,
  type KeyState,
  type RuleEvent,
  type TopLevelCondition,
} from '@cepheus/rules';

const RUNS = 3;
/** Runs of each engine configuration, each in a fresh process. */
const ENGINE_RUNS = Number(process.env.RULES_BENCH_RUNS ?? 5);
/** Events between two watermarks in the partition processor's figure: about one fetched batch of the Kafka job. */
const WATERMARK_EVERY = 1000;
const TYPES = ['payment', 'login', 'refund', 'transfer', 'withdrawal'];
const COUNTRIES = ['FR', 'DE', 'GB', 'US', 'ES', 'IT', 'NL', 'JP'];

// A full collection on demand, so that the heap figure is what the key state retains, not garbage of earlier runs.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x: number): string => (x >= 100 ? Math.round(x).toString() : x.toFixed(1));

function makeEvents(n: number, keys: number, seed: number): { event: Record<string, unknown>; timestamp: number }[] {
  const r = seededRandom(seed);
  const out: { event: Record<string, unknown>; timestamp: number }[] = [];
  let t = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    t += Math.floor(r() * 20);
    const card = Math.floor(r() * keys);
    out.push({
      event: {
        id: `e${i}`,
        type: TYPES[Math.floor(r() * TYPES.length)],
        cardId: `c${card}`,
        deviceId: `d${card % 50_000}`,
        merchantId: `m${Math.floor(r() * 1000)}`,
        amount: Math.round(r() * 200_000) / 100,
        country: COUNTRIES[Math.floor(r() * COUNTRIES.length)],
        channel: r() < 0.5 ? 'web' : 'app',
      },
      timestamp: t,
    });
  }
  return out;
}

/** Conditions of the kinds fraud rules use: equality guards, ranges, lists, nesting, a fact-to-fact comparison. */
function makeConditions(): TopLevelCondition[] {
  const out: TopLevelCondition[] = [];
  for (let i = 0; i < 20; i++) {
    const type = TYPES[i % TYPES.length];
    out.push({
      all: [
        { fact: 'event', path: '$.type', operator: 'equal', value: type },
        { fact: 'event', path: '$.amount', operator: 'greaterThan', value: 100 + i * 50 },
        {
          any: [
            { fact: 'event', path: '$.country', operator: 'in', value: COUNTRIES.slice(i % 4, (i % 4) + 3) },
            { fact: 'event', path: '$.channel', operator: 'equal', value: 'app' },
          ],
        },
        {
          not: { fact: 'event', path: '$.merchantId', operator: 'equal', value: { fact: 'event', path: '$.deviceId' } },
        },
      ],
    });
  }
  return out;
}

async function jreThroughput(conditions: TopLevelCondition[], events: RuleEvent[], budgetMs: number): Promise<number> {
  const engines = conditions.map((c) => {
    const e = new Engine([], { allowUndefinedFacts: false });
    e.addRule({ conditions: structuredClone(c) as unknown as JreCondition, event: { type: 'match' } });
    return e;
  });
  let evaluations = 0;
  let matches = 0;
  const start = performance.now();
  outer: for (;;) {
    for (const ev of events) {
      for (const engine of engines) {
        const r = await engine.run({ event: ev.event, time: ev.timestamp });
        matches += r.events.length;
        evaluations++;
      }
      if (performance.now() - start > budgetMs) break outer;
    }
  }
  if (matches < 0) console.log(matches);
  return evaluations / ((performance.now() - start) / 1000);
}

function compiledThroughput(conditions: TopLevelCondition[], events: RuleEvent[], budgetMs: number): number {
  const operators = new OperatorRegistry();
  const facts = new FactRegistry();
  const tests = conditions.map((c) => compileCondition(c, { operators, facts }).test);
  let evaluations = 0;
  let matches = 0;
  const start = performance.now();
  while (performance.now() - start < budgetMs) {
    for (let r = 0; r < 20; r++) {
      for (let i = 0; i < events.length; i++) {
        const ev = events[i];
        for (let j = 0; j < tests.length; j++) if (tests[j](ev, undefined)) matches++;
      }
      evaluations += events.length * tests.length;
    }
  }
  if (matches < 0) console.log(matches);
  return evaluations / ((performance.now() - start) / 1000);
}

/** N rules: three in four aggregates (count, sum, max, distinctCount), one in four a two-step sequence. */
/** Rules spread over three groupings (three routing keys per event), or all grouped by the card (one). */
const GROUPINGS = {
  mixed: [['cardId'], ['deviceId'], ['merchantId']],
  card: [['cardId']],
} as const;
type Grouping = keyof typeof GROUPINGS;

function makeRules(n: number, grouping: Grouping = 'mixed'): unknown[] {
  const groupings = GROUPINGS[grouping];
  const functions = ['count', 'sum', 'max', 'distinctCount'] as const;
  const rules: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const type = TYPES[i % TYPES.length];
    const common = {
      id: `rule-${i}`,
      version: 1,
      status: 'active',
      severity: 'medium',
      groupBy: groupings[i % groupings.length],
      alert: { template: '{{count}} events on {{key}} within {{window}}' },
    };
    if (i % 4 === 3) {
      rules.push({
        ...common,
        type: 'sequence',
        sequence: {
          steps: [
            {
              name: 'small',
              condition: {
                all: [
                  { fact: 'event', path: '$.type', operator: 'equal', value: type },
                  { fact: 'event', path: '$.amount', operator: 'lessThan', value: 5 + (i % 7) },
                ],
              },
            },
            {
              name: 'large',
              contiguity: 'followedBy',
              condition: {
                all: [
                  { fact: 'event', path: '$.type', operator: 'equal', value: type },
                  { fact: 'event', path: '$.amount', operator: 'greaterThan', value: 1900 },
                ],
              },
            },
          ],
          within: '10m',
        },
      });
    } else {
      const fn = functions[i % functions.length];
      rules.push({
        ...common,
        type: 'aggregate',
        aggregate: {
          filter: {
            all: [
              { fact: 'event', path: '$.type', operator: 'equal', value: type },
              { fact: 'event', path: '$.amount', operator: 'greaterThan', value: 10 + (i % 13) * 20 },
            ],
          },
          function: fn,
          ...(fn === 'count' ? {} : { field: fn === 'distinctCount' ? 'country' : 'amount' }),
          window: '30m',
          operator: 'greaterThan',
          // Alerts are rare in real traffic; a merchant sees ~200x the events of a card, so its limits are higher.
          limit:
            (fn === 'count' ? 20 : fn === 'sum' ? 20_000 : fn === 'max' ? 1999 : 6) *
            (i % 3 === 2 && fn !== 'max' ? 50 : 1),
        },
      });
    }
  }
  return rules;
}

/**
 * Runs the events twice through one evaluator: the first pass creates the keyed state of every (rule, key) (cold
 * figure), the second replays the same events shifted forward in time, so windows slide and evict over existing state
 * (steady-state figure, the one a long-running engine sees).
 */
function evaluatorThroughput(
  ruleCount: number,
  events: { event: Record<string, unknown>; timestamp: number }[],
  steadyStateProfile?: string,
  grouping: Grouping = 'mixed',
): {
  cold: number;
  warm: number;
  warmCpu: number;
  rulesPerEvent: number;
  alerts: number;
  keys: number;
  heapMb: number;
} {
  collect();
  const heapBefore = process.memoryUsage().heapUsed;
  const evaluator = new RuleEvaluator(makeRules(ruleCount, grouping).map((r) => compileRule(r)));
  // As the partition processor finds a key's state: by grouping and raw value (see RoutedKeyMap).
  const states = new RoutedKeyMap<KeyState>();
  let ruleEvaluations = 0;
  let alerts = 0;
  const timing = twoPasses(events, steadyStateProfile, (shift) => {
    for (let i = 0; i < events.length; i++) {
      const { event, timestamp } = events[i];
      const routes = evaluator.route(event);
      for (let r = 0; r < routes.length; r++) {
        const route = routes[r];
        let state = states.get(route);
        if (state === undefined) {
          state = new Map();
          states.set(route, state);
        }
        ruleEvaluations += route.ruleIds.length;
        alerts += evaluator.process(state, route, event, timestamp + shift).length;
      }
    }
  });
  collect();
  const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
  return {
    ...timing,
    rulesPerEvent: ruleEvaluations / (2 * events.length),
    alerts,
    keys: states.size,
    heapMb,
  };
}

/**
 * The same two passes through the engine's per-partition logic: rules applied as rule-topic records, events as decoded
 * records of one partition, and the watermark advanced to the latest event time after every WATERMARK_EVERY events
 * (the Kafka job advances it once per fetched batch), so that work the processor defers to `advanceWatermark` (window
 * evictions, sequence deadlines) is in the figure too.
 */
function processorThroughput(
  ruleCount: number,
  events: { event: Record<string, unknown>; timestamp: number }[],
  steadyStateProfile?: string,
  grouping: Grouping = 'mixed',
): { cold: number; warm: number; warmCpu: number; alerts: number; keys: number } {
  collect();
  const processor = new RulesPartitionProcessor();
  for (const [i, rule] of makeRules(ruleCount, grouping).entries()) {
    const report = processor.applyRule({
      ruleId: (rule as { id: string }).id,
      value: JSON.stringify(rule),
      offset: String(i),
      timestamp: 0,
    });
    if (report.status !== 'applied') throw new Error(`rule ${report.ruleId} not applied: ${report.reason}`);
  }
  const state = processor.createPartitionState();
  let alerts = 0;
  // Built before the clock starts: the decoder allocates these per record in the engine, not the processor.
  const decodedAt = (shift: number): DecodedEvent[] =>
    events.map(({ event, timestamp }, i): DecodedEvent => ({
      id: event.id as string,
      key: event.cardId as string,
      timestamp: timestamp + shift,
      payload: event,
      partition: 0,
      offset: String(i),
    }));
  const shifted = new Map([0, spanOf(events)].map((shift) => [shift, decodedAt(shift)]));
  const timing = twoPasses(events, steadyStateProfile, (shift) => {
    const decoded = shifted.get(shift) as DecodedEvent[];
    for (let i = 0; i < decoded.length; i++) {
      alerts += processor.processEvent(state, decoded[i]).length;
      if (i % WATERMARK_EVERY === WATERMARK_EVERY - 1) {
        alerts += processor.advanceWatermark(state, decoded[i].timestamp).length;
      }
    }
  });
  return { ...timing, alerts, keys: processor.partitionStats(state).keys };
}

/** The events' time span: the steady-state pass replays them shifted by it. */
const spanOf = (events: readonly { timestamp: number }[]): number =>
  events[events.length - 1].timestamp - events[0].timestamp + 1;

/**
 * Times `run` over the events twice: shifted by 0 (cold: state created) and by the events' span (steady state: the
 * same events later, over existing state), profiling the second pass when asked. Wall time is what a dedicated core
 * would see; CPU time of the process (all its threads, the GC's included) is also reported because on a shared machine
 * the wall figure mostly measures the other tenants.
 */
function twoPasses(
  events: readonly { timestamp: number }[],
  steadyStateProfile: string | undefined,
  run: (shift: number) => void,
): { cold: number; warm: number; warmCpu: number } {
  const span = spanOf(events);
  let warmCpu = 0;
  const pass = (shift: number): number => {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    run(shift);
    const cpu = process.cpuUsage(cpuStart);
    warmCpu = events.length / ((cpu.user + cpu.system) / 1e6);
    return events.length / ((performance.now() - start) / 1000);
  };
  const cold = pass(0);
  const stopProfile = steadyStateProfile === undefined ? undefined : startCpuProfile();
  const warm = pass(span);
  stopProfile?.(steadyStateProfile as string);
  return { cold, warm, warmCpu };
}

/**
 * Starts V8's CPU profiler in this thread; the returned function stops it and writes the profile (the format of
 * `node --cpu-prof`). `--cpu-prof` covers the whole process, where the first pass (state creation, compilation)
 * takes most of the time and hides the steady state.
 */
function startCpuProfile(): (file: string) => void {
  const session = new Session();
  session.connect();
  // A session in the same thread answers synchronously: the profiler runs once `post` returns.
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  return (file) =>
    session.post('Profiler.stop', (err, result) => {
      if (err !== null) throw err;
      writeFileSync(file, JSON.stringify(result.profile));
      session.disconnect();
    });
}

/**
 * Calibration in the same run: a Map lookup by one of 100k keys plus a small state update (PERF-FACTS: ~3-6 M/s on a
 * quiet machine), so the evaluator figures can be read against what this machine delivered at the time.
 */
function baselineMapUpdates(): number {
  const m = new Map<string, { n: number; last: number }>();
  const keys = Array.from({ length: 100_000 }, (_, i) => `cardId=c${i}`);
  for (const k of keys) m.set(k, { n: 0, last: 0 });
  const r = seededRandom(3);
  const order = Array.from({ length: 1_000_000 }, () => keys[Math.floor(r() * keys.length)]);
  const start = performance.now();
  for (let i = 0; i < order.length; i++) {
    const s = m.get(order[i]) as { n: number; last: number };
    s.n++;
    s.last = i;
  }
  return order.length / ((performance.now() - start) / 1000);
}

/** One measured configuration, run in a process of its own (see `measureInFreshProcesses`). */
interface RunSpec {
  engine: 'evaluator' | 'processor';
  rules: number;
  events: number;
  grouping: Grouping;
}

type RunResult = ReturnType<typeof evaluatorThroughput> | ReturnType<typeof processorThroughput>;

function runSpec(spec: RunSpec, steadyStateProfile?: string): RunResult {
  const events = makeEvents(spec.events, Number(process.env.RULES_BENCH_KEYS ?? 100_000), 2);
  return spec.engine === 'processor'
    ? processorThroughput(spec.rules, events, steadyStateProfile, spec.grouping)
    : evaluatorThroughput(spec.rules, events, steadyStateProfile, spec.grouping);
}

const RESULT_PREFIX = 'RULES_BENCH_RESULT ';

/**
 * Runs every configuration `rounds` times, each run in a fresh Node process, round-robin over the configurations.
 * A fresh process per run, as an engine process runs one rule set: in one long process the configurations measured
 * earlier (10 and 1,000 rules, other groupings) leave V8 with polymorphic type feedback and an old generation full
 * of their garbage, which cost the last ones up to 20% (the partition processor read 75-99k there and 103-110k in
 * processes of its own, same build, same hour). Round-robin spreads a noisy neighbour over all configurations alike.
 */
function measureInFreshProcesses(specs: readonly RunSpec[], rounds: number): RunResult[][] {
  const results: RunResult[][] = specs.map(() => []);
  for (let round = 0; round < rounds; round++) {
    specs.forEach((spec, i) => {
      const child = spawnSync(process.execPath, [...process.execArgv, __filename], {
        env: { ...process.env, RULES_BENCH_RUN: JSON.stringify(spec) },
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
      });
      const line = child.stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (child.status !== 0 || line === undefined) {
        throw new Error(`run ${JSON.stringify(spec)} failed (exit ${child.status}): ${child.stderr}`);
      }
      results[i].push(JSON.parse(line.slice(RESULT_PREFIX.length)) as RunResult);
    });
  }
  return results;
}

async function main(): Promise<void> {
  console.log(`baseline Map lookup + update, 100k keys: ${fmt(median([0, 1, 2].map(baselineMapUpdates)))} ops/s`);
  const sample = makeEvents(1000, 1000, 1).map((e, i) => ({ ...e, id: `s${i}` }));
  const conditions = makeConditions();
  const jre: number[] = [];
  const compiled: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    jre.push(await jreThroughput(conditions, sample, 1500));
    compiled.push(compiledThroughput(conditions, sample, 700));
  }
  console.log(`json-rules-engine evaluations: ${fmt(median(jre))} evaluations/s`);
  console.log(`compiled evaluations: ${fmt(median(compiled))} evaluations/s`);

  // Event counts keep the whole benchmark to a few minutes on a shared two-core machine.
  const specs: RunSpec[] = [
    { engine: 'evaluator', rules: 10, events: 150_000, grouping: 'mixed' },
    { engine: 'evaluator', rules: 100, events: 60_000, grouping: 'mixed' },
    { engine: 'evaluator', rules: 1000, events: 8_000, grouping: 'mixed' },
    // The same 100 rules all grouped by the card: one routing key per event instead of three (card, device, merchant).
    { engine: 'evaluator', rules: 100, events: 60_000, grouping: 'card' },
    { engine: 'processor', rules: 100, events: 60_000, grouping: 'mixed' },
    { engine: 'processor', rules: 100, events: 60_000, grouping: 'card' },
  ];
  const all = measureInFreshProcesses(specs, ENGINE_RUNS);
  specs.forEach((spec, i) => {
    const results = all[i];
    const tag =
      (spec.engine === 'processor'
        ? `engine partition processor ${spec.rules} rules`
        : `evaluator ${spec.rules} rules`) +
      (spec.grouping === 'card' ? ' grouped by cardId (one routing key per event)' : '');
    console.log(`${tag}, steady state: ${fmt(median(results.map((r) => r.warm)))} events/s`);
    console.log(`${tag}, steady state per CPU second: ${fmt(median(results.map((r) => r.warmCpu)))} events/s`);
    const first = results[0];
    if ('heapMb' in first) {
      const heap = results.map((r) => (r as ReturnType<typeof evaluatorThroughput>).heapMb);
      console.log(`${tag}, heap retained by rules and key state: ${fmt(median(heap))} MB`);
    }
    console.log(`${tag}, cold keys (state created): ${fmt(median(results.map((r) => r.cold)))} events/s`);
    if ('rulesPerEvent' in first)
      console.log(`${tag}, rule evaluations: ${first.rulesPerEvent.toFixed(1)} rules/event`);
    console.log(`${tag}, keys touched: ${first.keys} keys`);
    console.log(`${tag}, alerts: ${first.alerts} alerts`);
  });
  console.log(`compiled vs json-rules-engine: ${fmt(median(compiled) / median(jre))} x`);
}

if (process.env.RULES_BENCH_RUN !== undefined) {
  const result = runSpec(JSON.parse(process.env.RULES_BENCH_RUN) as RunSpec);
  console.log(RESULT_PREFIX + JSON.stringify(result));
} else if (process.env.RULES_BENCH_PROFILE !== undefined) {
  const result = runSpec(
    {
      engine: process.env.RULES_BENCH_ENGINE === '1' ? 'processor' : 'evaluator',
      rules: Number(process.env.RULES_BENCH_PROFILE),
      events: Number(process.env.RULES_BENCH_EVENTS ?? 50_000),
      grouping: (process.env.RULES_BENCH_GROUPING as Grouping | undefined) ?? 'mixed',
    },
    process.env.RULES_BENCH_CPU_PROFILE,
  );
  console.log(result);
} else {
  void main();
}
