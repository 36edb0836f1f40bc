import fc from 'fast-check';
import { MemoryCheckpointStorage } from '../checkpoint/memory-checkpoint-storage';
import type { JsonValue } from '../checkpoint/checkpoint-storage';
import { CollectSink, buildRulesJob, fixtureEvents, fixtureRules, sortedOutput } from '../testing';
import { JobRunner } from './job-runner';

async function run(
  events: ReturnType<typeof fixtureEvents>,
  failures: { attempt: number; n: number }[],
  parallelism: number,
): Promise<{ output: string[]; restarts: number; written: number; checkpoints: number }> {
  const sink = new CollectSink<JsonValue>();
  const env = buildRulesJob({ events, rules: fixtureRules(20, 5), failures, sink });
  const result = await new JobRunner(env, {
    parallelism,
    storage: new MemoryCheckpointStorage(),
    checkpointIntervalMs: 1,
    batchSize: 7,
    frameSize: 5,
    maxRestarts: 5,
  }).run();
  return {
    output: sortedOutput(sink.committed),
    restarts: result.restarts,
    written: sink.written,
    checkpoints: result.checkpoints.length,
  };
}

const RUNS = 120;

describe('exactly-once through failures (in-thread)', () => {
  it('produces the output of a run without failures, for random inputs and failure points', async () => {
    let replayed = 0;
    let restoredMidway = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 50, max: 400 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 3 }),
        fc.integer(),
        async (count, keys, splits, parallelism, points, seed) => {
          const events = fixtureEvents(count, keys, splits, seed);
          // One failure per attempt, at a random event.
          const failures = points.map((p, attempt) => ({ attempt, n: Math.floor(p * (count - 1)) }));
          const reference = await run(events, [], parallelism);
          const failed = await run(events, failures, parallelism);
          // The first failure always happens; a later one only if its event is replayed after the restore.
          expect(failed.restarts).toBeGreaterThanOrEqual(1);
          expect(failed.restarts).toBeLessThanOrEqual(failures.length);
          expect(failed.output).toEqual(reference.output);
          // Nothing is lost: at least as many writes as committed records (more when work was replayed).
          expect(failed.written).toBeGreaterThanOrEqual(reference.output.length);
          replayed += failed.written > reference.output.length ? 1 : 0;
          restoredMidway += failed.checkpoints > 1 ? 1 : 0;
        },
      ),
      { numRuns: RUNS },
    );
    // The property is only meaningful if failures did throw away uncommitted work, and restored from a checkpoint
    // taken mid-run, in a good share of the runs. Both depend on where the 1 ms checkpoint timer falls, so they are
    // counted over many runs against a floor well below the rates seen (36-68% and 52-88% of runs): 25 runs with a
    // floor of 40% failed once in CI at 9 of 25.
    expect(replayed).toBeGreaterThan(RUNS * 0.15);
    expect(restoredMidway).toBeGreaterThan(RUNS * 0.15);
  });
});
