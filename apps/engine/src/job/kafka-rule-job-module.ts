import { Kafka, logLevel } from 'kafkajs';
import { buildRuleJob, eventSourcePositions, type RuleJobOptions, type RuleJobOutput } from '@cepheus/job';
import {
  KafkaCheckpointSink,
  KafkaPartitionSource,
  KafkaRulesSource,
  parseSplit,
  type CommittedPositions,
  type DeliveryGuarantee,
  type OutputRecord,
} from '@cepheus/kafka';
import type { CheckpointSources, JsonValue, StreamEnvironment } from '@cepheus/runtime';

/** What every thread of an engine process needs to build the rule job on Kafka: plain data. */
export interface KafkaRuleJobParams {
  brokers: string[];
  clientId: string;
  /** Names this engine process in rule statuses. */
  instanceId: string;
  topics: { events: string; rules: string; alerts: string; eventsDlq: string; rulesStatus: string };
  /** The consumer group whose offsets commit with the output (and where a fresh start begins). */
  consumerGroupId: string;
  /** The committer's transactional id: stable per engine process. */
  transactionalId: string;
  guarantee: DeliveryGuarantee;
  /** Read only these events partitions (`<topic>/<partition>`); all of the events topic when absent. */
  splits?: string[];
  options: Omit<RuleJobOptions, 'facts'>;
}

/**
 * The rule job on Kafka (`buildRuleJob` with Kafka's sources and sink): the engine's job graph, loaded in every worker
 * thread with the same parameters. Events partitions are the splits; the rules topic is the broadcast stream; alerts,
 * dead letters and rule statuses leave in one transaction per checkpoint with the events offsets it covers.
 */
export function kafkaRuleJob(params: JsonValue | undefined): StreamEnvironment {
  const p = params as unknown as KafkaRuleJobParams;
  const kafka = new Kafka({ clientId: p.clientId, brokers: p.brokers, logLevel: logLevel.NOTHING });
  const topics = p.topics;
  const toRecord = (out: RuleJobOutput): OutputRecord | undefined => {
    switch (out.type) {
      case 'alert':
        return {
          topic: topics.alerts,
          key: out.alert.key,
          value: JSON.stringify(out.alert.body),
          headers: { 'cepheus-alert-id': out.alert.id },
        };
      case 'dead-letter': {
        const d = out.deadLetter;
        return {
          topic: topics.eventsDlq,
          key: null,
          value: JSON.stringify({ reason: d.reason, message: d.message, source: d.origin, value: d.value }),
          headers: { 'cepheus-dlq-reason': d.reason },
        };
      }
      case 'rule-status':
        return {
          topic: topics.rulesStatus,
          key: out.report.ruleId,
          value: JSON.stringify({ ...out.report, instanceId: p.instanceId, at: new Date().toISOString() }),
        };
    }
  };
  const positionsOf = (sources: CheckpointSources): CommittedPositions => {
    const offsets = new Map<number, string>();
    for (const s of eventSourcePositions(sources)) {
      if (typeof s.offset !== 'string') continue;
      const { topic, partition } = parseSplit(s.split);
      if (topic === topics.events) offsets.set(partition, s.offset);
    }
    return { consumerGroupId: p.consumerGroupId, topic: topics.events, offsets };
  };
  return buildRuleJob(
    {
      events: new KafkaPartitionSource({
        kafka,
        name: 'events',
        topics: p.splits ? undefined : [topics.events],
        splits: p.splits,
        startFrom: 'committed',
        groupId: p.consumerGroupId,
      }),
      rules: new KafkaRulesSource({ kafka, topic: topics.rules, name: 'rules' }),
    },
    {
      output: new KafkaCheckpointSink<RuleJobOutput>({
        kafka,
        name: 'output',
        guarantee: p.guarantee,
        transactionalId: p.transactionalId,
        toRecord,
        positionsOf,
      }),
    },
    p.options,
  );
}
