import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import Redis from 'ioredis';
import { uniqueName } from './services';

const KAFKA_SCRIPT = join(__dirname, '..', '..', 'scripts', 'kafka.mjs');

/**
 * A Kafka broker of the test's own (scripts/kafka.mjs with CEPHEUS_KAFKA_NAME), so that a fault test can restart it
 * without disturbing the broker the other suites share.
 */
export class PrivateKafka {
  readonly name = uniqueName('faults');
  brokers = '';

  private run(command: 'start' | 'stop' | 'restart'): string {
    return execFileSync(process.execPath, [KAFKA_SCRIPT, command], {
      env: { ...process.env, CEPHEUS_KAFKA_NAME: this.name },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 180_000,
    }).trim();
  }

  start(): void {
    this.brokers = this.run('start');
  }

  /** SIGTERM, then the same ports and data: what a broker restart looks like to clients. */
  restart(): void {
    this.run('restart');
  }

  stop(): void {
    this.run('stop');
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as { port: number };
      server.close(() => resolve(address.port));
    });
  });
}

/** A redis-server of the test's own on a free port, keeping nothing on disk, so that it can be restarted. */
export class PrivateRedis {
  port = 0;
  private child: ChildProcess | undefined;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    this.child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not answer`);
      } finally {
        probe.disconnect();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  /** A crash and a restart: everything it held is gone. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}
