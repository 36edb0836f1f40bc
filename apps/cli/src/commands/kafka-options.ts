import { DEFAULT_TOPIC_NAMES } from '@cepheus/kafka';
import { Kafka, logLevel } from 'kafkajs';
import type { Command } from 'commander';

/** Options every Kafka-facing command shares. */
export interface KafkaCommandOptions {
  brokers: string;
  rulesTopic: string;
  alertsTopic: string;
  rulesStatusTopic: string;
}

export function addKafkaOptions(command: Command): Command {
  return command
    .option(
      '--brokers <list>',
      'Kafka bootstrap servers (env KAFKA_BROKERS)',
      process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    )
    .option(
      '--rules-topic <name>',
      'rules topic (env CEPHEUS_RULES_TOPIC)',
      process.env.CEPHEUS_RULES_TOPIC ?? DEFAULT_TOPIC_NAMES.rules,
    )
    .option(
      '--alerts-topic <name>',
      'alerts topic (env CEPHEUS_ALERTS_TOPIC)',
      process.env.CEPHEUS_ALERTS_TOPIC ?? DEFAULT_TOPIC_NAMES.alerts,
    )
    .option(
      '--rules-status-topic <name>',
      'rules-status topic (env CEPHEUS_RULES_STATUS_TOPIC)',
      process.env.CEPHEUS_RULES_STATUS_TOPIC ?? DEFAULT_TOPIC_NAMES.rulesStatus,
    );
}

export function kafkaClient(options: KafkaCommandOptions): Kafka {
  return new Kafka({
    clientId: 'cepheus-cli',
    brokers: options.brokers.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 3 },
  });
}
