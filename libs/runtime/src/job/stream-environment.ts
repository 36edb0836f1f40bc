import type { RecordCodec } from '../channel/frame-codec';
import type { JsonValue } from '../checkpoint/checkpoint-storage';
import type { Sink } from '../connectors/sink';
import type { Source } from '../connectors/source';
import type { ChainContext, OutputTag, ProcessorFactory } from '../operator/processor';
import { DEFAULT_MAX_PARALLELISM, checkParallelism } from '../state/key-group';
import type { BroadcastStateDescriptor } from '../state/state-descriptor';
import type { WatermarkStrategy } from '../time/watermark-tracker';

/** Kinds of nodes in a job graph. */
export type JobNodeKind =
  'source' | 'map' | 'filter' | 'flatMap' | 'keyBy' | 'broadcast' | 'process' | 'sideOutput' | 'sink';

/** A node of the job graph; `describe()` returns these without their functions. */
export interface JobNode {
  readonly id: number;
  readonly name: string;
  readonly kind: JobNodeKind;
  readonly parents: readonly number[];
  /** Implementation (functions, source, sink); absent from `describe()`. */
  readonly impl: NodeImpl;
}

/** Node implementations, by kind. */
export type NodeImpl =
  | { kind: 'source'; source: Source<unknown>; watermarks: WatermarkStrategy }
  | { kind: 'map'; fn: (value: unknown, context: ChainContext) => unknown }
  | { kind: 'filter'; fn: (value: unknown, context: ChainContext) => boolean }
  | { kind: 'flatMap'; fn: (value: unknown, context: ChainContext) => Iterable<unknown> }
  | { kind: 'keyBy'; fn: (value: unknown) => string | number; codec: RecordCodec<unknown> | undefined }
  | { kind: 'broadcast'; descriptors: readonly BroadcastStateDescriptor<unknown>[] }
  | { kind: 'process'; factory: ProcessorFactory<unknown, unknown, unknown>; lateness: LatenessOptions | undefined }
  | { kind: 'sideOutput'; tag: string }
  | { kind: 'sink'; sink: Sink<unknown> };

/** What to do with late events at the keyed operator. */
export interface LatenessOptions {
  /** Side output that receives late events instead of `processElement`. */
  tag: OutputTag<unknown>;
  /** An event is late when `timestamp + allowedLatenessMs <= watermark`. @defaultValue 0 */
  allowedLatenessMs?: number;
}

/** The job graph as plain data, for logs, the API and tests (Kafka Streams' `Topology.describe()`). */
export interface JobDescription {
  jobName: string;
  maxParallelism: number;
  nodes: { id: number; name: string; kind: JobNodeKind; parents: number[]; details: { [key: string]: JsonValue } }[];
}

/** Options of a {@link StreamEnvironment}. */
export interface StreamEnvironmentOptions {
  /** Used as the job id in checkpoint storage unless the runner is given another one. */
  jobName: string;
  /** Number of key groups, fixed for the life of the job's state. @defaultValue 128 */
  maxParallelism?: number;
}

/** Builds a job graph (Flink's `StreamExecutionEnvironment`; Kafka Streams' `Topology`). */
export class StreamEnvironment {
  readonly jobName: string;
  readonly maxParallelism: number;
  readonly #nodes: JobNode[] = [];

  constructor(options: StreamEnvironmentOptions) {
    this.jobName = options.jobName;
    this.maxParallelism = options.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
    checkParallelism(this.maxParallelism, 1);
  }

  /** @internal */
  addNode(name: string, parents: number[], impl: NodeImpl): number {
    const id = this.#nodes.length;
    if (this.#nodes.some((n) => n.name === name)) throw new TypeError(`duplicate node name '${name}'`);
    this.#nodes.push({ id, name, kind: impl.kind, parents, impl });
    return id;
  }

  /** @internal */
  get nodes(): readonly JobNode[] {
    return this.#nodes;
  }

  /** A stream read from a source; event time comes from the source records, watermarks per split. */
  fromSource<T>(source: Source<T>, options: { name?: string; watermarks?: WatermarkStrategy } = {}): DataStream<T> {
    const id = this.addNode(options.name ?? source.name, [], {
      kind: 'source',
      source: source as Source<unknown>,
      watermarks: options.watermarks ?? {},
    });
    return new DataStream<T>(this, id);
  }

  /** The graph as data. */
  describe(): JobDescription {
    return {
      jobName: this.jobName,
      maxParallelism: this.maxParallelism,
      nodes: this.#nodes.map((n) => ({
        id: n.id,
        name: n.name,
        kind: n.kind,
        parents: [...n.parents],
        details: describeImpl(n.impl),
      })),
    };
  }
}

function describeImpl(impl: NodeImpl): { [key: string]: JsonValue } {
  switch (impl.kind) {
    case 'source':
      return {
        source: impl.source.name,
        bounded: impl.source.bounded,
        outOfOrdernessMs: impl.watermarks.outOfOrdernessMs ?? 0,
        idleTimeoutMs: impl.watermarks.idleTimeoutMs ?? null,
      };
    case 'broadcast':
      return { states: impl.descriptors.map((d) => d.name) };
    case 'process':
      return { lateOutput: impl.lateness?.tag.id ?? null };
    case 'sideOutput':
      return { tag: impl.tag };
    case 'sink':
      return { sink: impl.sink.name };
    default:
      return {};
  }
}

let anonymous = 0;
const autoName = (kind: string): string => `${kind}-${++anonymous}`;

/** A stream of records of type T. */
export class DataStream<T> {
  constructor(
    /** @internal */ readonly env: StreamEnvironment,
    /** @internal */ readonly nodeId: number,
  ) {}

  /** A stateless step; `context` gives the instance's broadcast state, read-only (see {@link ChainContext}). */
  map<R>(fn: (value: T, context: ChainContext) => R, name = autoName('map')): DataStream<R> {
    return new DataStream<R>(
      this.env,
      this.env.addNode(name, [this.nodeId], { kind: 'map', fn: fn as (v: unknown, c: ChainContext) => unknown }),
    );
  }

  filter(fn: (value: T, context: ChainContext) => boolean, name = autoName('filter')): DataStream<T> {
    return new DataStream<T>(
      this.env,
      this.env.addNode(name, [this.nodeId], { kind: 'filter', fn: fn as (v: unknown, c: ChainContext) => boolean }),
    );
  }

  flatMap<R>(fn: (value: T, context: ChainContext) => Iterable<R>, name = autoName('flatMap')): DataStream<R> {
    return new DataStream<R>(
      this.env,
      this.env.addNode(name, [this.nodeId], {
        kind: 'flatMap',
        fn: fn as (v: unknown, c: ChainContext) => Iterable<unknown>,
      }),
    );
  }

  /**
   * Partitions by key: records of one key go to one instance, which owns the key's key group. `codec` gives the
   * binary form of the records between worker threads (JSON text without it).
   */
  keyBy(
    selector: (value: T) => string | number,
    options: string | { name?: string; codec?: RecordCodec<T> } = {},
  ): KeyedStream<T> {
    const o = typeof options === 'string' ? { name: options } : options;
    return new KeyedStream<T>(
      this.env,
      this.env.addNode(o.name ?? autoName('keyBy'), [this.nodeId], {
        kind: 'keyBy',
        fn: selector as (v: unknown) => string | number,
        codec: o.codec as RecordCodec<unknown> | undefined,
      }),
    );
  }

  /** Sends every record to every instance, into the broadcast states named by the descriptors. */
  broadcast(...descriptors: BroadcastStateDescriptor<unknown>[]): BroadcastStream<T> {
    return new BroadcastStream<T>(
      this.env,
      this.env.addNode(autoName('broadcast'), [this.nodeId], { kind: 'broadcast', descriptors }),
    );
  }

  /** Writes the stream to a sink; one writer per parallel instance. */
  sinkTo(sink: Sink<T>, name = `sink-${sink.name}`): void {
    this.env.addNode(name, [this.nodeId], { kind: 'sink', sink: sink as Sink<unknown> });
  }
}

/** A broadcast stream, to be connected to a keyed stream. */
export class BroadcastStream<T> {
  /** Phantom field carrying the element type. */
  declare readonly __type?: T;
  constructor(
    /** @internal */ readonly env: StreamEnvironment,
    /** @internal */ readonly nodeId: number,
  ) {}
}

/** Options of a keyed process step. */
export interface ProcessOptions {
  name?: string;
  /** Late events go to a side output instead of the processor. */
  lateness?: LatenessOptions;
}

/** A stream partitioned by key. */
export class KeyedStream<T> {
  constructor(
    /** @internal */ readonly env: StreamEnvironment,
    /** @internal */ readonly nodeId: number,
  ) {}

  /** Connects the broadcast stream (Flink's `KeyedStream.connect(BroadcastStream)`). */
  connect<B>(broadcast: BroadcastStream<B>): BroadcastConnectedStream<T, B> {
    return new BroadcastConnectedStream<T, B>(this.env, this.nodeId, broadcast.nodeId);
  }

  /** A keyed process function, with keyed state and timers. */
  process<OUT>(factory: ProcessorFactory<T, OUT>, options: ProcessOptions = {}): ProcessedStream<OUT> {
    const id = this.env.addNode(options.name ?? autoName('process'), [this.nodeId], {
      kind: 'process',
      factory: factory as ProcessorFactory<unknown, unknown, unknown>,
      lateness: options.lateness,
    });
    return new ProcessedStream<OUT>(this.env, id);
  }
}

/** A keyed stream connected to a broadcast stream. */
export class BroadcastConnectedStream<T, B> {
  constructor(
    private readonly env: StreamEnvironment,
    private readonly keyedId: number,
    private readonly broadcastId: number,
  ) {}

  /** A keyed broadcast process function. */
  process<OUT>(factory: ProcessorFactory<T, OUT, B>, options: ProcessOptions = {}): ProcessedStream<OUT> {
    const id = this.env.addNode(options.name ?? autoName('process'), [this.keyedId, this.broadcastId], {
      kind: 'process',
      factory: factory as ProcessorFactory<unknown, unknown, unknown>,
      lateness: options.lateness,
    });
    return new ProcessedStream<OUT>(this.env, id);
  }
}

/** The output of a process step: a data stream plus its side outputs. */
export class ProcessedStream<T> extends DataStream<T> {
  getSideOutput<X>(tag: OutputTag<X>): DataStream<X> {
    return new DataStream<X>(
      this.env,
      this.env.addNode(`${this.env.nodes[this.nodeId]!.name}.${tag.id}`, [this.nodeId], {
        kind: 'sideOutput',
        tag: tag.id,
      }),
    );
  }
}
