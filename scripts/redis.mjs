#!/usr/bin/env node
// Makes sure a Redis server answers at REDIS_URL (default redis://127.0.0.1:6379). When none answers on a loopback
// address, starts `redis-server` in the background (no persistence: tests and local runs keep nothing on disk).
//
//   node scripts/redis.mjs start    exit 0 once Redis answers PING; prints the URL
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';

const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const host = url.hostname || '127.0.0.1';
const port = Number(url.port || 6379);

function log(message) {
  process.stderr.write(`[redis] ${message}\n`);
}

/** Sends an inline PING and resolves true on +PONG (or -NOAUTH: a server is there, it wants a password). */
export function redisAnswers() {
  return new Promise((resolveAnswer) => {
    const socket = connect({ host, port });
    let reply = '';
    socket.setTimeout(1000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      socket.destroy();
      resolveAnswer(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
    socket.once('error', () => resolveAnswer(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolveAnswer(false);
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function start() {
  if (await redisAnswers()) {
    process.stdout.write(`${url.href}\n`);
    return;
  }
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
    log(`no Redis answers at ${url.href}, and it is not a loopback address this script may start a server on`);
    process.exit(1);
  }
  log(`no Redis answers at ${host}:${port}; starting redis-server`);
  const result = spawnSync(
    'redis-server',
    ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    { encoding: 'utf8' },
  );
  if (result.error) {
    log(`cannot run redis-server (${result.error.message}); install it (Debian: apt-get install redis-server)`);
    process.exit(1);
  }
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await redisAnswers()) {
      log(`started on ${host}:${port}`);
      process.stdout.write(`${url.href}\n`);
      return;
    }
    await sleep(100);
  }
  log(`redis-server did not answer within 10 s: ${result.stdout} ${result.stderr}`);
  process.exit(1);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const command = process.argv[2] ?? 'start';
  if (command !== 'start') {
    log(`usage: redis.mjs start (got ${command})`);
    process.exit(1);
  }
  start().catch((error) => {
    log(error.stack ?? String(error));
    process.exit(1);
  });
}
