// Public surface of @cepheus/kafka: Kafka adapters (kafkajs). Nothing outside this library imports its other files.
export { DEFAULT_TOPIC_NAMES, ensureTopics, topicConfigs } from './topics/topic-config';
export type { CepheusTopicNames, EnsureTopicsOptions } from './topics/topic-config';
export { DEAD_LETTER_VALUE_CHARS, deadLetterValue, EventDecoder } from './codec/event-decoder';
export type {
  DecodedEvent,
  DecodeFailureReason,
  DecodeResult,
  EventDecoderOptions,
  RawMessage,
} from './codec/event-decoder';
export { RulesTopicReader } from './source/rules-topic-reader';
export type { RuleRecord, RulesTopicReaderOptions } from './source/rules-topic-reader';
export { AlertTransactionWriter } from './sink/alert-transaction-writer';
export type {
  AlertTransactionWriterOptions,
  CommittedPositions,
  DeliveryGuarantee,
  OutputRecord,
} from './sink/alert-transaction-writer';
export { KafkaRuleJob } from './job/kafka-rule-job';
export type { JobLogger, KafkaRuleJobOptions, KafkaRuleJobStats } from './job/kafka-rule-job';
export type {
  BeginSnapshotOptions,
  EmittedAlert,
  PartitionProcessor,
  PartitionSnapshot,
  RuleStatusReport,
} from './job/partition-processor';
export { EventTimeGate } from './job/event-time-gate';
export type { EventTimeGateState } from './job/event-time-gate';
export { savepointJobId } from './job/kafka-rule-job';
// Connectors of the streaming runtime (@cepheus/runtime): partitions as splits, the rules topic as the broadcast
// source, and the two-phase-commit sink.
export { KafkaPartitionReader, KafkaPartitionSource } from './runtime/kafka-partition-source';
export type { KafkaPartitionSourceOptions, KafkaStartOffset } from './runtime/kafka-partition-source';
export { KafkaRulesReader, KafkaRulesSource } from './runtime/kafka-rules-source';
export type { KafkaRulesSourceOptions } from './runtime/kafka-rules-source';
export { KafkaSinkWriter, KafkaTransactionalSink } from './runtime/kafka-transactional-sink';
export type {
  KafkaSinkOffsets,
  KafkaSinkRecord,
  KafkaTransactionalSinkOptions,
  KafkaTransactionCommittable,
} from './runtime/kafka-transactional-sink';
export { parseSplit, splitName } from './runtime/partition-consumer';
export type { ResumeOutcome } from './runtime/kafkajs-internals';
export { KafkaCheckpointSink } from './runtime/kafka-checkpoint-sink';
export type { KafkaCheckpointSinkOptions } from './runtime/kafka-checkpoint-sink';
