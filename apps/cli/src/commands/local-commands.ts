import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { EmittedAlert } from '@cepheus/kafka';
import { runRuleJob, type RuleJobRun } from '@cepheus/job';
import { FRAUD_RULES, SHAPES_RULES, generateFraud, generateShapes, type ExampleStream } from '@cepheus/rules';
import { Command } from 'commander';
import { readRuleFile } from './rules-commands';

function printResult(result: RuleJobRun, out: NodeJS.WritableStream): void {
  for (const rule of result.rules) {
    if (rule.status !== 'applied')
      out.write(`rule ${rule.ruleId}: ${rule.status}${rule.reason ? `: ${rule.reason}` : ''}\n`);
  }
  for (const dead of result.deadLetters) {
    out.write(`dead letter, line ${dead.origin.offset}: ${dead.reason}: ${dead.message}\n`);
  }
}

/** Alerts in event-time order (ties by id): the same text for the same input, whatever the parallelism. */
function inEventTimeOrder(alerts: readonly EmittedAlert[]): EmittedAlert[] {
  const time = (a: EmittedAlert): number => Number(a.body.lastEventTime ?? 0);
  return [...alerts].sort((a, b) => time(a) - time(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Parallel instances: one per core, each in a worker thread when there are more than one. */
function parallelismOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--parallelism must be a whole number >= 1, got '${value}'`);
  return n;
}

/** `cepheus run`: rules over a JSON-lines file, in this process, with no services (the embedded mode). */
export function runCommand(): Command {
  return new Command('run')
    .description('run rules over a JSON-lines file of events locally (no Kafka, no Redis); alerts as JSON lines')
    .requiredOption('-r, --rules <files...>', 'rule files (a rule or an array of rules each)')
    .requiredOption('-e, --events <file>', 'events, one JSON object a line, with a "timestamp" field')
    .option('-o, --out <file>', 'write alerts here instead of stdout')
    .option('--out-of-orderness <ms>', 'event-time disorder tolerated before an event is late', (v) => Number(v), 0)
    .option(
      '-p, --parallelism <n>',
      'parallel instances, each in a worker thread when more than one (default: the number of cores)',
      parallelismOption,
    )
    .action(
      async (options: {
        rules: string[];
        events: string;
        out?: string;
        outOfOrderness: number;
        parallelism?: number;
      }) => {
        const rules = options.rules.flatMap(readRuleFile);
        const parallelism = options.parallelism ?? availableParallelism();
        const result = await runRuleJob(rules, new Map([['events', { path: options.events }]]), {
          outOfOrdernessMs: options.outOfOrderness,
          parallelism,
          threads: parallelism > 1,
        });
        const alerts = inEventTimeOrder(result.alerts)
          .map((a) => JSON.stringify(a.body))
          .join('\n');
        if (options.out) writeFileSync(options.out, alerts ? `${alerts}\n` : '');
        else if (alerts) process.stdout.write(`${alerts}\n`);
        printResult(result, process.stderr);
        const events = result.job.instances.reduce((n, i) => n + i.recordsRead, 0);
        process.stderr.write(
          `${events} events, ${result.alerts.length} alerts, ${result.deadLetters.length} dead letters` +
            ` (parallelism ${parallelism})\n`,
        );
        if (result.rules.some((r) => r.status === 'rejected')) process.exitCode = 1;
      },
    );
}

async function demoOne(
  title: string,
  rules: readonly unknown[],
  stream: ExampleStream,
  parallelism: number,
): Promise<boolean> {
  const out = process.stdout;
  out.write(`\n== ${title}: ${stream.events.length} events, ${rules.length} rules, parallelism ${parallelism}\n`);
  const lines = stream.events.map((e) => JSON.stringify({ ...e.event, timestamp: e.timestamp }));
  const result = await runRuleJob(rules, lines, { parallelism, threads: parallelism > 1 });
  for (const alert of inEventTimeOrder(result.alerts)) {
    out.write(`  [${String(alert.body.severity)}] ${String(alert.body.ruleId)}: ${String(alert.body.message)}\n`);
  }
  printResult(result, out);
  const got = new Set(
    result.alerts.map((a) => {
      const events = a.body.events as Array<{ id: string }>;
      return `${String(a.body.ruleId)} ${a.key} ${events[events.length - 1].id}`;
    }),
  );
  const want = stream.expected.map((e) => `${e.ruleId} ${e.key} ${e.lastEventId}`);
  const found = want.filter((w) => got.has(w)).length;
  const extra = [...got].filter((g) => !want.includes(g)).length;
  out.write(`  planted cases found: ${found} of ${want.length}; alerts on clean traffic: ${extra}\n`);
  return found === want.length && extra === 0;
}

/** `cepheus demo`: the shapes and fraud examples end to end in the embedded mode. */
export function demoCommand(): Command {
  return new Command('demo')
    .description('run the shapes and fraud example rules over their generated streams and show the alerts')
    .option('--seed <n>', 'generator seed', (v) => Number(v), 11)
    .option('--payments <n>', 'payments in the fraud stream', (v) => Number(v), 3000)
    .option('-p, --parallelism <n>', 'parallel instances (default: the number of cores)', parallelismOption)
    .action(async (options: { seed: number; payments: number; parallelism?: number }) => {
      process.stdout.write(
        'Cepheus demo (embedded mode: rules from rules/, generated events, no Kafka or Redis needed).\n' +
          'The same job graph as the engine on Kafka, on the streaming runtime, one worker thread per instance.\n' +
          'For the engine on Kafka, see README.md ("Run the engine on Kafka").\n',
      );
      const parallelism = options.parallelism ?? availableParallelism();
      const shapes = await demoOne('shapes', SHAPES_RULES, generateShapes({ seed: options.seed }), parallelism);
      const fraud = await demoOne(
        'fraud',
        FRAUD_RULES,
        generateFraud({ seed: options.seed, payments: options.payments }),
        parallelism,
      );
      if (!shapes || !fraud) {
        process.stdout.write('\nthe demo did not find exactly the planted cases\n');
        process.exitCode = 1;
      } else process.stdout.write('\nall planted cases found, no false alerts\n');
    });
}
