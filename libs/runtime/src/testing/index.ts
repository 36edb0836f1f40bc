// Test helpers of @cepheus/runtime, for this library's specs and for adapters (libs/redis runs the storage suite).
export { describeCheckpointStorageConformance } from './checkpoint-storage-conformance';
export type { CheckpointStorageConformanceOptions } from './checkpoint-storage-conformance';
export { CollectSink, type CollectTransaction } from './collect-sink';
export { expectedRulesDigest, fixtureEvents, fixtureRules, readKeyedState, sortedOutput } from './fixtures';
export { buildRulesJob, RULES, type FixtureEvent, type FixtureRule, type RulesJobParams } from './jobs/rules-job';
