// Public surface of @cepheus/job: the rule job (one job graph for every mode) and its pieces.
export { buildRuleJob, RULES_STATE } from './rule-job';
export type { RuleJobOptions, RuleJobSinks, RuleJobSources } from './rule-job';
export { DEAD_LETTER_KEY } from './rule-job-records';
export type {
  DeadLetter,
  DeadLetterReason,
  EventOrigin,
  KeyedRecord,
  RoutedEvent,
  RuleJobOutput,
} from './rule-job-records';
export { DecodingSource } from './decoding-source';
export type { DecodedEventRecord, DecodedRecord, RawEvent } from './decoding-source';
export { LinesSource, MemorySink, RuleDocumentsSource } from './embedded-connectors';
export type { LinesInput } from './embedded-connectors';
export { runRuleJob } from './run-rule-job';
export type { RuleJobRun, RunRuleJobOptions } from './run-rule-job';
export { RuleBook } from './rule-book';
export type { RuleBookOptions } from './rule-book';
export { RulesPartitionProcessor } from './rules-partition-processor';
export { decodeRulesPartitionSnapshot } from './rules-partition-processor';
export type {
  DecodedRulesPartitionSnapshot,
  KeyEntry,
  RulesPartitionProcessorOptions,
  RulesPartitionState,
} from './rules-partition-processor';
export { WakeUpQueue } from './wake-up-queue';
export { runRulesLocally } from './local-rule-runner';
export type { LocalDeadLetter, LocalRunOptions, LocalRunResult } from './local-rule-runner';
export { eventSourcePositions } from './positions';
export { EMBEDDED_OUTPUT_NAME, embeddedRuleJob } from './embedded-job-module';
export type { EmbeddedRuleJobParams } from './embedded-job-module';
export { KeyedRecordCodec } from './keyed-record-codec';
