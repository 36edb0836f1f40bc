import type { JsonValue } from '../../checkpoint/checkpoint-storage';
import { CollectionSource, type TimedValue } from '../../connectors/collection-source';
import { FileSink } from '../../connectors/file-sink';
import type { Sink } from '../../connectors/sink';
import { StreamEnvironment } from '../../job/stream-environment';
import type { ProcessorFactory } from '../../operator/processor';
import { broadcastState, valueState } from '../../state/state-descriptor';

/** An event of the fixture job. */
export interface FixtureEvent {
  k: string;
  n: number;
  v: number;
}

/** A rule update of the fixture job: put or delete a rule in broadcast state. */
export interface FixtureRule {
  id: string;
  version: number;
  op: 'put' | 'delete';
  limit: number;
}

/** Parameters of {@link buildRulesJob}; JSON so that worker threads can rebuild the same job. */
export interface RulesJobParams {
  jobName?: string;
  maxParallelism?: number;
  events: Record<string, TimedValue<FixtureEvent>[]>;
  rules?: TimedValue<FixtureRule>[];
  /** Throw in processElement for event number `n` on attempt `attempt`. */
  failures?: { attempt: number; n: number }[];
  /** Event source stops emitting after this many records per split (then idles, unbounded). */
  limit?: number;
  /** Where committed output goes (in-thread tests) ... */
  sink?: Sink<JsonValue>;
  /** ... or a FileSink directory (worker tests: the parameters must be JSON). */
  outputDir?: string;
  /** Busy-wait this many microseconds per event on instance `slowInstance` (flow-control tests). */
  slowInstance?: { index: number; microsPerEvent: number };
}

/** Broadcast state of the fixture job. */
export const RULES = broadcastState<FixtureRule>('rules');
const SUM = valueState<number>('sum', { defaultValue: 0 });

/**
 * The fixture job used by the runtime's tests: events keyed by `k`, a running sum per key (emitted per event, so the
 * output encodes the keyed state), an event-time timer per event, and rules in broadcast state. Its output depends only
 * on per-key order, so that runs with and without failures or rescaling can be compared.
 */
export function buildRulesJob(params: RulesJobParams): StreamEnvironment {
  const env = new StreamEnvironment({
    jobName: params.jobName ?? 'rules-job',
    maxParallelism: params.maxParallelism ?? 16,
  });
  const events = env
    .fromSource(new CollectionSource(params.events, { name: 'events', limit: params.limit }), {
      watermarks: { outOfOrdernessMs: 1_000_000 },
    })
    .keyBy((e) => e.k);
  const failures = params.failures ?? [];
  const sink = params.sink ?? new FileSink<JsonValue>({ directory: params.outputDir!, fsync: false });
  const processor: ProcessorFactory<FixtureEvent, JsonValue, FixtureRule> = (rt) => {
    const sum = rt.getState(SUM);
    const spin = params.slowInstance?.index === rt.subtaskIndex ? params.slowInstance.microsPerEvent : 0;
    return {
      processElement(e, ctx) {
        if (failures.some((f) => f.attempt === rt.attempt && f.n === e.n)) throw new Error(`induced failure at ${e.n}`);
        if (spin > 0) busyWait(spin);
        const s = (sum.value() ?? 0) + e.v;
        sum.update(s);
        ctx.emit({ k: e.k, n: e.n, sum: s });
        ctx.timers.registerEventTimeTimer(ctx.timestamp + 10);
      },
      processBroadcastElement(r, ctx) {
        const state = ctx.getBroadcastState(RULES);
        if (r.op === 'put') state.put(r.id, r);
        else state.remove(r.id);
      },
      onTimer(ts, ctx) {
        ctx.emit({ k: ctx.key, timer: ts });
      },
    };
  };
  if (params.rules) {
    const rules = env.fromSource(new CollectionSource({ rules: params.rules }, { name: 'rules' })).broadcast(RULES);
    events.connect(rules).process(processor, { name: 'evaluate' }).sinkTo(sink);
  } else {
    events.process(processor, { name: 'evaluate' }).sinkTo(sink);
  }
  return env;
}

function busyWait(micros: number): void {
  const end = process.hrtime.bigint() + BigInt(micros * 1000);
  while (process.hrtime.bigint() < end) {
    // Simulates an expensive operator on one instance.
  }
}
