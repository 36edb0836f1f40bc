import { randomUUID } from 'node:crypto';
import { Command } from 'commander';
import { addKafkaOptions, kafkaClient, type KafkaCommandOptions } from './kafka-options';

export function alertsCommand(): Command {
  const alerts = new Command('alerts').description('read alerts');
  addKafkaOptions(
    alerts
      .command('tail')
      .description('print committed alerts as they arrive (read_committed), one JSON document a line')
      .option('--from-beginning', 'start at the oldest alert instead of new ones', false)
      .option('--max <n>', 'stop after n alerts', (v) => Number(v)),
  ).action(async (options: KafkaCommandOptions & { fromBeginning: boolean; max?: number }) => {
    const consumer = kafkaClient(options).consumer({
      groupId: `cepheus-cli-tail-${randomUUID()}`,
      readUncommitted: false,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: options.alertsTopic, fromBeginning: options.fromBeginning });
    let seen = 0;
    const stop = async () => {
      await consumer.disconnect();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop());
    await consumer.run({
      eachMessage: async ({ message }) => {
        process.stdout.write(`${message.value?.toString() ?? ''}\n`);
        seen += 1;
        if (options.max !== undefined && seen >= options.max) void stop();
      },
    });
  });
  return alerts;
}
