/**
 * `npm run test:flink`: the differential test of libs/cep against Apache Flink CEP 1.20.3 (scripts/flink-cep.mjs).
 * Generates CEPHEUS_FLINK_CASES cases (default 1,000) from CEPHEUS_FLINK_SEED (default: the date), runs them through
 * both engines, prints the summary and each unexplained difference, and exits 1 when there is one.
 */
import { sampleCases } from './arbitraries';
import { describeDifference, runDifferential } from './differential';

const count = Number(process.env.CEPHEUS_FLINK_CASES ?? 1000);
const seed = Number(process.env.CEPHEUS_FLINK_SEED ?? Math.floor(Date.now() / 86_400_000));

const started = Date.now();
const summary = runDifferential(sampleCases(seed, count));
for (const d of summary.unexplained.slice(0, Number(process.env.CEPHEUS_FLINK_SHOW ?? 20))) {
  process.stdout.write(`${describeDifference(d)}\n`);
}
const documented = Object.values(summary.documented).reduce((a, b) => a + b, 0);
process.stdout.write(`seed: ${seed}\n`);
process.stdout.write(`cases run: ${summary.run}\n`);
process.stdout.write(`equal: ${summary.equal} (both refused: ${summary.refused})\n`);
process.stdout.write(`documented differences: ${documented}\n`);
for (const [name, n] of Object.entries(summary.documented)) process.stdout.write(`  ${name}: ${n}\n`);
process.stdout.write(`unexplained differences: ${summary.unexplained.length}\n`);
process.stdout.write(
  `time: ${((Date.now() - started) / 1000).toFixed(1)} s (Flink ${summary.flinkSeconds.toFixed(1)} s)\n`,
);
process.exit(summary.unexplained.length === 0 ? 0 : 1);
