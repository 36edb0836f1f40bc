#!/usr/bin/env node
// Runs a real single-node Apache Kafka broker (KRaft: broker and controller in one JVM) for tests, benchmarks and
// local runs. The jars come from Maven Central through infra/kafka/pom.xml and are cached under .cache/kafka/lib.
//
//   node scripts/kafka.mjs start    resolve jars (once), format storage, start, wait until it answers
//   node scripts/kafka.mjs stop     stop the broker this script started, remove its data, free its ports
//   node scripts/kafka.mjs status   print the state file of the running broker
//   node scripts/kafka.mjs restart  stop and start again on the same ports with the same data (fault tests)
//
// The broker's address is written to .cache/kafka/state.json ({ pid, brokers, dataDir, logFile }).
// CEPHEUS_KAFKA_NAME=<name> runs a second, independent broker (state file <name>.state.json), e.g. for tests that
// restart their broker without disturbing the shared one.
import { spawn, spawnSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = process.env.CEPHEUS_KAFKA_CACHE ?? join(root, '.cache', 'kafka');
const libDir = join(cacheDir, 'lib');
const brokerName = process.env.CEPHEUS_KAFKA_NAME ?? '';
const stateFile = join(cacheDir, brokerName ? `${brokerName}.state.json` : 'state.json');
const pom = join(root, 'infra', 'kafka', 'pom.xml');
const log4jConfig = join(root, 'infra', 'kafka', 'log4j2.properties');
const startTimeoutMs = Number(process.env.CEPHEUS_KAFKA_START_TIMEOUT_MS ?? 90_000);

function log(message) {
  process.stderr.write(`[kafka] ${message}\n`);
}

function fail(message) {
  log(`ERROR: ${message}`);
  process.exit(1);
}

/** Reads the state file of a broker started by this script, or undefined. */
export function readState() {
  if (!existsSync(stateFile)) return undefined;
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8'));
  } catch {
    return undefined;
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function portAnswers(port) {
  return new Promise((resolveAnswer) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolveAnswer(true);
    });
    socket.once('error', () => resolveAnswer(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolveAnswer(false);
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** True once the broker serves metadata and its controller is elected: a port that accepts is not enough. */
async function brokerAnswers(brokers) {
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({
    clientId: 'cepheus-kafka-script',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null && cluster.controller !== -1;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function resolveJars() {
  const marker = join(libDir, '.resolved');
  const pomText = readFileSync(pom, 'utf8');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === pomText) return;
  log('resolving the Kafka broker from Maven Central (first run only) ...');
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
    // Maven's output goes to stderr: stdout carries only the broker address, which callers read.
    { stdio: ['ignore', 2, 2] },
  );
  if (result.error) fail(`cannot run mvn (is Maven installed?): ${result.error.message}`);
  if (result.status !== 0) fail(`mvn exited with ${result.status} while resolving Kafka (see the output above)`);
  const jars = readdirSync(libDir).filter((f) => f.endsWith('.jar'));
  if (!jars.some((j) => j.startsWith('kafka_2.13-'))) fail('mvn finished but no kafka_2.13 jar was copied');
  writeFileSync(marker, pomText);
  log(`resolved ${jars.length} jars in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function java(args, options = {}) {
  return spawnSync('java', ['-cp', `${libDir}/*`, ...args], { encoding: 'utf8', ...options });
}

async function start() {
  const existing = readState();
  if (existing && isAlive(existing.pid) && (await portAnswers(existing.port))) {
    log(`already running: pid ${existing.pid}, brokers ${existing.brokers}`);
    process.stdout.write(`${existing.brokers}\n`);
    return;
  }
  if (existing) rmSync(stateFile, { force: true });
  resolveJars();

  mkdirSync(cacheDir, { recursive: true });
  const dataDir = mkdtempSync(join(process.env.TMPDIR ?? '/tmp', 'cepheus-kafka-'));
  const port = Number(process.env.CEPHEUS_KAFKA_PORT ?? (await freePort()));
  const controllerPort = await freePort();
  const logFile = join(cacheDir, brokerName ? `${brokerName}-broker.log` : 'broker.log');
  const propsFile = join(dataDir, 'server.properties');
  const properties = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.bootstrap.servers': `127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': join(dataDir, 'logs'),
    'num.partitions': '1',
    // One node: the internal topics that transactions and consumer groups need must fit on it.
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '4',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '4',
    'min.insync.replicas': '1',
    'default.replication.factor': '1',
    'group.initial.rebalance.delay.ms': '0',
    'auto.create.topics.enable': 'false',
    'log.cleaner.backoff.ms': '1000',
    'message.max.bytes': '10485760',
  };
  writeFileSync(
    propsFile,
    Object.entries(properties)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') + '\n',
  );

  const clusterId = java(['kafka.tools.StorageTool', 'random-uuid']).stdout.trim();
  if (!clusterId) fail('kafka-storage random-uuid printed nothing; is Java 17+ on the PATH?');
  const format = java(['kafka.tools.StorageTool', 'format', '--standalone', '-t', clusterId, '-c', propsFile]);
  if (format.status !== 0) fail(`formatting the KRaft storage failed:\n${format.stdout}\n${format.stderr}`);

  writeFileSync(logFile, '');
  const state = { port, controllerPort, brokers: `127.0.0.1:${port}`, dataDir, logFile, clusterId, propsFile };
  await launch(state);
}

/** Starts the JVM for a formatted data directory and waits until the broker answers. */
async function launch(base) {
  const { logFile, propsFile, dataDir } = base;
  const out = openSync(logFile, 'a');
  const child = spawn(
    'java',
    [
      '-Xms256m',
      '-Xmx1g',
      '-XX:+UseG1GC',
      '-XX:TieredStopAtLevel=1',
      `-Dlog4j2.configurationFile=${log4jConfig}`,
      `-Dkafka.logs.dir=${dataDir}`,
      '-cp',
      `${libDir}/*`,
      'kafka.Kafka',
      propsFile,
    ],
    { detached: true, stdio: ['ignore', out, out] },
  );
  child.unref();
  const state = { ...base, pid: child.pid };
  writeFileSync(stateFile, JSON.stringify(state, null, 2));

  const startedAt = Date.now();
  while (Date.now() - startedAt < startTimeoutMs) {
    if (!isAlive(child.pid)) {
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');
      rmSync(stateFile, { force: true });
      fail(`the broker exited during start-up; last lines of ${logFile}:\n${tail}`);
    }
    if ((await portAnswers(state.port)) && (await brokerAnswers(state.brokers))) {
      log(`started in ${((Date.now() - startedAt) / 1000).toFixed(1)} s: pid ${child.pid}, brokers ${state.brokers}`);
      process.stdout.write(`${state.brokers}\n`);
      return;
    }
    await sleep(250);
  }
  await stop();
  fail(`the broker did not answer within ${startTimeoutMs} ms; see ${logFile}`);
}

async function stop(keepData = false) {
  const state = readState();
  if (!state) {
    log('no broker started by this script is running');
    return undefined;
  }
  if (isAlive(state.pid)) {
    // SIGTERM lets the broker shut down cleanly (controlled shutdown, logs flushed).
    process.kill(-state.pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (isAlive(state.pid) && Date.now() < deadline) await sleep(200);
    if (isAlive(state.pid)) {
      log('the broker did not stop within 30 s; killing it');
      process.kill(-state.pid, 'SIGKILL');
      while (isAlive(state.pid)) await sleep(100);
    }
  }
  for (const port of [state.port, state.controllerPort]) {
    const deadline = Date.now() + 10_000;
    while ((await portAnswers(port)) && Date.now() < deadline) await sleep(200);
  }
  if (!keepData) rmSync(state.dataDir, { recursive: true, force: true });
  rmSync(stateFile, { force: true });
  log(`stopped (pid ${state.pid}); log kept at ${state.logFile}`);
  return state;
}

async function restart() {
  const state = await stop(true);
  if (!state) fail('nothing to restart');
  await launch(state);
}

async function status() {
  const state = readState();
  if (state && isAlive(state.pid) && (await portAnswers(state.port))) {
    process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
  } else {
    log('not running');
    process.exitCode = 1;
  }
}

const commands = { start, stop: () => stop(false), status, restart };
const command = process.argv[2];
if (import.meta.url === `file://${process.argv[1]}`) {
  if (!commands[command]) fail(`usage: kafka.mjs start|stop|status|restart (got ${command ?? 'nothing'})`);
  commands[command]().catch((error) => fail(error.stack ?? String(error)));
}
