// Public surface of @cepheus/replay: bounded replays of the events topic (or a file) through chosen rules, evaluated
// exactly like the live Kafka job, with their alerts in a topic of their own.
export { resolveKafkaRange } from './kafka-range';
export { readBoundedRanges } from './bounded-kafka-source';
export type { BoundedReadOptions } from './bounded-kafka-source';
export { ReplayEvaluator } from './replay-evaluator';
export type { ReplayEvaluatorOptions } from './replay-evaluator';
export { replayOutputTopic, runReplay } from './run-replay';
export type { ReplayOptions, ReplaySource } from './run-replay';
export type { PartitionRange, ReplayProgress, ReplayRange, ReplaySummary } from './replay-types';
