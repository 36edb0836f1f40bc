import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { kafkaBrokers, redisUrl } from '../support/services';

const API_MAIN = join(__dirname, '..', '..', 'dist', 'apps', 'api', 'src', 'main.js');
export const CLI_MAIN = join(__dirname, '..', '..', 'dist', 'apps', 'cli', 'src', 'main.js');

/** Keys of the test API process, one per role. */
export const KEYS = { admin: 'test-admin-key', editor: 'test-editor-key', reader: 'test-reader-key' } as const;

export interface ApiProcess {
  child: ChildProcess;
  port: number;
  url: string;
  output: () => string;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
}

/** Starts the built API (`npm run build` first) against the test broker and Redis; resolves once it listens. */
export async function startApi(env: Record<string, string>, timeoutMs = 60_000): Promise<ApiProcess> {
  if (!existsSync(API_MAIN)) throw new Error(`${API_MAIN} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, [API_MAIN], {
    env: {
      ...process.env,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      REDIS_URL: redisUrl(),
      CEPHEUS_API_PORT: '0',
      CEPHEUS_LOG_LEVEL: 'warn',
      CEPHEUS_API_KEYS: `${KEYS.admin}:admin,${KEYS.editor}:editor,${KEYS.reader}:reader`,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`API not ready in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    child.stdout?.on('data', () => {
      const match = /CEPHEUS_API_READY port=(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`API exited with ${code} before it was ready:\n${output}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Polls until `check` returns a value (not undefined), or fails with the last error. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
