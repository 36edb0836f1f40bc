import { readFileSync, writeFileSync } from 'node:fs';
import { runRulesLocally, type LocalRunResult } from '@cepheus/job';
import { FRAUD_RULES, SHAPES_RULES, generateFraud, generateShapes, type ExampleStream } from '@cepheus/rules';
import { Command } from 'commander';
import { readRuleFile } from './rules-commands';

function printResult(result: LocalRunResult, out: NodeJS.WritableStream): void {
  for (const rule of result.rules) {
    if (rule.status !== 'applied')
      out.write(`rule ${rule.ruleId}: ${rule.status}${rule.reason ? `: ${rule.reason}` : ''}\n`);
  }
  for (const dead of result.deadLetters) out.write(`dead letter, line ${dead.line}: ${dead.reason}: ${dead.message}\n`);
}

/** `cepheus run`: rules over a JSON-lines file, in this process, with no services (the embedded mode). */
export function runCommand(): Command {
  return new Command('run')
    .description('run rules over a JSON-lines file of events locally (no Kafka, no Redis); alerts as JSON lines')
    .requiredOption('-r, --rules <files...>', 'rule files (a rule or an array of rules each)')
    .requiredOption('-e, --events <file>', 'events, one JSON object a line, with a "timestamp" field')
    .option('-o, --out <file>', 'write alerts here instead of stdout')
    .option('--out-of-orderness <ms>', 'event-time disorder tolerated before an event is late', (v) => Number(v), 0)
    .action((options: { rules: string[]; events: string; out?: string; outOfOrderness: number }) => {
      const rules = options.rules.flatMap(readRuleFile);
      const lines = readFileSync(options.events, 'utf8').split('\n');
      const result = runRulesLocally(rules, lines, { outOfOrdernessMs: options.outOfOrderness });
      const alerts = result.alerts.map((a) => JSON.stringify(a.body)).join('\n');
      if (options.out) writeFileSync(options.out, alerts ? `${alerts}\n` : '');
      else if (alerts) process.stdout.write(`${alerts}\n`);
      printResult(result, process.stderr);
      process.stderr.write(
        `${result.events} events, ${result.alerts.length} alerts, ${result.deadLetters.length} dead letters\n`,
      );
      if (result.rules.some((r) => r.status === 'rejected')) process.exitCode = 1;
    });
}

function demoOne(title: string, rules: readonly unknown[], stream: ExampleStream): boolean {
  const out = process.stdout;
  out.write(`\n== ${title}: ${stream.events.length} events, ${rules.length} rules\n`);
  const lines = stream.events.map((e) => JSON.stringify({ ...e.event, timestamp: e.timestamp }));
  const result = runRulesLocally(rules, lines, {
    endTime: stream.endTime,
    onAlert: (alert) =>
      out.write(`  [${String(alert.body.severity)}] ${String(alert.body.ruleId)}: ${String(alert.body.message)}\n`),
  });
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
    .action((options: { seed: number; payments: number }) => {
      process.stdout.write(
        'Cepheus demo (embedded mode: rules from rules/, generated events, no Kafka or Redis needed).\n' +
          'For the engine on Kafka, see README.md ("Run the engine on Kafka").\n',
      );
      const shapes = demoOne('shapes', SHAPES_RULES, generateShapes({ seed: options.seed }));
      const fraud = demoOne('fraud', FRAUD_RULES, generateFraud({ seed: options.seed, payments: options.payments }));
      if (!shapes || !fraud) {
        process.stdout.write('\nthe demo did not find exactly the planted cases\n');
        process.exitCode = 1;
      } else process.stdout.write('\nall planted cases found, no false alerts\n');
    });
}
