import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where scripts/kafka.mjs records the broker it started. */
export const KAFKA_STATE_FILE = join(__dirname, '..', '..', '.cache', 'kafka', 'state.json');
const SCRIPTS = join(__dirname, '..', '..', 'scripts');

export interface KafkaState {
  pid: number;
  brokers: string;
  logFile: string;
}

export function readKafkaState(): KafkaState | undefined {
  if (!existsSync(KAFKA_STATE_FILE)) return undefined;
  return JSON.parse(readFileSync(KAFKA_STATE_FILE, 'utf8')) as KafkaState;
}

/** Runs one of the service scripts; its stderr goes to the terminal so that a failure shows its reason. */
export function runServiceScript(script: 'kafka.mjs' | 'redis.mjs', command: string): string {
  return execFileSync(process.execPath, [join(SCRIPTS, script), command], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 180_000,
  }).trim();
}
