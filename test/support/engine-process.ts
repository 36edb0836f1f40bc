import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { kafkaBrokers, redisUrl } from './services';

const ENGINE_MAIN = join(__dirname, '..', '..', 'dist', 'apps', 'engine', 'src', 'main.js');

export interface EngineProcess {
  child: ChildProcess;
  port: number;
  instanceId: string;
  output: () => string;
  /** SIGTERM and wait: the engine takes a final checkpoint. */
  stop(): Promise<void>;
  /** SIGKILL: no goodbye, no final checkpoint. */
  kill(): Promise<void>;
  instance(): Promise<Record<string, unknown>>;
}

/** Starts a real engine process (the built app) against the test broker and Redis; resolves once it is ready. */
export async function startEngine(env: Record<string, string>, timeoutMs = 60_000): Promise<EngineProcess> {
  if (!existsSync(ENGINE_MAIN)) throw new Error(`${ENGINE_MAIN} is missing: run \`npm run build\` first`);
  const instanceId = env.CEPHEUS_INSTANCE_ID ?? 'engine-1';
  const child = spawn(process.execPath, [ENGINE_MAIN], {
    env: {
      ...process.env,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      REDIS_URL: redisUrl(),
      CEPHEUS_HTTP_PORT: '0',
      CEPHEUS_LOG_LEVEL: 'warn',
      CEPHEUS_INSTANCE_ID: instanceId,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`engine not ready in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = () => {
      const match = /CEPHEUS_ENGINE_READY port=(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`engine exited with ${code} before it was ready:\n${output}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    port,
    instanceId,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
    async instance() {
      const response = await fetch(`http://127.0.0.1:${port}/instance`);
      return (await response.json()) as Record<string, unknown>;
    },
  };
}
