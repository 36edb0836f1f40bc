import fc from 'fast-check';
import type { JsonValue } from '../checkpoint/checkpoint-storage';
import { MemoryCheckpointStorage } from '../checkpoint/memory-checkpoint-storage';
import { CollectSink, buildRulesJob, fixtureEvents, readKeyedState, sortedOutput } from '../testing';
import { JobRunner } from './job-runner';

describe('rescale through a savepoint', () => {
  it('stop at a savepoint with P=2, resume with P=3: same output and final keyed state as P=2 throughout', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 100, max: 600 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer(),
        async (count, keys, splits, limit, seed) => {
          const events = fixtureEvents(count, keys, splits, seed);
          const refStorage = new MemoryCheckpointStorage();
          const refSink = new CollectSink<JsonValue>();
          const ref = await new JobRunner(buildRulesJob({ events, sink: refSink }), {
            parallelism: 2,
            storage: refStorage,
          }).run();

          const storage = new MemoryCheckpointStorage();
          const sink = new CollectSink<JsonValue>();
          // First run: each split stops after `limit` records, then idles; stop it with a savepoint.
          const first = new JobRunner(buildRulesJob({ events, sink, limit }), {
            parallelism: 2,
            storage,
            batchSize: 9,
          });
          await first.start();
          const expectedRead = Object.values(events).reduce((n, e) => n + Math.min(e.length, limit), 0);
          for (let i = 0; i < 2000; i++) {
            const m = await first.metrics();
            if (m.instances.reduce((n, x) => n + x.recordsRead, 0) >= expectedRead) break;
            await new Promise((r) => setTimeout(r, 1));
          }
          const savepoint = await first.stopWithSavepoint();
          expect(savepoint.kind).toBe('savepoint');
          expect(savepoint.parallelism).toBe(2);
          // The savepoint really is mid-stream: only part of the output was committed by the first run.
          const longest = Math.max(...Object.values(events).map((e) => e.length));
          if (limit < longest) expect(sink.committed.length).toBeLessThan(refSink.committed.length);

          const second = await new JobRunner(buildRulesJob({ events, sink }), {
            parallelism: 3,
            storage,
            restore: { checkpointId: savepoint.checkpointId },
          }).run();
          expect(second.instances).toHaveLength(3);
          expect(sortedOutput(sink.committed)).toEqual(sortedOutput(refSink.committed));
          const refState = await readKeyedState(refStorage, ref.lastCheckpoint!);
          const state = await readKeyedState(storage, second.lastCheckpoint!);
          expect(new Map([...state].sort())).toEqual(new Map([...refState].sort()));
        },
      ),
      { numRuns: 12 },
    );
  });
});
