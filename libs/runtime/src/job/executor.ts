import type { DataFrame } from '../channel/data-frame';
import type { CheckpointKind } from '../checkpoint/checkpoint-storage';
import type { SplitState } from '../connectors/source';
import type { InstanceMetrics, InstanceRestore, TaskReport } from './instance-task';

/** What one instance is started with. */
export interface InstancePlan {
  index: number;
  splits: SplitState[];
  restore: InstanceRestore | undefined;
}

/** Runtime tuning shared by both executors. */
export interface ExecutionTuning {
  batchSize: number;
  frameSize: number;
  bufferTimeoutMs: number;
  /** Frames a receiver lets each sender have in flight (credit-based flow control over a MessagePort). */
  credits: number;
  /** How keyed frames travel between worker threads. */
  transport: ChannelTransport;
  /** Capacity of each shared ring (bytes in flight per pair of instances), with the `shared-ring` transport. */
  ringBytes: number;
}

/**
 * `shared-ring`: one SharedArrayBuffer ring per ordered pair of instances, binary frames, no message per frame.
 * `message-port`: frames encoded into transferred ArrayBuffers over a MessagePort per pair, with credit messages.
 */
export type ChannelTransport = 'shared-ring' | 'message-port';

/** Callbacks from the instances to the runner. */
export interface ExecutorHandlers {
  onReport(report: TaskReport): void;
  onError(error: unknown): void;
}

/** Runs the P instances of one attempt: in this thread, or one worker thread each. */
export interface Executor {
  start(plans: InstancePlan[]): Promise<void>;
  /** Barrier trigger for every source subtask. */
  trigger(checkpointId: number, kind: CheckpointKind): void;
  /** A frame of the broadcast stream, for every instance (channel index = parallelism). */
  broadcast(frame: DataFrame): void;
  notifyComplete(checkpointId: number): Promise<void>;
  metrics(): Promise<InstanceMetrics[]>;
  /** Stops every instance; `abort` discards open sink transactions. */
  stop(abort: boolean): Promise<void>;
  /** Test hook: kills one instance abruptly (a worker is terminated). */
  kill(index: number): void;
}
