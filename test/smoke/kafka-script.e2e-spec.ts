import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { uniqueName } from '../support/services';

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'kafka.mjs');
const CACHE = join(__dirname, '..', '..', '.cache', 'kafka');

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('smoke: scripts/kafka.mjs', () => {
  it('starts a broker that answers, and stop leaves no process and no port behind', async () => {
    const name = uniqueName('script');
    const env = { ...process.env, CEPHEUS_KAFKA_NAME: name };
    const run = (command: string) =>
      execFileSync(process.execPath, [SCRIPT, command], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const brokers = run('start').trim();
    expect(brokers).toMatch(/^127\.0\.0\.1:\d+$/);
    const state = JSON.parse(readFileSync(join(CACHE, `${name}.state.json`), 'utf8')) as {
      pid: number;
      port: number;
      controllerPort: number;
    };
    try {
      expect(alive(state.pid)).toBe(true);
      expect(await portAnswers(state.port)).toBe(true);
      expect(JSON.parse(run('status')).brokers).toBe(brokers);
    } finally {
      run('stop');
    }
    expect(alive(state.pid)).toBe(false);
    expect(await portAnswers(state.port)).toBe(false);
    expect(await portAnswers(state.controllerPort)).toBe(false);
    expect(() => run('status')).toThrow();
  }, 180_000);
});
