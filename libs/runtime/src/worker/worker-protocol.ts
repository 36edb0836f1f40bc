import type { MessagePort } from 'node:worker_threads';
import type { DataFrame } from '../channel/data-frame';
import type { CheckpointKind } from '../checkpoint/checkpoint-storage';
import type { ExecutionTuning, InstancePlan } from '../job/executor';
import type { InstanceMetrics, TaskReport } from '../job/instance-task';
import type { JobModuleRef } from '../job/job-module';

/** What a worker is started with (`workerData`). */
export interface WorkerInit {
  ref: JobModuleRef;
  jobId: string;
  parallelism: number;
  attempt: number;
  tuning: ExecutionTuning;
  plan: InstancePlan;
  /**
   * Connection to instance j, for every j other than this one (undefined at this instance's own index); with the
   * `message-port` transport only.
   */
  ports: (MessagePort | undefined)[];
  /** With the `shared-ring` transport: the ring to instance j and the ring from instance j (undefined for itself). */
  ringsOut: (SharedArrayBuffer | undefined)[];
  ringsIn: (SharedArrayBuffer | undefined)[];
  /** Wake-up word of every instance (see `Doorbell`), indexed by instance. */
  doorbells: SharedArrayBuffer[];
}

/** Coordinator -> worker. */
export type ToWorker =
  | { t: 'start' }
  | { t: 'trigger'; id: number; kind: CheckpointKind }
  | { t: 'broadcast'; frame: DataFrame }
  | { t: 'complete'; id: number }
  | { t: 'metrics'; req: number }
  | { t: 'stop'; abort: boolean };

/** Worker -> coordinator. */
export type FromWorker =
  | { t: 'ready' }
  | { t: 'report'; report: TaskReport }
  | { t: 'completed'; id: number }
  | { t: 'metrics'; req: number; metrics: InstanceMetrics }
  | { t: 'error'; message: string; stack: string | undefined; code: string | undefined }
  | { t: 'stopped' };
