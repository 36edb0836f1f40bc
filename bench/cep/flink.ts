/**
 * The Flink column of `npm run bench:cep`: the same workload run through Apache Flink CEP 1.20.3 in the same
 * benchmark run (scripts/flink-cep.mjs, the runner of the differential test in `bench` mode), so that the ratio to
 * Flink is printed rather than remembered. Optional: when Java or Maven is missing the column says so and the
 * benchmark goes on.
 *
 * Each workload is one Flink job in a local mini cluster: a source of the events, watermarks at each event's
 * timestamp, keyBy, CEP in event time, a counting function. Its figure is events / the job's net run time, which
 * includes deploying the job (a few hundred ms), so it flatters Flink least on short streams; the workloads here are
 * a few hundred thousand events.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** One event as the runner reads it. */
export interface FlinkBenchEvent {
  id: number;
  key: string;
  ts: number;
  t: string;
  v: number;
}

/** A Flink pattern description (see test/cep/flink/description.ts for the full format). */
export type FlinkBenchPattern = Record<string, unknown>;

export interface FlinkBenchResult {
  eventsPerSecond: number;
  matches: number;
  millis: number;
}

/** The repository root: bench/cep under tsx, dist/bench/cep in the tsc build. */
function root(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'scripts', 'flink-cep.mjs'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('scripts/flink-cep.mjs not found above ' + __dirname);
    dir = up;
  }
  return dir;
}

/** Whether the Flink column can run: java, javac and mvn answer. */
export function flinkAvailable(): boolean {
  return [
    ['java', '-version'],
    ['javac', '-version'],
    ['mvn', '-v'],
  ].every(([tool, arg]) => spawnSync(tool, [arg], { stdio: 'ignore' }).status === 0);
}

/** Runs each workload as one Flink job (after a warm-up job) and returns events/s by workload name. */
export function runFlinkWorkloads(
  workloads: { name: string; pattern: FlinkBenchPattern; events: FlinkBenchEvent[] }[],
): Map<string, FlinkBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cepheus-bench-flink-'));
  try {
    const warmUp = workloads.map((w) => ({
      id: `warm-${w.name}`,
      pattern: w.pattern,
      events: w.events.slice(0, 20_000),
    }));
    const cases = [...warmUp, ...workloads.map((w) => ({ id: w.name, pattern: w.pattern, events: w.events }))];
    const input = join(dir, 'cases.json');
    const output = join(dir, 'results.json');
    writeFileSync(input, JSON.stringify(cases));
    const run = spawnSync(process.execPath, [join(root(), 'scripts', 'flink-cep.mjs'), 'bench', input, output], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (run.status !== 0) throw new Error(`the Flink CEP runner failed (exit ${run.status})`);
    const results = JSON.parse(readFileSync(output, 'utf8')) as {
      id: string;
      matches?: number;
      millis?: number;
      error?: string;
      refused?: string;
    }[];
    const out = new Map<string, FlinkBenchResult>();
    for (const w of workloads) {
      const r = results.find((x) => x.id === w.name);
      if (r?.millis === undefined || r.matches === undefined) {
        throw new Error(`Flink gave no figure for ${w.name}: ${JSON.stringify(r)}`);
      }
      out.set(w.name, { eventsPerSecond: w.events.length / (r.millis / 1000), matches: r.matches, millis: r.millis });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
