/**
 * CEP library benchmark: `npm run bench:cep` (tsc build, then `node dist/bench/cep/main.js`).
 *
 * Scenarios, each with one key and with 10,000 keys (one NFA, one state per key, events in timestamp order):
 *   1. square then triangle, strict contiguity (`next`), within a window;
 *   2. `a followedByAny b.oneOrMore() followedBy c` within a window (branching partial matches);
 *   3. 100 patterns at once over one stream (each event goes through 100 NFAs); also the cost of one call that finds
 *      the state idle and the event starting nothing (the fast path most of those calls take). Run twice: as is, and
 *      compiled with `reportTimeouts: false`, as a caller that reads only matches (this benchmark) would; and each of
 *      those two ways twice: one state per (key, pattern) (`scenario3_100_patterns...`), and the same NFAs as one
 *      `NfaGroup` with one state per key (`scenario3_100_patterns_as_group...`). The two must find as many matches,
 *      or the benchmark fails.
 * Prints medians of several runs, one figure a line as `name: value unit`; state size is the JSON length of the
 * checkpoint snapshots per key, taken at half and at the end of the stream (flat when the window slides); idle
 * (key, pattern) pairs store nothing, as `NFA.isIdle` allows. The headline figure, printed last, is scenario 1 with
 * one key (the 10,000-key figure is printed just before it).
 *
 * Flink column (optional, `BENCH_FLINK=0` turns it off): when Java and Maven are present, scenarios 1 and 2 also run
 * through Apache Flink CEP 1.20.3 (bench/cep/flink.ts) on the first 300,000 events of the same streams, and the
 * ratio `cepheus / flink` of events per second is printed next to each.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { NFA, NfaGroup, Pattern } from '@cepheus/cep';
import type { NfaGroupState, NfaOptions, NfaState } from '@cepheus/cep';
import { flinkAvailable, runFlinkWorkloads, type FlinkBenchEvent, type FlinkBenchPattern } from './flink';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

interface Shape {
  shape: 'square' | 'triangle' | 'circle';
  colour: number;
}
interface Letter {
  k: 'a' | 'b' | 'c' | 'd';
  v: number;
}
interface Tx {
  type: number;
  amount: number;
}

/** Deterministic xorshift so that every run sees the same stream. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

interface Stream<E> {
  events: E[];
  keys: Int32Array;
}

function makeStream<E>(n: number, keyCount: number, make: (r: () => number) => E): Stream<E> {
  const r = rng(12345);
  const events: E[] = new Array<E>(n);
  const keys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    events[i] = make(r);
    keys[i] = Math.floor(r() * keyCount);
  }
  return { events, keys };
}

interface RunResult {
  seconds: number;
  matches: number;
  bytesHalf: number;
  bytesEnd: number;
}

/**
 * The clock of one run: the time spent processing, without the state-size samples taken (off the clock) at half and at
 * the end of the stream.
 */
class RunClock {
  private seconds = 0;
  private bytesHalf = 0;
  private bytesEnd = 0;
  private readonly half: number;
  private readonly samples: number;
  private readonly step: number;
  private t0 = process.hrtime.bigint();

  constructor(
    private readonly n: number,
    keyCount: number,
    private readonly stateBytes: () => number,
  ) {
    this.half = n >> 1;
    // With one key a single snapshot is noise (it depends on the last few events), so one key averages eight samples
    // taken over the eighth of the stream before each point; 10,000 keys average over the keys already.
    this.samples = keyCount === 1 ? 8 : 1;
    this.step = Math.max(1, Math.floor(n / 8 / this.samples));
  }

  /** Before event `i`: takes a state-size sample if one falls there. */
  before(i: number): void {
    const { step, samples } = this;
    const toHalf = this.half - i;
    const toEnd = this.n - 1 - i;
    const inHalf = toHalf >= 0 && toHalf < step * samples && toHalf % step === 0;
    const inEnd = toEnd >= 0 && toEnd < step * samples && toEnd % step === 0;
    if (!inHalf && !inEnd) return;
    this.seconds += Number(process.hrtime.bigint() - this.t0) / 1e9;
    const bytes = this.stateBytes() / samples;
    if (inHalf) this.bytesHalf += bytes;
    else this.bytesEnd += bytes;
    this.t0 = process.hrtime.bigint();
  }

  result(matches: number): RunResult {
    this.seconds += Number(process.hrtime.bigint() - this.t0) / 1e9;
    return { seconds: this.seconds, matches, bytesHalf: this.bytesHalf, bytesEnd: this.bytesEnd };
  }
}

/**
 * Runs a stream through `nfas`; timestamps are the event index (1 ms apart). Like a keyed state store would, it keeps
 * no state for an idle (key, pattern): such keys use a spare empty state, which is kept only if it becomes busy.
 */
function runOnce<E>(nfas: NFA<E>[], stream: Stream<E>, keyCount: number, measure: boolean): RunResult {
  // Key-major, as a keyed store holds them: one lookup finds every pattern's state of the key (rules' KeyState).
  const states: (NfaState<E> | undefined)[][] = Array.from({ length: keyCount }, () =>
    new Array<NfaState<E> | undefined>(nfas.length).fill(undefined),
  );
  const spare: NfaState<E>[] = nfas.map((nfa) => nfa.createState());
  const n = stream.events.length;
  let matches = 0;
  const clock = new RunClock(n, keyCount, () => stateBytes(nfas, states, keyCount));
  for (let i = 0; i < n; i++) {
    if (measure) clock.before(i);
    const e = stream.events[i];
    const keyStates = states[stream.keys[i]];
    for (let j = 0; j < nfas.length; j++) {
      const nfa = nfas[j];
      const stored = keyStates[j];
      const state = stored ?? spare[j];
      matches += nfa.process(state, e, i).matches.length;
      if (nfa.isIdle(state)) {
        if (stored !== undefined) {
          keyStates[j] = undefined;
          spare[j] = state;
        }
      } else if (stored === undefined) {
        keyStates[j] = state;
        spare[j] = nfa.createState();
      }
    }
  }
  return clock.result(matches);
}

/**
 * `runOnce` for the patterns as one `NfaGroup`: one state per key for all of them, kept only while some pattern of the
 * key is busy (`NfaGroup.isIdle`), as a keyed store would.
 */
function runGroupOnce<E>(group: NfaGroup<E>, stream: Stream<E>, keyCount: number, measure: boolean): RunResult {
  const states = new Array<NfaGroupState<E> | undefined>(keyCount).fill(undefined);
  let spare = group.createState();
  const n = stream.events.length;
  let matches = 0;
  const clock = new RunClock(n, keyCount, () => groupStateBytes(group, states, keyCount));
  for (let i = 0; i < n; i++) {
    if (measure) clock.before(i);
    const key = stream.keys[i];
    const stored = states[key];
    const state = stored ?? spare;
    matches += group.process(state, stream.events[i], i).matches.length;
    if (group.isIdle(state)) {
      if (stored !== undefined) {
        states[key] = undefined;
        spare = state;
      }
    } else if (stored === undefined) {
      states[key] = state;
      spare = group.createState();
    }
  }
  return clock.result(matches);
}

/** `stateBytes` for group states: the JSON length of each key's group snapshot. */
function groupStateBytes<E>(group: NfaGroup<E>, states: (NfaGroupState<E> | undefined)[], keyCount: number): number {
  let total = 0;
  for (const state of states) if (state !== undefined) total += JSON.stringify(group.snapshot(state)).length;
  return total / keyCount;
}

/** Mean JSON bytes of the checkpoint snapshots per key (all patterns of the key together; idle ones store nothing). */
function stateBytes<E>(nfas: NFA<E>[], states: (NfaState<E> | undefined)[][], keyCount: number): number {
  let total = 0;
  for (let k = 0; k < keyCount; k++) {
    for (let j = 0; j < nfas.length; j++) {
      const state = states[k][j];
      if (state !== undefined) total += JSON.stringify(nfas[j].snapshot(state)).length;
    }
  }
  return total / keyCount;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function fmt(x: number): string {
  return x >= 100 ? Math.round(x).toString() : x.toFixed(1);
}

interface Scenario<E> {
  name: string;
  nfas: (keyCount: number) => NFA<E>[];
  /** Run the NFAs as one `NfaGroup` rather than one state per (key, pattern). */
  group?: boolean;
  events: number;
  make: (r: () => number) => E;
}

function bench<E>(s: Scenario<E>, keyCount: number): { eps: number; matches: number } {
  const stream = makeStream(s.events, keyCount, s.make);
  const nfas = s.nfas(keyCount);
  const group = s.group === true ? NfaGroup.of(nfas) : undefined;
  const run = (events: Stream<E>, measure: boolean): RunResult =>
    group === undefined ? runOnce(nfas, events, keyCount, measure) : runGroupOnce(group, events, keyCount, measure);
  run(makeStream(Math.min(s.events, 50_000), keyCount, s.make), false); // warm-up
  const eps: number[] = [];
  const mps: number[] = [];
  let last: RunResult | undefined;
  // 100 patterns x 10,000 keys is slow enough that three runs give a stable median.
  const runs = nfas.length * keyCount > 100_000 ? Math.min(RUNS, 3) : RUNS;
  for (let r = 0; r < runs; r++) {
    gc();
    last = run(stream, r === 0);
    eps.push(s.events / last.seconds);
    mps.push(last.matches / last.seconds);
    if (r === 0) {
      const label = `${s.name}_${keyCount === 1 ? '1key' : `${keyCount / 1000}k_keys`}`;
      console.log(`${label}_state_bytes_per_key_at_half: ${fmt(last.bytesHalf)} bytes`);
      console.log(`${label}_state_bytes_per_key_at_end: ${fmt(last.bytesEnd)} bytes`);
      console.log(`${label}_matches: ${last.matches} matches`);
    }
  }
  const label = `${s.name}_${keyCount === 1 ? '1key' : `${keyCount / 1000}k_keys`}`;
  console.log(`${label}_events_per_s: ${fmt(median(eps))} events/s`);
  console.log(`${label}_matches_per_s: ${fmt(median(mps))} matches/s`);
  return { eps: median(eps), matches: (last as RunResult).matches };
}

/** Window in ms covering about `perKey` events of one key (events are 1 ms apart across all keys). */
const windowFor = (keyCount: number, perKey: number): number => perKey * keyCount;

const squareTriangle: Scenario<Shape> = {
  name: 'scenario1_square_next_triangle',
  events: 2_000_000,
  make: (r) => ({ shape: (['square', 'triangle', 'circle'] as const)[Math.floor(r() * 3)], colour: 0 }),
  nfas: (keyCount) => [
    NFA.compile(
      Pattern.begin<Shape>('square')
        .where((e) => e.shape === 'square')
        .next('triangle')
        .where((e) => e.shape === 'triangle')
        .within(windowFor(keyCount, 20)),
    ),
  ],
};

const branching: Scenario<Letter> = {
  name: 'scenario2_a_followedByAny_bplus_followedBy_c',
  events: 300_000,
  make: (r) => ({ k: (['a', 'b', 'c', 'd'] as const)[Math.floor(r() * 4)], v: 0 }),
  nfas: (keyCount) => [
    NFA.compile(
      Pattern.begin<Letter>('a')
        .where((e) => e.k === 'a')
        .followedByAny('b')
        .where((e) => e.k === 'b')
        .oneOrMore()
        .followedBy('c')
        .where((e) => e.k === 'c')
        .within(windowFor(keyCount, 12)),
    ),
  ],
};

const hundredPatterns = (keyCount: number, options: NfaOptions = {}): NFA<Tx>[] =>
  Array.from({ length: 100 }, (_, j) => {
    const first = j % 10;
    const second = Math.floor(j / 10);
    const limit = 500 + (j % 7) * 50;
    return NFA.compile(
      Pattern.begin<Tx>('first')
        .where((e) => e.type === first && e.amount > limit)
        .followedBy('second')
        .where((e) => e.type === second && e.amount > limit)
        .within(windowFor(keyCount, 10)),
      options,
    );
  });

const hundred: Scenario<Tx> = {
  name: 'scenario3_100_patterns',
  events: 200_000,
  make: (r) => ({ type: Math.floor(r() * 10), amount: Math.floor(r() * 1000) }),
  nfas: (keyCount) => hundredPatterns(keyCount),
};

/**
 * Scenario 3 for a caller that reads only matches and says so (`reportTimeouts: false`): most partial matches of
 * scenario 3 time out, and each would otherwise be gathered into a result object nobody reads. The same matches.
 */
const hundredWithoutTimeouts: Scenario<Tx> = {
  ...hundred,
  name: 'scenario3_100_patterns_without_timeouts',
  nfas: (keyCount) => hundredPatterns(keyCount, { reportTimeouts: false }),
};

/** Scenario 3's NFAs as one `NfaGroup`: one state per key for the 100 patterns. The same events and matches. */
const hundredAsGroup: Scenario<Tx> = { ...hundred, name: 'scenario3_100_patterns_as_group', group: true };

const hundredAsGroupWithoutTimeouts: Scenario<Tx> = {
  ...hundredWithoutTimeouts,
  name: 'scenario3_100_patterns_as_group_without_timeouts',
  group: true,
};

/** The group must find what the per-pattern NFAs find, or its figure measures something else. */
function assertSameMatches(what: string, perPattern: { matches: number }, group: { matches: number }): void {
  if (perPattern.matches !== group.matches) {
    throw new Error(`${what}: the group found ${group.matches} matches, the per-pattern NFAs ${perPattern.matches}`);
  }
}

/**
 * Cost of the idle fast path: the 100 patterns of scenario 3 over one key, with events whose amount fails every start
 * condition, so that every call finds an idle state and an event that starts nothing.
 */
function benchIdle(): void {
  const nfas = hundred.nfas(1);
  const states = nfas.map((nfa) => nfa.createState());
  const events: Tx[] = Array.from({ length: 1000 }, (_, i) => ({ type: i % 10, amount: 0 }));
  const rounds = 200;
  const ns: number[] = [];
  for (let r = 0; r <= RUNS; r++) {
    let outputs = 0;
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < rounds; k++) {
      for (let i = 0; i < events.length; i++) {
        for (let j = 0; j < nfas.length; j++) outputs += nfas[j].process(states[j], events[i], i).matches.length;
      }
    }
    const elapsed = Number(process.hrtime.bigint() - t0);
    if (outputs !== 0 || !states.every((state, j) => nfas[j].isIdle(state))) throw new Error('an idle run matched');
    if (r > 0) ns.push(elapsed / (rounds * events.length * nfas.length)); // run 0 warms up
  }
  console.log(`scenario3_idle_fast_path_per_event_and_pattern: ${median(ns).toFixed(1)} ns`);
}

/** The same workload for Flink: events by type letter, keys and timestamps as the bench streams them. */
function flinkEvents<E>(stream: Stream<E>, n: number, type: (e: E) => string): FlinkBenchEvent[] {
  const out: FlinkBenchEvent[] = [];
  for (let i = 0; i < Math.min(n, stream.events.length); i++) {
    out.push({ id: i, key: `k${stream.keys[i]}`, ts: i, t: type(stream.events[i]), v: 0 });
  }
  return out;
}

const step = (name: string, contiguity: string, type: string, quantifier = 'one'): Record<string, unknown> => ({
  kind: 'step',
  name,
  contiguity,
  where: { kind: 'type', types: [type] },
  quantifier: { kind: quantifier },
});

/** Scenarios 1 and 2 through Flink CEP, printed with the ratio to the figures measured above. */
function benchFlink(keys: readonly number[], measured: Map<string, number>): void {
  if (process.env.BENCH_FLINK === '0') return;
  if (!flinkAvailable()) {
    console.log('# flink column skipped: java, javac or mvn not found');
    return;
  }
  const n = 300_000;
  const workloads: { name: string; pattern: FlinkBenchPattern; events: FlinkBenchEvent[] }[] = [];
  for (const k of keys) {
    const label = k === 1 ? '1key' : `${k / 1000}k_keys`;
    const within = (perKey: number) => ({ ms: windowFor(k, perKey), type: 'FIRST_AND_LAST' });
    workloads.push({
      name: `${squareTriangle.name}_${label}`,
      pattern: {
        elements: [step('square', 'strict', 's'), step('triangle', 'strict', 't')],
        skip: { kind: 'noSkip' },
        within: within(20),
      },
      events: flinkEvents(makeStream(squareTriangle.events, k, squareTriangle.make), n, (e) => e.shape[0]),
    });
    workloads.push({
      name: `${branching.name}_${label}`,
      pattern: {
        elements: [step('a', 'strict', 'a'), step('b', 'any', 'b', 'oneOrMore'), step('c', 'relaxed', 'c')],
        skip: { kind: 'noSkip' },
        within: within(12),
      },
      events: flinkEvents(makeStream(branching.events, k, branching.make), n, (e) => e.k),
    });
  }
  const flink = runFlinkWorkloads(workloads);
  for (const w of workloads) {
    const f = flink.get(w.name);
    const ours = measured.get(w.name);
    if (f === undefined || ours === undefined) continue;
    console.log(`${w.name}_flink_events_per_s: ${fmt(f.eventsPerSecond)} events/s`);
    console.log(`${w.name}_ratio_to_flink: ${fmt(ours / f.eventsPerSecond)} x`);
  }
}

function main(): void {
  console.log(`# cep benchmark: node ${process.version}, medians of ${RUNS} runs, timestamps 1 ms apart`);
  const measured = new Map<string, number>();
  const label = (s: Scenario<unknown> | Scenario<Shape> | Scenario<Letter>, k: number): string =>
    `${s.name}_${k === 1 ? '1key' : `${k / 1000}k_keys`}`;
  const only = process.env.BENCH_ONLY;
  const keys = process.env.BENCH_KEYS === undefined ? [1, 10_000] : [Number(process.env.BENCH_KEYS)];
  if (only === undefined || only === '2')
    for (const k of keys) measured.set(label(branching, k), bench(branching, k).eps);
  if (only === undefined || only === '3') {
    benchIdle();
    for (const k of keys) {
      assertSameMatches(`scenario 3, ${k} keys`, bench(hundred, k), bench(hundredAsGroup, k));
      assertSameMatches(
        `scenario 3 without timeouts, ${k} keys`,
        bench(hundredWithoutTimeouts, k),
        bench(hundredAsGroupWithoutTimeouts, k),
      );
    }
  }
  if (only === '3') return;
  if (only === '2') {
    benchFlink(keys, measured);
    return;
  }
  let oneKey = { eps: NaN };
  for (const k of keys) {
    const r = bench(squareTriangle, k);
    measured.set(label(squareTriangle, k), r.eps);
    if (k === 1) oneKey = r;
  }
  benchFlink(keys, measured);
  // The headline is one key on one core, the setting of the 500,000 events/s target; 10,000 keys is printed above.
  console.log(`headline_scenario1_1key_events_per_s: ${fmt(oneKey.eps)} events/s`);
}

main();
