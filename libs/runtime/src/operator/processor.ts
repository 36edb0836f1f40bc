import type {
  BroadcastState,
  BroadcastStateDescriptor,
  ListState,
  ListStateDescriptor,
  MapState,
  MapStateDescriptor,
  ReadOnlyBroadcastState,
  ValueState,
  ValueStateDescriptor,
} from '../state/state-descriptor';
import type { TimeDomain } from '../time/timer-service';

/** Names a side output (Flink's `OutputTag`); the id is its identity in the job graph. */
export class OutputTag<T> {
  /** Phantom field carrying the element type. */
  declare readonly __type?: T;
  constructor(readonly id: string) {}
}

/** Late events (timestamp at or below the watermark, minus allowed lateness) go here when configured. */
export const LATE_EVENTS = new OutputTag<unknown>('late-events');

/**
 * What the stateless steps of an instance (map, filter, flatMap before `keyBy` and after the process step) see: the
 * instance's broadcast state, read-only. This is how an event is routed by the rules it meets before it is keyed (the
 * dynamic-key function of Flink's fraud-detection case study, chained into the source side of the same instance):
 * broadcast state is the same on every instance, and changes only between records. The steps of the broadcast
 * stream itself run before any instance and cannot read it.
 */
export interface ChainContext {
  readonly subtaskIndex: number;
  getBroadcastState<V>(descriptor: BroadcastStateDescriptor<V>): ReadOnlyBroadcastState<V>;
}

/** Where a processor runs, and its door to keyed state (handles act on the current key). */
export interface RuntimeContext {
  readonly jobId: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  /** 0 on the first run, +1 on every restart after a failure. */
  readonly attempt: number;
  getState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getMapState<V>(descriptor: MapStateDescriptor<V>): MapState<V>;
}

/** Timer registration for the current key (Flink's `TimerService`). */
export interface Timers {
  currentWatermark(): number;
  currentProcessingTime(): number;
  registerEventTimeTimer(timestamp: number): void;
  registerProcessingTimeTimer(timestamp: number): void;
  deleteEventTimeTimer(timestamp: number): void;
  deleteProcessingTimeTimer(timestamp: number): void;
}

/** What every callback can do: emit to the main output or a side output, read clocks. */
export interface Context<OUT> {
  /** Timestamp of the element or timer being processed. */
  readonly timestamp: number;
  emit(value: OUT, timestamp?: number): void;
  output<X>(tag: OutputTag<X>, value: X, timestamp?: number): void;
  currentWatermark(): number;
  currentProcessingTime(): number;
}

/** Context of `processElement` and `onTimer`: a current key, timers, broadcast state read-only. */
export interface KeyedContext<OUT> extends Context<OUT> {
  readonly key: string;
  readonly timers: Timers;
  getBroadcastState<V>(descriptor: BroadcastStateDescriptor<V>): ReadOnlyBroadcastState<V>;
}

/** Context of `onTimer`. */
export interface TimerContext<OUT> extends KeyedContext<OUT> {
  readonly timeDomain: TimeDomain;
}

/** Context of `processBroadcastElement`: broadcast state read-write, and a way to visit all keyed state. */
export interface BroadcastContext<OUT> extends Context<OUT> {
  getBroadcastState<V>(descriptor: BroadcastStateDescriptor<V>): BroadcastState<V>;
  /** Calls `fn` for every key of this instance that has the state (Flink's `applyToKeyedState`). */
  applyToKeyedState<T>(descriptor: ValueStateDescriptor<T>, fn: (key: string, state: ValueState<T>) => void): void;
  applyToKeyedState<T>(descriptor: ListStateDescriptor<T>, fn: (key: string, state: ListState<T>) => void): void;
  applyToKeyedState<V>(descriptor: MapStateDescriptor<V>, fn: (key: string, state: MapState<V>) => void): void;
}

/**
 * The operator contract (Flink's `KeyedBroadcastProcessFunction` / `KeyedProcessFunction`, Kafka Streams'
 * `Processor`): one instance per parallel instance, made by a {@link ProcessorFactory}. Callbacks are synchronous:
 * the runtime calls them in a tight loop, without a promise per event.
 */
export interface Processor<IN, OUT, B = never> {
  open?(context: RuntimeContext): void | Promise<void>;
  processElement(value: IN, context: KeyedContext<OUT>): void;
  processBroadcastElement?(value: B, context: BroadcastContext<OUT>): void;
  onTimer?(timestamp: number, context: TimerContext<OUT>): void;
  close?(): void | Promise<void>;
}

/** Makes a fresh processor per parallel instance (Kafka Streams' `ProcessorSupplier` rule). */
export type ProcessorFactory<IN, OUT, B = never> = (context: RuntimeContext) => Processor<IN, OUT, B>;
