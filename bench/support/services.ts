import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';

function repoRoot(): string {
  return __dirname.includes(join('dist', 'bench')) ? join(__dirname, '..', '..', '..') : join(__dirname, '..', '..');
}

/** The broker a benchmark uses: KAFKA_BROKERS, else one started with scripts/kafka.mjs (and stopped by `release`). */
export function ensureKafka(): { brokers: string; release: () => void } {
  if (process.env.KAFKA_BROKERS) return { brokers: process.env.KAFKA_BROKERS, release: () => undefined };
  const script = join(repoRoot(), 'scripts', 'kafka.mjs');
  const status = (() => {
    try {
      execFileSync(process.execPath, [script, 'status'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  const brokers = execFileSync(process.execPath, [script, 'start'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return {
    brokers,
    release: () => {
      if (!status) execFileSync(process.execPath, [script, 'stop'], { stdio: 'inherit' });
    },
  };
}

/** Starts Redis when none answers (scripts/redis.mjs) and returns its URL. */
export function ensureRedis(): string {
  const script = join(repoRoot(), 'scripts', 'redis.mjs');
  return execFileSync(process.execPath, [script, 'start'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** One figure a line, as every Cepheus benchmark prints them. */
export function figure(name: string, value: number, unit: string): void {
  const shown = Math.abs(value) >= 100 ? Math.round(value) : Number(value.toFixed(3));
  process.stdout.write(`${name}: ${shown} ${unit}\n`);
}

/** Removes what an engine of job `jobId` left in Redis (checkpoints, savepoint answers): benchmarks leave nothing. */
export async function removeJobState(redisUrl: string, jobId: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  try {
    for (const pattern of [`cepheus:${jobId}.*`, `cepheus:${jobId}:*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        if (keys.length > 0) await redis.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}
