// Public surface of @cepheus/job: the rule job's logic (rules in broadcast state, keyed evaluation per partition).
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
