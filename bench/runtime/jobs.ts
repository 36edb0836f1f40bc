// Jobs of the runtime benchmark, built by name so that worker threads can rebuild them (see JobModuleRef).
import { GeneratorSource, StreamEnvironment, valueState, type JsonValue, type Sink } from '@cepheus/runtime';

/** Parameters of {@link throughputJob}. */
export interface ThroughputParams {
  keys: number;
  splits: number;
  /** Records per split; omit for an unbounded source. */
  recordsPerSplit?: number;
  /** Record the longest gap between two processed events (costs a clock read per event). */
  measureGaps?: boolean;
}

/** A sink that drops everything (no transactions). */
const discard: Sink<unknown> = {
  name: 'discard',
  createWriter: () => ({ write() {}, prepareCommit: () => undefined, commit() {} }),
};

/** Longest gap between two processed events in this thread, in ms (read by the checkpoint benchmark). */
export const gaps = {
  max: 0,
  last: 0,
  reset(): void {
    this.max = 0;
    this.last = 0;
  },
};

/** Generator -> keyBy -> keyed operator with a small state update -> discarding sink. */
export function throughputJob(params: JsonValue): StreamEnvironment {
  const p = params as unknown as ThroughputParams;
  const env = new StreamEnvironment({ jobName: `bench-${p.keys}`, maxParallelism: 128 });
  const count = valueState<number>('count');
  env
    .fromSource(
      new GeneratorSource<{ key: string; amount: number }>({
        splits: p.splits,
        recordsPerSplit: p.recordsPerSplit ?? Infinity,
        generate: (split, seq) => ({ key: `k${(seq * p.splits + split) % p.keys}`, amount: seq & 1023 }),
      }),
    )
    .keyBy((e) => e.key, {
      codec: {
        write: (e, out) => {
          out.string(e.key);
          out.f64(e.amount);
        },
        read: (input) => ({ key: input.string(), amount: input.f64() }),
      },
    })
    .process<number>((rt) => {
      const state = rt.getState(count);
      const measure = p.measureGaps === true;
      return {
        processElement(e) {
          state.update((state.value() ?? 0) + e.amount);
          if (measure) {
            const now = performance.now();
            if (gaps.last > 0 && now - gaps.last > gaps.max) gaps.max = now - gaps.last;
            gaps.last = now;
          }
        },
      };
    })
    .sinkTo(discard as Sink<number>);
  return env;
}
