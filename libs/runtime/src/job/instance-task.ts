import { performance } from 'node:perf_hooks';
import { CepheusError } from '@cepheus/common';
import { KEYED_RECORD_WIDTH, type DataFrame } from '../channel/data-frame';
import type { CheckpointKind, JsonValue } from '../checkpoint/checkpoint-storage';
import type { SinkWriter } from '../connectors/sink';
import type { SourceReader, SourceRecord, SplitState } from '../connectors/source';
import type {
  BroadcastContext,
  ChainContext,
  OutputTag,
  Processor,
  RuntimeContext,
  TimerContext,
  Timers,
} from '../operator/processor';
import { BroadcastStateStore, type BroadcastStateData } from '../state/broadcast-state-store';
import { assignToKeyGroup, instanceForKeyGroup, keyGroupRangeForInstance } from '../state/key-group';
import { ByteWriter } from '../codec/byte-codec';
import { KeyedStateBackend, type KeyGroupStateData } from '../state/keyed-state-backend';
import type {
  BroadcastStateDescriptor,
  KeyedStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ValueStateDescriptor,
} from '../state/state-descriptor';
import type { Clock } from '../time/clock';
import { TimerService, type TimeDomain, type TimerData } from '../time/timer-service';
import { MAX_WATERMARK, MIN_WATERMARK, WatermarkTracker } from '../time/watermark-tracker';
import type { CompiledJob, Emit } from './compiled-job';

/** State handed to an instance when a job starts from a checkpoint or savepoint. */
export interface InstanceRestore {
  checkpointId: number;
  /** Source splits of this instance, with offsets. */
  splits: SplitState[];
  /** Keyed-state chunks that hold key groups of this instance's range (they may hold others too). */
  keyedChunks: Uint8Array[];
  broadcast: Uint8Array | undefined;
}

/** What an instance tells the coordinator. */
export type TaskReport =
  | { type: 'source-ack'; subtask: number; checkpointId: number; splits: SplitState[] }
  | {
      type: 'keyed-ack';
      subtask: number;
      checkpointId: number;
      chunks: { name: string; keyGroup: number; keyGroupEnd: number; data: Uint8Array }[];
      broadcast: Uint8Array | undefined;
      digest: string;
      committables: Record<string, JsonValue>;
      alignmentMs: number;
      syncMs: number;
      asyncMs: number;
    }
  | { type: 'finished'; subtask: number };

/** Hands frames to the instances that own the key groups. */
export interface Exchange {
  deliver(target: number, frame: DataFrame): void;
  /** True while some outgoing channel has no credit and a full backlog: the source must stop reading. */
  backlogged(): boolean;
}

/** Tuning of an instance. */
export interface InstanceTaskOptions {
  job: CompiledJob;
  jobId: string;
  index: number;
  parallelism: number;
  attempt: number;
  clock: Clock;
  /** Records read from the source per step. */
  batchSize: number;
  /** Records per frame before it is sent. */
  frameSize: number;
  /** A partly filled frame is sent after this long (Flink's buffer timeout). */
  bufferTimeoutMs: number;
  restore: InstanceRestore | undefined;
  /** Splits assigned to this instance when there is no restore. */
  splits: SplitState[];
  exchange: Exchange;
  report: (report: TaskReport) => void;
  onError: (error: unknown) => void;
}

/** Figures an instance exposes. */
export interface InstanceMetrics {
  subtask: number;
  recordsRead: number;
  recordsProcessed: number;
  /** Milliseconds the source spent waiting for credit (back-pressured), since start. */
  backPressuredMs: number;
  /** Share of wall time back-pressured since start, 0..1. */
  backPressureRatio: number;
  watermark: number;
  keys: number;
  timers: number;
  broadcastDigest: string;
}

interface Alignment {
  id: number;
  kind: CheckpointKind;
  startedAt: number;
  seen: boolean[];
  count: number;
}

/**
 * One parallel instance: the source subtask (reader, pre-keyBy steps, partitioner), the keyed (broadcast) operator
 * with its state, timers and barrier alignment, and the sink writers, chained in one thread. The same class runs in
 * the in-thread runner and inside a worker thread; only the {@link Exchange} differs.
 *
 * Checkpoints follow asynchronous barrier snapshotting (Carbone et al., "Lightweight Asynchronous Snapshots for
 * Distributed Dataflows", 2015): the source snapshots its offsets and sends a barrier on every channel; the keyed
 * operator blocks each input on which the barrier arrived until it arrived on all (alignment), snapshots, and goes on.
 */
export class InstanceTask {
  readonly #o: InstanceTaskOptions;
  readonly #job: CompiledJob;
  readonly #maxP: number;
  readonly #backend: KeyedStateBackend;
  readonly #timers = new TimerService();
  readonly #broadcast = new BroadcastStateStore();
  readonly #tracker: WatermarkTracker;
  readonly #out: unknown[][];
  readonly #outWm: number[];
  readonly #inputs: number;
  readonly #chWm: number[];
  readonly #chIdle: boolean[];
  readonly #chEnded: boolean[];
  readonly #blocked: boolean[];
  readonly #queued: [DataFrame, () => void][][];
  readonly #writers: { name: string; writer: SinkWriter<unknown> }[] = [];
  readonly #pendingBarriers: [number, CheckpointKind][] = [];
  #reader: SourceReader<unknown> | undefined;
  #processor: Processor<unknown, unknown, unknown> | undefined;
  #route: Emit = () => {};
  #main: Emit = () => {};
  #sides: ReadonlyMap<string, Emit> = new Map();
  #alignment: Alignment | undefined;
  #watermark = MIN_WATERMARK;
  #sourceWm = MIN_WATERMARK;
  #sourceIdle = false;
  #sourceDone = false;
  #endSent = false;
  /** Events wait until the broadcast stream has caught up (see `DataFrame.ready`). */
  #broadcastReady: boolean;
  #finishedReported = false;
  #lastFlush = 0;
  #failed = false;
  #startedAtPerf = 0;
  #bpSince: number | undefined;
  #bpMs = 0;
  #recordsRead = 0;
  #recordsProcessed = 0;
  #timestamp = 0;
  // One context object, mutated per callback: no allocation per event.
  readonly #ctx: TimerContext<unknown> & { key: string; timestamp: number; timeDomain: TimeDomain };
  readonly #bctx: BroadcastContext<unknown> & { timestamp: number };

  constructor(options: InstanceTaskOptions) {
    this.#o = options;
    this.#job = options.job;
    this.#maxP = options.job.maxParallelism;
    const P = options.parallelism;
    this.#backend = new KeyedStateBackend(this.#maxP, keyGroupRangeForInstance(this.#maxP, P, options.index), () =>
      options.clock.now(),
    );
    this.#tracker = new WatermarkTracker(options.job.eventSource.watermarks);
    this.#out = Array.from({ length: P }, () => []);
    this.#outWm = new Array<number>(P).fill(MIN_WATERMARK);
    this.#inputs = P + (options.job.broadcastSource ? 1 : 0);
    this.#chWm = new Array<number>(this.#inputs).fill(MIN_WATERMARK);
    this.#chIdle = new Array<boolean>(this.#inputs).fill(false);
    this.#chEnded = new Array<boolean>(this.#inputs).fill(false);
    this.#blocked = new Array<boolean>(this.#inputs).fill(false);
    this.#queued = Array.from({ length: this.#inputs }, () => []);
    this.#broadcastReady = options.job.broadcastSource === undefined;

    const timers: Timers = {
      currentWatermark: () => this.#watermark,
      currentProcessingTime: () => options.clock.now(),
      registerEventTimeTimer: (ts) =>
        this.#timers.register('event', this.#backend.currentKey, this.#backend.currentKeyGroup, ts),
      registerProcessingTimeTimer: (ts) =>
        this.#timers.register('processing', this.#backend.currentKey, this.#backend.currentKeyGroup, ts),
      deleteEventTimeTimer: (ts) => this.#timers.delete('event', this.#backend.currentKey, ts),
      deleteProcessingTimeTimer: (ts) => this.#timers.delete('processing', this.#backend.currentKey, ts),
    };
    const emit = (value: unknown, ts?: number): void => this.#main(value, ts ?? this.#timestamp);
    const output = <X>(tag: OutputTag<X>, value: X, ts?: number): void =>
      this.#sides.get(tag.id)?.(value, ts ?? this.#timestamp);
    this.#ctx = {
      key: '',
      timestamp: 0,
      timeDomain: 'event',
      timers,
      emit,
      output,
      currentWatermark: () => this.#watermark,
      currentProcessingTime: () => options.clock.now(),
      getBroadcastState: <V>(d: BroadcastStateDescriptor<V>) => this.#broadcast.get(d),
    };
    this.#bctx = {
      timestamp: 0,
      emit,
      output,
      currentWatermark: () => this.#watermark,
      currentProcessingTime: () => options.clock.now(),
      getBroadcastState: <V>(d: BroadcastStateDescriptor<V>) => this.#broadcast.get(d),
      applyToKeyedState: ((descriptor: KeyedStateDescriptor, fn: (key: string, state: unknown) => void) => {
        const handle = this.#handle(descriptor);
        for (const [key, kg] of this.#backend.keys(descriptor.name)) {
          this.#backend.setCurrentKey(key, kg);
          fn(key, handle);
        }
      }) as BroadcastContext<unknown>['applyToKeyedState'],
    };
  }

  #handle(descriptor: KeyedStateDescriptor): unknown {
    switch (descriptor.kind) {
      case 'value':
        return this.#backend.getValueState(descriptor);
      case 'list':
        return this.#backend.getListState(descriptor);
      case 'map':
        return this.#backend.getMapState(descriptor);
    }
  }

  get index(): number {
    return this.#o.index;
  }

  /** Opens the reader, the processor and the writers, and loads restored state. */
  async open(): Promise<void> {
    const o = this.#o;
    const job = this.#job;
    this.#startedAtPerf = performance.now();
    this.#lastFlush = performance.now();
    const restore = o.restore;
    if (restore) {
      try {
        const range = this.#backend.keyGroupRange;
        for (const bytes of restore.keyedChunks) {
          if (!isBinaryKeyedChunk(bytes)) {
            // A chunk written before key groups were binary: JSON text.
            const groups = JSON.parse(Buffer.from(bytes).toString('utf8')) as KeyedChunk;
            for (const [k, chunk] of Object.entries(groups)) {
              const kg = Number(k);
              if (kg < range.start || kg > range.end) continue;
              this.#backend.restoreKeyGroup(kg, chunk.states);
              if (chunk.timers) this.#timers.restoreKeyGroup(kg, chunk.timers);
            }
            continue;
          }
          for (const section of readKeyedChunk(bytes)) {
            if (section.keyGroup < range.start || section.keyGroup > range.end) continue;
            this.#backend.restoreKeyGroupBytes(section.keyGroup, section.state);
            if (section.timers) this.#timers.restoreKeyGroup(section.keyGroup, section.timers);
          }
        }
        if (restore.broadcast) {
          this.#broadcast.restore(JSON.parse(Buffer.from(restore.broadcast).toString('utf8')) as BroadcastStateData);
        }
      } catch (error) {
        throw new CepheusError('STATE_RESTORE_FAILED', `instance ${o.index}: cannot load checkpoint state`, {
          cause: error,
        });
      }
    }
    const runtime: RuntimeContext = {
      jobId: o.jobId,
      subtaskIndex: o.index,
      parallelism: o.parallelism,
      maxParallelism: this.#maxP,
      attempt: o.attempt,
      getState: <T>(d: ValueStateDescriptor<T>) => this.#backend.getValueState(d),
      getListState: <T>(d: ListStateDescriptor<T>) => this.#backend.getListState(d),
      getMapState: <V>(d: MapStateDescriptor<V>) => this.#backend.getMapState(d),
    };
    this.#processor = job.process.factory(runtime);
    await this.#processor.open?.(runtime);

    const writers = new Map<number, Emit>();
    for (const s of job.sinks) {
      const writer = await s.sink.createWriter({
        jobId: o.jobId,
        subtaskIndex: o.index,
        parallelism: o.parallelism,
        attempt: o.attempt,
        restoredCheckpointId: restore?.checkpointId,
      });
      this.#writers.push({ name: s.name, writer });
      writers.set(s.nodeId, (v, ts) => writer.write(v, ts));
    }
    const chainContext: ChainContext = {
      subtaskIndex: o.index,
      getBroadcastState: <V>(d: BroadcastStateDescriptor<V>) => this.#broadcast.get(d),
    };
    const { main, sideOutputs } = job.downstream(writers, chainContext);
    this.#main = main;
    this.#sides = sideOutputs;

    const splits = restore ? restore.splits : o.splits;
    this.#reader = await job.eventSource.source.createReader({
      jobId: o.jobId,
      subtaskIndex: o.index,
      parallelism: o.parallelism,
      attempt: o.attempt,
    });
    await this.#reader.addSplits(splits);
    for (const s of splits) this.#tracker.addSplit(s.split, o.clock.now());

    const selector = job.keySelector;
    const maxP = this.#maxP;
    const P = o.parallelism;
    const frameLimit = o.frameSize * KEYED_RECORD_WIDTH;
    // Bound once: a module binding may compile to a getter call per use (esbuild's CommonJS interop, as under tsx).
    const toKeyGroup = assignToKeyGroup;
    const toInstance = instanceForKeyGroup;
    this.#route = job.preChain((value, ts) => {
      const key = String(selector(value));
      const kg = toKeyGroup(key, maxP);
      const target = P === 1 ? 0 : toInstance(maxP, P, kg);
      const buf = this.#out[target]!;
      buf.push(key, kg, ts, value);
      if (buf.length >= frameLimit) this.#flush(target, undefined, false);
    }, chainContext);
  }

  /** Restarts the figures' clocks (back-pressure ratio) when processing really begins. */
  resetClocks(): void {
    this.#startedAtPerf = performance.now();
    this.#bpMs = 0;
    this.#bpSince = undefined;
  }

  /** Asks the source side to take its snapshot and emit a barrier at the next step boundary. */
  triggerBarrier(checkpointId: number, kind: CheckpointKind): void {
    this.#pendingBarriers.push([checkpointId, kind]);
  }

  /**
   * One step of the source side: pending barriers, due processing-time timers, one batch from the reader.
   * Returns the number of records read (0: nothing to do now), or a promise of it when the reader is asynchronous.
   */
  step(): number | Promise<number> {
    if (this.#failed) return 0;
    while (this.#pendingBarriers.length > 0) {
      const [id, kind] = this.#pendingBarriers.shift()!;
      this.#o.report({
        type: 'source-ack',
        subtask: this.#o.index,
        checkpointId: id,
        splits: this.#reader!.snapshotState(),
      });
      this.#flushAll([id, kind], false);
    }
    this.#fireProcessingTimers();
    if (!this.#broadcastReady) return 0;
    if (this.#sourceDone) {
      if (!this.#endSent) {
        this.#endSent = true;
        this.#flushAll(undefined, true);
      }
      return 0;
    }
    const nowMs = performance.now();
    if (nowMs - this.#lastFlush >= this.#o.bufferTimeoutMs) this.#flushAll(undefined, false);
    if (this.#o.exchange.backlogged()) {
      if (this.#bpSince === undefined) this.#bpSince = nowMs;
      return 0;
    }
    if (this.#bpSince !== undefined) {
      this.#bpMs += nowMs - this.#bpSince;
      this.#bpSince = undefined;
    }
    const polled = this.#reader!.poll(this.#o.batchSize);
    return Array.isArray(polled) ? this.#emitBatch(polled) : polled.then((r) => this.#emitBatch(r));
  }

  #emitBatch(records: SourceRecord<unknown>[]): number {
    if (this.#failed) return 0;
    const now = this.#o.clock.now();
    const tracker = this.#tracker;
    const route = this.#route;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      tracker.onRecord(r.split, r.timestamp, now);
      route(r.value, r.timestamp);
    }
    this.#recordsRead += records.length;
    const reader = this.#reader!;
    if (reader.isSplitFinished) {
      for (const s of reader.snapshotState()) if (reader.isSplitFinished(s.split)) tracker.finishSplit(s.split);
    }
    if (reader.isFinished()) {
      this.#sourceDone = true;
      this.#sourceWm = MAX_WATERMARK;
      this.#sourceIdle = false;
    } else {
      const wm = tracker.current(now);
      if (wm === undefined) {
        this.#sourceIdle = true;
      } else {
        this.#sourceIdle = false;
        if (wm > this.#sourceWm) this.#sourceWm = wm;
      }
    }
    if (this.#o.bufferTimeoutMs === 0) this.#flushAll(undefined, false);
    return records.length;
  }

  #flushAll(barrier: [number, CheckpointKind] | undefined, end: boolean): void {
    for (let t = 0; t < this.#out.length; t++) this.#flush(t, barrier, end);
    this.#lastFlush = performance.now();
  }

  #flush(target: number, barrier: [number, CheckpointKind] | undefined, end: boolean): void {
    const records = this.#out[target]!;
    const wmChanged = this.#sourceWm > this.#outWm[target]!;
    if (records.length === 0 && !wmChanged && !barrier && !end && !this.#sourceIdle) return;
    const frame: DataFrame = { r: records };
    if (wmChanged) {
      frame.w = this.#sourceWm;
      this.#outWm[target] = this.#sourceWm;
    } else if (this.#sourceIdle && records.length === 0 && this.#outWm[target] !== -Infinity) {
      // Announce idleness once; -Infinity marks it, so that the next real watermark is sent again.
      frame.idle = true;
      this.#outWm[target] = -Infinity;
    } else if (records.length === 0 && !barrier && !end) {
      return;
    }
    if (barrier) frame.b = barrier;
    if (end) frame.end = true;
    this.#out[target] = [];
    this.#o.exchange.deliver(target, frame);
  }

  /** A frame from source instance `channel` (or the broadcast channel, index = parallelism). */
  onFrame(channel: number, frame: DataFrame, release: () => void): void {
    if (this.#failed) return release();
    if (this.#blocked[channel]) {
      this.#queued[channel]!.push([frame, release]);
      return;
    }
    try {
      this.#processFrame(channel, frame);
    } catch (error) {
      this.#fail(error);
    }
    release();
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#o.onError(error);
  }

  #processFrame(channel: number, frame: DataFrame): void {
    const r = frame.r;
    const processor = this.#processor!;
    const ctx = this.#ctx;
    if (channel === this.#o.parallelism) {
      const bctx = this.#bctx;
      for (let i = 0; i < r.length; i += 2) {
        this.#timestamp = bctx.timestamp = r[i] as number;
        processor.processBroadcastElement?.(r[i + 1], bctx);
      }
      if (frame.ready || frame.end) this.#broadcastReady = true;
    } else if (r.length > 0) {
      const backend = this.#backend;
      const lateness = this.#job.process.lateness;
      const lateEmit = lateness ? this.#sides.get(lateness.tag.id) : undefined;
      const allowed = lateness?.allowedLatenessMs ?? 0;
      ctx.timeDomain = 'event';
      for (let i = 0; i < r.length; i += KEYED_RECORD_WIDTH) {
        const key = r[i] as string;
        const ts = r[i + 2] as number;
        if (lateness && ts + allowed <= this.#watermark) {
          lateEmit?.(r[i + 3], ts);
          continue;
        }
        backend.setCurrentKey(key, r[i + 1] as number);
        ctx.key = key;
        ctx.timestamp = ts;
        this.#timestamp = ts;
        processor.processElement(r[i + 3], ctx);
      }
      this.#recordsProcessed += r.length / KEYED_RECORD_WIDTH;
      this.#chIdle[channel] = false;
    }
    if (frame.idle) this.#chIdle[channel] = true;
    if (frame.w !== undefined) {
      this.#chIdle[channel] = false;
      this.#chWm[channel] = frame.w;
    }
    if (frame.end) {
      this.#chEnded[channel] = true;
      this.#chWm[channel] = MAX_WATERMARK;
    }
    if (frame.w !== undefined || frame.end || frame.idle) this.#advanceWatermark();
    if (frame.end) this.#checkFinished();
    if (frame.b) this.#onBarrier(channel, frame.b[0], frame.b[1]);
  }

  #advanceWatermark(): void {
    let min = MAX_WATERMARK;
    let active = 0;
    for (let c = 0; c < this.#o.parallelism; c++) {
      if (this.#chIdle[c] && !this.#chEnded[c]) continue;
      active++;
      if (this.#chWm[c]! < min) min = this.#chWm[c]!;
    }
    if (active === 0 || min <= this.#watermark) return;
    this.#watermark = min;
    const processor = this.#processor!;
    const ctx = this.#ctx;
    for (let t = this.#timers.pollDue('event', min); t; t = this.#timers.pollDue('event', min)) {
      this.#backend.setCurrentKey(t.key, t.keyGroup);
      ctx.key = t.key;
      ctx.timestamp = t.timestamp;
      ctx.timeDomain = 'event';
      this.#timestamp = t.timestamp;
      processor.onTimer?.(t.timestamp, ctx);
    }
  }

  #fireProcessingTimers(): void {
    const now = this.#o.clock.now();
    const processor = this.#processor!;
    const ctx = this.#ctx;
    try {
      for (let t = this.#timers.pollDue('processing', now); t; t = this.#timers.pollDue('processing', now)) {
        this.#backend.setCurrentKey(t.key, t.keyGroup);
        ctx.key = t.key;
        ctx.timestamp = t.timestamp;
        ctx.timeDomain = 'processing';
        this.#timestamp = t.timestamp;
        processor.onTimer?.(t.timestamp, ctx);
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  #checkFinished(): void {
    if (this.#finishedReported) return;
    if (this.#chEnded.every(Boolean)) {
      this.#finishedReported = true;
      this.#o.report({ type: 'finished', subtask: this.#o.index });
    }
  }

  #onBarrier(channel: number, id: number, kind: CheckpointKind): void {
    let a = this.#alignment;
    if (a && id < a.id) return; // a barrier of an abandoned checkpoint
    if (a && id > a.id) {
      // The older checkpoint was given up by the coordinator (Flink: CheckpointBarrierHandler aborts it).
      this.#unblock();
      a = undefined;
    }
    if (!a) {
      a = this.#alignment = {
        id,
        kind,
        startedAt: performance.now(),
        seen: new Array<boolean>(this.#inputs).fill(false),
        count: 0,
      };
    }
    if (!a.seen[channel]) {
      a.seen[channel] = true;
      a.count++;
      this.#blocked[channel] = true;
    }
    if (a.count === this.#inputs) {
      this.#alignment = undefined;
      this.#snapshot(a);
      this.#unblock();
    }
  }

  /** Releases blocked inputs and processes what they queued, in order; a queued barrier may block them again. */
  #unblock(): void {
    this.#blocked.fill(false);
    this.#alignment = undefined;
    let progress = true;
    while (progress) {
      progress = false;
      for (let c = 0; c < this.#inputs; c++) {
        const q = this.#queued[c]!;
        while (q.length > 0 && !this.#blocked[c]) {
          const [frame, release] = q.shift()!;
          this.#processFrame(c, frame);
          release();
          progress = true;
        }
      }
    }
  }

  /** The synchronous part of the snapshot (copies), then the asynchronous part (serialize, acknowledge). */
  #snapshot(a: Alignment): void {
    const t0 = performance.now();
    const alignmentMs = t0 - a.startedAt;
    const keyed = this.#backend.snapshot();
    const timers = this.#timers.snapshot();
    const broadcast = this.#o.index === 0 && this.#job.broadcastSource ? this.#broadcast.snapshot() : undefined;
    const digest = this.#broadcast.digest();
    const commits = this.#writers.map(({ name, writer }) => [name, writer.prepareCommit(a.id)] as const);
    const syncMs = performance.now() - t0;
    void this.#finishSnapshot(a.id, keyed, timers, broadcast, digest, commits, alignmentMs, syncMs);
  }

  async #finishSnapshot(
    checkpointId: number,
    keyed: ReturnType<KeyedStateBackend['snapshot']>,
    timers: Map<number, TimerData>,
    broadcast: BroadcastStateData | undefined,
    digest: string,
    commits: (readonly [string, JsonValue | undefined | Promise<JsonValue | undefined>])[],
    alignmentMs: number,
    syncMs: number,
  ): Promise<void> {
    const t0 = performance.now();
    try {
      const groups = [...new Set([...keyed.keyGroups, ...timers.keys()])].sort((x, y) => x - y);
      const chunks: { name: string; keyGroup: number; keyGroupEnd: number; data: Uint8Array }[] = [];
      // Consecutive key groups share a chunk of up to CHUNK_BYTES: few, large blobs are what file systems (one fsync
      // each) and Redis (PERF-FACTS: MB-sized values move hundreds of MB/s) handle well.
      // Key groups are written one after the other into one buffer, reused from chunk to chunk: one copy per chunk
      // when it is sealed, instead of a buffer per key group and a concatenation.
      const w = new ByteWriter(CHUNK_BYTES + CHUNK_BYTES / 4);
      w.raw(KEYED_CHUNK_MAGIC);
      let first = -1;
      let last = -1;
      const seal = (): void => {
        if (first < 0) return;
        const data = new Uint8Array(w.buf.slice(0, w.pos));
        chunks.push({ name: `kg-${first}-${last}`, keyGroup: first, keyGroupEnd: last, data });
        w.pos = 0;
        w.raw(KEYED_CHUNK_MAGIC);
        first = -1;
      };
      let slice = performance.now();
      for (const kg of groups) {
        if (first < 0) first = kg;
        last = kg;
        const header = w.pos;
        w.u32(kg);
        w.u32(0);
        w.u32(0);
        keyed.writeKeyGroup(kg, w);
        const stateLength = w.pos - header - 12;
        const t = timers.get(kg);
        if (t) w.raw(Buffer.from(JSON.stringify(t)));
        w.view.setUint32(header + 4, stateLength, true);
        w.view.setUint32(header + 8, w.pos - header - 12 - stateLength, true);
        if (w.pos >= CHUNK_BYTES) seal();
        // Serialize in slices of a few milliseconds so that processing goes on between them.
        if (performance.now() - slice > 4) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          slice = performance.now();
          if (this.#failed) return;
        }
      }
      seal();
      keyed.release();
      const committables: Record<string, JsonValue> = {};
      for (const [name, c] of commits) {
        const value = await c;
        if (value !== undefined) committables[name] = value;
      }
      this.#o.report({
        type: 'keyed-ack',
        subtask: this.#o.index,
        checkpointId,
        chunks,
        broadcast: broadcast ? Buffer.from(JSON.stringify(broadcast)) : undefined,
        digest,
        committables,
        alignmentMs,
        syncMs,
        asyncMs: performance.now() - t0,
      });
    } catch (error) {
      keyed.release();
      this.#fail(
        new CepheusError('CHECKPOINT_FAILED', `instance ${this.#o.index}: snapshot ${checkpointId} failed`, {
          cause: error,
        }),
      );
    }
  }

  /** The checkpoint is durable: commit the sink transactions it covers. */
  async checkpointComplete(checkpointId: number): Promise<void> {
    for (const { writer } of this.#writers) await writer.commit(checkpointId);
  }

  /** Stops processing, aborts open sink transactions, closes everything. */
  async close(abort: boolean): Promise<void> {
    this.#failed = true;
    for (const { writer } of this.#writers) {
      try {
        if (abort) await writer.abort?.();
        await writer.close?.();
      } catch {
        // Closing after a failure: the first error is the one that matters.
      }
    }
    try {
      await this.#processor?.close?.();
      await this.#reader?.close?.();
    } catch {
      // As above.
    }
  }

  metrics(): InstanceMetrics {
    const now = performance.now();
    const bp = this.#bpMs + (this.#bpSince !== undefined ? now - this.#bpSince : 0);
    const elapsed = Math.max(1, now - this.#startedAtPerf);
    return {
      subtask: this.#o.index,
      recordsRead: this.#recordsRead,
      recordsProcessed: this.#recordsProcessed,
      backPressuredMs: bp,
      backPressureRatio: Math.min(1, bp / elapsed),
      watermark: this.#watermark,
      keys: this.#backend.size,
      timers: this.#timers.size,
      broadcastDigest: this.#broadcast.digest(),
    };
  }
}

/**
 * Content of a `kg-<first>-<last>` chunk as written before key groups were binary (still read on restore): key group
 * -> its state.
 */
export type KeyedChunk = Record<string, KeyGroupChunk>;

/**
 * A binary keyed chunk starts with these 4 bytes ("CKG" and a layout version; a JSON chunk starts with `{`), then one
 * section per key group: key group, state length and timers length (u32 each), the state
 * (`KeyedStateSnapshot.keyGroupBytes`) and the timers as JSON text.
 */
const KEYED_CHUNK_MAGIC = new Uint8Array([0x43, 0x4b, 0x47, 0x01]);

function isBinaryKeyedChunk(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && KEYED_CHUNK_MAGIC.every((b, i) => bytes[i] === b);
}

/** One key group of a binary keyed chunk. */
export interface KeyedChunkSection {
  keyGroup: number;
  state: Uint8Array;
  timers: TimerData | undefined;
}

/** The key groups of a keyed chunk, binary or (older) JSON. */
export function* readKeyedChunk(bytes: Uint8Array): Generator<KeyedChunkSection> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isBinaryKeyedChunk(bytes)) {
    throw new CepheusError('STATE_RESTORE_FAILED', 'not a binary keyed-state chunk');
  }
  let pos = 4;
  while (pos < buf.length) {
    const keyGroup = buf.readUInt32LE(pos);
    const stateLength = buf.readUInt32LE(pos + 4);
    const timersLength = buf.readUInt32LE(pos + 8);
    pos += 12;
    const state = buf.subarray(pos, pos + stateLength);
    pos += stateLength;
    const timers =
      timersLength > 0 ? (JSON.parse(buf.toString('utf8', pos, pos + timersLength)) as TimerData) : undefined;
    pos += timersLength;
    if (pos > buf.length) throw new CepheusError('STATE_RESTORE_FAILED', 'truncated keyed-state chunk');
    yield { keyGroup, state, timers };
  }
}

/** Target size of a keyed-state chunk. */
const CHUNK_BYTES = 4 * 1024 * 1024;

/** State of one key group in a keyed chunk. */
export interface KeyGroupChunk {
  states: Record<string, KeyGroupStateData>;
  timers: TimerData | undefined;
}
