import type { JsonValue } from './checkpoint-storage';
import { LocalRecoveryStorage } from './local-recovery-storage';
import { MemoryCheckpointStorage } from './memory-checkpoint-storage';
import { JobRunner } from '../job/job-runner';
import { CollectSink, buildRulesJob, fixtureEvents, fixtureRules, readKeyedState } from '../testing';

describe('local recovery and retention', () => {
  it('restores from the local copy when it has the checkpoint, from the primary otherwise', async () => {
    const primary = new MemoryCheckpointStorage();
    const events = fixtureEvents(300, 20, 2);
    const rules = fixtureRules(30, 5);
    const job = () => buildRulesJob({ jobName: 'local', events, rules, sink: new CollectSink<JsonValue>() });
    const local = new LocalRecoveryStorage(primary, new MemoryCheckpointStorage());
    const first = await new JobRunner(job(), { parallelism: 2, storage: local, restore: 'none' }).run();

    const again = new LocalRecoveryStorage(primary, local.local);
    await new JobRunner(job(), { parallelism: 2, storage: again }).run();
    expect(again.reads.local).toBeGreaterThan(0);
    expect(again.reads.remote).toBe(0);

    // A new machine: empty local store, everything comes from the primary, with the same state.
    const fresh = new LocalRecoveryStorage(primary, new MemoryCheckpointStorage());
    const third = await new JobRunner(job(), { parallelism: 2, storage: fresh }).run();
    expect(fresh.reads.local).toBe(0);
    expect(fresh.reads.remote).toBeGreaterThan(0);
    expect(await readKeyedState(primary, third.lastCheckpoint!)).toEqual(
      await readKeyedState(primary, first.lastCheckpoint!),
    );
  });

  it('keeps the configured number of checkpoints, and every savepoint', async () => {
    const storage = new MemoryCheckpointStorage();
    const events = fixtureEvents(2000, 20, 2);
    const runner = new JobRunner(
      buildRulesJob({ jobName: 'retain', events, sink: new CollectSink<JsonValue>(), limit: 1000 }),
      { storage, retainedCheckpoints: 2 },
    );
    await runner.start();
    const savepoint = await runner.triggerSavepoint();
    for (let i = 0; i < 4; i++) await runner.triggerCheckpoint();
    const last = await runner.stopWithSavepoint();
    const kept = (await storage.list('retain')).map((m) => [m.checkpointId, m.kind]);
    expect(kept).toEqual([
      [savepoint.checkpointId, 'savepoint'],
      [savepoint.checkpointId + 3, 'checkpoint'],
      [savepoint.checkpointId + 4, 'checkpoint'],
      [last.checkpointId, 'savepoint'],
    ]);
    expect(last.formatVersion).toBe(1);
  });
});
