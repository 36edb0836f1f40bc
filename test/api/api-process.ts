import { CLI_MAIN, spawnApp, type AppProcess } from '../../bench/support/engine-process';
import { kafkaBrokers, redisUrl } from '../support/services';

export { CLI_MAIN };

/** Keys of the test API process, one per role. */
export const KEYS = { admin: 'test-admin-key', editor: 'test-editor-key', reader: 'test-reader-key' } as const;

export interface ApiProcess extends AppProcess {
  url: string;
}

/** Starts the built API (`npm run build` first) against the test broker and Redis; resolves once it listens. */
export async function startApi(env: Record<string, string>, timeoutMs = 60_000): Promise<ApiProcess> {
  const app = await spawnApp(
    'api',
    {
      KAFKA_BROKERS: kafkaBrokers().join(','),
      REDIS_URL: redisUrl(),
      CEPHEUS_API_PORT: '0',
      CEPHEUS_API_KEYS: `${KEYS.admin}:admin,${KEYS.editor}:editor,${KEYS.reader}:reader`,
      ...env,
    },
    timeoutMs,
  );
  return { ...app, url: `http://127.0.0.1:${app.port}` };
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
