// Public surface of @cepheus/runtime. Nothing outside this library imports its other files.
export {
  CHECKPOINT_FORMAT_VERSION,
  assertCheckpointAddress,
  type CheckpointKind,
  type CheckpointManifest,
  type CheckpointStorage,
  type ChunkRef,
  type JsonValue,
} from './checkpoint/checkpoint-storage';
export { MemoryCheckpointStorage } from './checkpoint/memory-checkpoint-storage';
export { FileCheckpointStorage, type FileCheckpointStorageOptions } from './checkpoint/file-checkpoint-storage';
export { LocalRecoveryStorage } from './checkpoint/local-recovery-storage';
export {
  CheckpointCoordinator,
  type CheckpointCoordinatorOptions,
  type CheckpointStats,
} from './checkpoint/checkpoint-coordinator';

export type { Source, SourceReader, SourceReaderContext, SourceRecord, SplitState } from './connectors/source';
export type { CheckpointSources, Sink, SinkWriter, SinkWriterContext } from './connectors/sink';
export { TwoPhaseCommitSinkWriter } from './connectors/two-phase-commit-sink-writer';
export { CollectionSource, type CollectionSourceOptions, type TimedValue } from './connectors/collection-source';
export { GeneratorSource, type GeneratorSourceOptions } from './connectors/generator-source';

export {
  LATE_EVENTS,
  OutputTag,
  type BroadcastContext,
  type ChainContext,
  type Context,
  type KeyedContext,
  type Processor,
  type ProcessorFactory,
  type RuntimeContext,
  type TimerContext,
  type Timers,
} from './operator/processor';

export {
  DEFAULT_MAX_PARALLELISM,
  assignToKeyGroup,
  instanceForKeyGroup,
  keyGroupRangeForInstance,
  murmurHash,
  type KeyGroupRange,
} from './state/key-group';
export {
  broadcastState,
  listState,
  mapState,
  valueState,
  type BroadcastState,
  type BroadcastStateDescriptor,
  type KeyedStateDescriptor,
  type ListState,
  type ListStateDescriptor,
  type MapState,
  type MapStateDescriptor,
  type ReadOnlyBroadcastState,
  type StateCodec,
  type StateTtl,
  type ValueState,
  type ValueStateDescriptor,
} from './state/state-descriptor';
export { KeyedStateBackend, type KeyedStateSnapshot, type KeyGroupStateData } from './state/keyed-state-backend';
export { BroadcastStateStore, broadcastStateDigest, canonicalJson } from './state/broadcast-state-store';

export { ManualClock, systemClock, type Clock } from './time/clock';
export { TimerService, type TimeDomain } from './time/timer-service';
export { MAX_WATERMARK, MIN_WATERMARK, WatermarkTracker, type WatermarkStrategy } from './time/watermark-tracker';

export {
  BroadcastConnectedStream,
  BroadcastStream,
  DataStream,
  KeyedStream,
  ProcessedStream,
  StreamEnvironment,
  type JobDescription,
  type JobNodeKind,
  type LatenessOptions,
  type ProcessOptions,
  type StreamEnvironmentOptions,
} from './job/stream-environment';
export { JobRunner, type JobMetrics, type JobResult, type JobRunnerOptions, type RestoreMode } from './job/job-runner';
export type { JobModuleRef } from './job/job-module';
export type { InstanceMetrics } from './job/instance-task';
export { FileSource, type FileSourceOptions } from './connectors/file-source';
export { FileSink, type FileSinkOptions } from './connectors/file-sink';
export { StdoutSink, type StdoutSinkOptions } from './connectors/stdout-sink';
export type { RecordCodec } from './channel/frame-codec';
export type { FrameReader, FrameWriter } from './codec/frame-fields';
