#!/usr/bin/env node
// Runs Apache Flink CEP 1.20.3 on cases described as JSON, for the differential test of libs/cep
// (test/cep/flink/). The jars come from Maven Central through infra/flink-cep/pom.xml, the runner
// (infra/flink-cep/FlinkCepRunner.java) is compiled with javac against them; both are cached under .cache/flink-cep
// and redone only when the pom or the source changes.
//
//   node scripts/flink-cep.mjs prepare                      resolve and compile (once), print the cache directory
//   node scripts/flink-cep.mjs run <cases.json> <out.json>  run the cases in one JVM (one mini cluster)
//   node scripts/flink-cep.mjs bench <cases.json> <out.json> one job per case, counts and run times (bench/cep)
//
// Java 17 and Maven are required; without them this script exits with an error (it never pretends to have run).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = process.env.CEPHEUS_FLINK_CEP_CACHE ?? join(root, '.cache', 'flink-cep');
const libDir = join(cacheDir, 'lib');
const classesDir = join(cacheDir, 'classes');
const pom = join(root, 'infra', 'flink-cep', 'pom.xml');
const source = join(root, 'infra', 'flink-cep', 'FlinkCepRunner.java');
// A modest heap: the machines that run this are shared.
const heap = process.env.CEPHEUS_FLINK_CEP_HEAP ?? '1g';

/** Thrown (and printed by the CLI) when Java, Maven or the runner fail: callers must fail, never skip. */
export class FlinkCepError extends Error {}

function log(message) {
  process.stderr.write(`[flink-cep] ${message}\n`);
}

function resolveJars() {
  const marker = join(libDir, '.resolved');
  const pomText = readFileSync(pom, 'utf8');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === pomText) return;
  log('resolving Flink CEP from Maven Central (first run only) ...');
  rmSync(libDir, { recursive: true, force: true });
  mkdirSync(libDir, { recursive: true });
  const started = Date.now();
  const result = spawnSync(
    'mvn',
    [
      '-q',
      '-B',
      '-Dstyle.color=never',
      '-f',
      pom,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${libDir}`,
    ],
    { stdio: ['ignore', 2, 2] },
  );
  if (result.error) throw new FlinkCepError(`cannot run mvn (is Maven installed?): ${result.error.message}`);
  if (result.status !== 0) throw new FlinkCepError(`mvn exited with ${result.status} while resolving Flink CEP`);
  const jars = readdirSync(libDir).filter((f) => f.endsWith('.jar'));
  if (!jars.some((j) => j.startsWith('flink-cep-'))) throw new FlinkCepError('mvn finished but no flink-cep jar');
  writeFileSync(marker, pomText);
  log(`resolved ${jars.length} jars in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function compileRunner() {
  const marker = join(classesDir, '.compiled');
  const stamp = `${readFileSync(pom, 'utf8')}\n${readFileSync(source, 'utf8')}`;
  if (existsSync(marker) && readFileSync(marker, 'utf8') === stamp) return;
  rmSync(classesDir, { recursive: true, force: true });
  mkdirSync(classesDir, { recursive: true });
  const result = spawnSync('javac', ['-nowarn', '-XDsuppressNotes', '-d', classesDir, '-cp', `${libDir}/*`, source], {
    stdio: ['ignore', 2, 2],
  });
  if (result.error) throw new FlinkCepError(`cannot run javac (is a JDK 17 installed?): ${result.error.message}`);
  if (result.status !== 0) throw new FlinkCepError(`javac exited with ${result.status} on FlinkCepRunner.java`);
  writeFileSync(marker, stamp);
}

/** Resolves the jars and compiles the runner when needed; returns the cache directory. */
export function prepareFlinkCep() {
  resolveJars();
  compileRunner();
  return cacheDir;
}

/**
 * Runs the cases of `casesFile` (a JSON array) through Flink CEP and writes their results to `resultsFile`.
 * @param {string} casesFile
 * @param {string} resultsFile
 * @param {{ batch?: number, bench?: boolean }} [options] cases per Flink job (independent pipelines; default 16);
 *   `bench`: count outputs and report each job's run time instead of the outputs (bench/cep)
 */
export function runFlinkCep(casesFile, resultsFile, options = {}) {
  prepareFlinkCep();
  const result = spawnSync(
    'java',
    [
      `-Xmx${heap}`,
      `-Dcepheus.batch=${options.batch ?? 16}`,
      `-Dcepheus.mode=${options.bench === true ? 'bench' : 'compare'}`,
      '-cp',
      `${classesDir}:${libDir}/*`,
      'FlinkCepRunner',
      casesFile,
      resultsFile,
    ],
    { stdio: ['ignore', 2, 2] },
  );
  if (result.error) throw new FlinkCepError(`cannot run java (is Java 17 installed?): ${result.error.message}`);
  if (result.status !== 0) throw new FlinkCepError(`the Flink CEP runner exited with ${result.status}`);
  if (!existsSync(resultsFile)) throw new FlinkCepError(`the Flink CEP runner wrote no ${resultsFile}`);
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const [command, ...args] = process.argv.slice(2);
  try {
    if (command === 'prepare') process.stdout.write(`${prepareFlinkCep()}\n`);
    else if (command === 'run' && args.length === 2) runFlinkCep(args[0], args[1]);
    else if (command === 'bench' && args.length === 2) runFlinkCep(args[0], args[1], { batch: 1, bench: true });
    else {
      log('usage: node scripts/flink-cep.mjs prepare | run|bench <cases.json> <results.json>');
      process.exit(2);
    }
  } catch (error) {
    log(`ERROR: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
