import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

function builtMain(app: 'engine' | 'api' | 'cli'): string {
  // From dist/bench/support (compiled) or bench/support (ts-jest), the built app is dist/apps/<app>/src/main.js.
  const root = __dirname.includes(join('dist', 'bench'))
    ? join(__dirname, '..', '..', '..')
    : join(__dirname, '..', '..');
  return join(root, 'dist', 'apps', app, 'src', 'main.js');
}

/** A running app process (engine or API) started from the build. */
export interface AppProcess {
  child: ChildProcess;
  port: number;
  output: () => string;
  /** SIGTERM and wait (the engine takes a final checkpoint). */
  stop(): Promise<void>;
  /** SIGKILL: no goodbye, no final checkpoint. */
  kill(): Promise<void>;
}

/**
 * Starts a built app with this environment and resolves once it prints its ready line
 * (`CEPHEUS_ENGINE_READY port=N`, `CEPHEUS_API_READY port=N`).
 */
export async function spawnApp(
  app: 'engine' | 'api',
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<AppProcess> {
  const main = builtMain(app);
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  const ready = new RegExp(`CEPHEUS_${app.toUpperCase()}_READY port=(\\d+)`);
  // BENCH_CHILD_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`) passes node flags to the app: how to profile it.
  const nodeArgs = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, main], {
    env: { ...process.env, CEPHEUS_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${app} not ready in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    child.stdout?.on('data', () => {
      const match = ready.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${app} exited with ${code} before it was ready:\n${output}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    port,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The built CLI, run as a process by tests. */
export const CLI_MAIN = builtMain('cli');

export interface EngineProcess extends AppProcess {
  instanceId: string;
  instance(): Promise<Record<string, unknown>>;
}

/** Starts the built engine with this environment and resolves once it prints its ready line. */
export async function spawnEngine(env: Record<string, string>, timeoutMs = 60_000): Promise<EngineProcess> {
  const instanceId = env.CEPHEUS_INSTANCE_ID ?? 'engine-1';
  const app = await spawnApp('engine', { CEPHEUS_HTTP_PORT: '0', CEPHEUS_INSTANCE_ID: instanceId, ...env }, timeoutMs);
  return {
    ...app,
    instanceId,
    async instance() {
      const response = await fetch(`http://127.0.0.1:${app.port}/instance`);
      return (await response.json()) as Record<string, unknown>;
    },
  };
}
