import { readFileSync } from 'node:fs';
import { RulesTopicReader } from '@cepheus/kafka';
import { validateRule } from '@cepheus/rules';
import { Command } from 'commander';
import { addKafkaOptions, kafkaClient, type KafkaCommandOptions } from './kafka-options';

/** Reads a JSON file holding one rule or an array of rules. */
export function readRuleFile(path: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not JSON: ${(error as Error).message}`);
  }
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** Checks rule documents and prints every problem with its field; returns the valid ones. */
function validateFiles(paths: string[]): { valid: Array<Record<string, unknown>>; invalid: number } {
  const valid: Array<Record<string, unknown>> = [];
  let invalid = 0;
  for (const path of paths) {
    for (const [index, document] of readRuleFile(path).entries()) {
      const result = validateRule(document);
      const label = `${path}${index > 0 ? `[${index}]` : ''}`;
      if (result.ok) {
        valid.push(document as Record<string, unknown>);
        process.stdout.write(`ok       ${label}: ${result.rule.id} v${result.rule.version} (${result.rule.type})\n`);
      } else {
        invalid += 1;
        process.stdout.write(`invalid  ${label}\n`);
        for (const error of result.errors) process.stdout.write(`         ${error.field || '/'}: ${error.reason}\n`);
      }
    }
  }
  return { valid, invalid };
}

/** The latest record of every rule id on the rules topic (tombstoned ids left out). */
async function readLatestRules(options: KafkaCommandOptions): Promise<Map<string, Record<string, unknown>>> {
  const reader = new RulesTopicReader(kafkaClient(options), { topic: options.rulesTopic, clientName: 'cepheus-cli' });
  const latest = new Map<string, Record<string, unknown>>();
  await reader.start((record) => {
    if (record.value === null) latest.delete(record.ruleId);
    else {
      try {
        latest.set(record.ruleId, JSON.parse(record.value) as Record<string, unknown>);
      } catch {
        // A record that is not JSON was rejected by the engines too; list shows what they run.
      }
    }
  });
  await reader.stop();
  return latest;
}

async function publish(options: KafkaCommandOptions, records: Array<{ key: string; value: string | null }>) {
  const producer = kafkaClient(options).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic: options.rulesTopic, acks: -1, messages: records });
  } finally {
    await producer.disconnect();
  }
}

async function changeStatus(id: string, status: 'paused' | 'active', options: KafkaCommandOptions): Promise<void> {
  const current = (await readLatestRules(options)).get(id);
  if (!current) throw new Error(`no rule "${id}" on topic ${options.rulesTopic}`);
  const next = { ...current, version: Number(current.version) + 1, status };
  await publish(options, [{ key: id, value: JSON.stringify(next) }]);
  process.stdout.write(`${id}: v${next.version} ${status}\n`);
}

export function rulesCommand(): Command {
  const rules = new Command('rules').description('validate, publish and manage rules on the rules topic');

  rules
    .command('validate')
    .description('check rule files against the rule schema; prints each problem with its field')
    .argument('<files...>', 'JSON files, each a rule or an array of rules')
    .action((files: string[]) => {
      const { invalid } = validateFiles(files);
      if (invalid > 0) process.exitCode = 1;
    });

  addKafkaOptions(
    rules
      .command('push')
      .description('validate, then publish rules (key = rule id); engines apply them within seconds')
      .argument('<files...>', 'JSON files, each a rule or an array of rules'),
  ).action(async (files: string[], options: KafkaCommandOptions) => {
    const { valid, invalid } = validateFiles(files);
    if (invalid > 0) {
      process.stderr.write(`nothing published: ${invalid} invalid rule(s)\n`);
      process.exitCode = 1;
      return;
    }
    await publish(
      options,
      valid.map((rule) => ({ key: String(rule.id), value: JSON.stringify(rule) })),
    );
    process.stdout.write(`published ${valid.length} rule(s) to ${options.rulesTopic}\n`);
  });

  addKafkaOptions(rules.command('list').description('the latest version of every rule on the rules topic')).action(
    async (options: KafkaCommandOptions) => {
      const latest = await readLatestRules(options);
      for (const [id, rule] of [...latest].sort(([a], [b]) => a.localeCompare(b))) {
        process.stdout.write(`${id}\tv${String(rule.version)}\t${String(rule.status)}\t${String(rule.type)}\n`);
      }
      if (latest.size === 0) process.stdout.write('no rules\n');
    },
  );

  addKafkaOptions(rules.command('pause').description('publish the next version of a rule with status paused'))
    .argument('<id>')
    .action(async (id: string, options: KafkaCommandOptions) => changeStatus(id, 'paused', options));

  addKafkaOptions(rules.command('resume').description('publish the next version of a rule with status active'))
    .argument('<id>')
    .action(async (id: string, options: KafkaCommandOptions) => changeStatus(id, 'active', options));

  addKafkaOptions(rules.command('delete').description('publish a tombstone: engines drop the rule and its state'))
    .argument('<id>')
    .action(async (id: string, options: KafkaCommandOptions) => {
      await publish(options, [{ key: id, value: null }]);
      process.stdout.write(`${id}: deleted\n`);
    });

  return rules;
}
