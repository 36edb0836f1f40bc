import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

function engineMain(): string {
  // From dist/bench/support (compiled) or bench/support (ts-jest), the built engine is dist/apps/engine/src/main.js.
  const root = __dirname.includes(`${join('dist', 'bench')}`)
    ? join(__dirname, '..', '..', '..')
    : join(__dirname, '..', '..');
  return join(root, 'dist', 'apps', 'engine', 'src', 'main.js');
}

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

/** Starts the built engine with this environment and resolves once it prints its ready line. */
export async function spawnEngine(env: Record<string, string>, timeoutMs = 60_000): Promise<EngineProcess> {
  const main = engineMain();
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  const instanceId = env.CEPHEUS_INSTANCE_ID ?? 'engine-1';
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, CEPHEUS_HTTP_PORT: '0', CEPHEUS_LOG_LEVEL: 'warn', CEPHEUS_INSTANCE_ID: instanceId, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`engine not ready in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    child.stdout?.on('data', () => {
      const match = /CEPHEUS_ENGINE_READY port=(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
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
