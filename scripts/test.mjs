#!/usr/bin/env node
// The one test command (`npm test`; `.ci/run` calls it): lint and format, type check, docker-compose.yml check,
// build, then every jest project (unit in memory; integration against the real Kafka and Redis that the jest global
// set-up starts). Every step runs even when an earlier one fails, so one run shows everything that is wrong; the exit
// code is non-zero when any step failed.
import { spawnSync } from 'node:child_process';

const steps = [
  ['lint (eslint + prettier)', 'npm', ['run', '--silent', 'lint']],
  ['type check', 'npm', ['run', '--silent', 'typecheck']],
  ['docker-compose.yml', 'npm', ['run', '--silent', 'compose:check']],
  ['build', 'npm', ['run', '--silent', 'build']],
  ['jest (unit + integration)', 'npx', ['jest', '--ci', ...process.argv.slice(2)]],
];

const failed = [];
for (const [name, command, args] of steps) {
  const started = Date.now();
  process.stdout.write(`\n=== ${name}\n`);
  const result = spawnSync(command, args, { stdio: 'inherit' });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    failed.push(name);
    process.stdout.write(`=== ${name}: FAILED (${seconds} s)\n`);
  } else {
    process.stdout.write(`=== ${name}: ok (${seconds} s)\n`);
  }
}
if (failed.length > 0) {
  process.stdout.write(`\nFAILED: ${failed.join(', ')}\n`);
  process.exit(1);
}
process.stdout.write('\nall steps passed\n');
