import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCepheus, type CaseOutcome, type FlinkCase } from './description';
import { DOCUMENTED_DIFFERENCES } from './documented-differences';

const ROOT = resolve(__dirname, '..', '..', '..');

/** One case whose outcomes differ in a way no documented difference explains. */
export interface UnexplainedDifference {
  case: FlinkCase;
  flink: CaseOutcome;
  cepheus: CaseOutcome;
}

export interface DifferentialSummary {
  run: number;
  equal: number;
  /** Cases whose difference a documented difference explains, by its name. */
  documented: Record<string, number>;
  unexplained: UnexplainedDifference[];
  /** Cases both engines refused (counted in `equal`). */
  refused: number;
  flinkSeconds: number;
}

/**
 * Runs the cases through Flink CEP (scripts/flink-cep.mjs: one JVM, one job per batch of cases) and returns its
 * outcomes by case id. Throws when Java, Maven or the runner fail: the caller must fail, never skip.
 */
export function runFlink(cases: readonly FlinkCase[]): Map<string, CaseOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'cepheus-flink-cep-'));
  try {
    const input = join(dir, 'cases.json');
    const output = join(dir, 'results.json');
    writeFileSync(input, JSON.stringify(cases));
    const run = spawnSync(process.execPath, [join(ROOT, 'scripts', 'flink-cep.mjs'), 'run', input, output], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (run.status !== 0) {
      throw new Error(`the Flink CEP runner failed (exit ${run.status}): ${run.stderr}${run.error?.message ?? ''}`);
    }
    const results = JSON.parse(readFileSync(output, 'utf8')) as ({ id: string } & CaseOutcome)[];
    const out = new Map<string, CaseOutcome>();
    for (const { id, ...outcome } of results) out.set(id, outcome);
    for (const c of cases) if (!out.has(c.id)) throw new Error(`the Flink CEP runner gave no result for case ${c.id}`);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Outputs as a sorted list, so that two multisets compare as arrays. */
const sorted = (outputs: readonly string[]): string[] => [...outputs].sort();

/** Whether two outcomes are the same: both refused, both failed, or the same outputs as multisets. */
export function sameOutcome(a: CaseOutcome, b: CaseOutcome): boolean {
  if ('refused' in a || 'refused' in b) return 'refused' in a && 'refused' in b;
  if ('error' in a || 'error' in b) return 'error' in a && 'error' in b;
  const x = sorted(a.outputs);
  const y = sorted(b.outputs);
  return x.length === y.length && x.every((o, i) => o === y[i]);
}

/** Runs every case through both engines and sorts each into equal, documented difference, or unexplained. */
export function runDifferential(cases: readonly FlinkCase[]): DifferentialSummary {
  const started = Date.now();
  const flink = runFlink(cases);
  const flinkSeconds = (Date.now() - started) / 1000;
  const summary: DifferentialSummary = {
    run: cases.length,
    equal: 0,
    documented: {},
    unexplained: [],
    refused: 0,
    flinkSeconds,
  };
  for (const c of cases) {
    const theirs = flink.get(c.id) as CaseOutcome;
    const ours = runCepheus(c);
    if (sameOutcome(theirs, ours)) {
      summary.equal++;
      if ('refused' in theirs) summary.refused++;
      continue;
    }
    const known = DOCUMENTED_DIFFERENCES.find((d) => d.explains(c, theirs, ours));
    if (known !== undefined) summary.documented[known.name] = (summary.documented[known.name] ?? 0) + 1;
    else summary.unexplained.push({ case: c, flink: theirs, cepheus: ours });
  }
  return summary;
}

/** A readable form of an unexplained difference, for failure messages. */
export function describeDifference(d: UnexplainedDifference): string {
  const show = (o: CaseOutcome): string =>
    'outputs' in o ? sorted(o.outputs).join(' | ') || '(nothing)' : JSON.stringify(o);
  return [
    `case ${d.case.id}`,
    `  pattern: ${JSON.stringify(d.case.pattern)}`,
    `  events:  ${d.case.events.map((e) => `${e.id}:${e.key}@${e.ts}:${e.t}${e.v}`).join(' ')}`,
    `  flink:   ${show(d.flink)}`,
    `  cepheus: ${show(d.cepheus)}`,
  ].join('\n');
}
