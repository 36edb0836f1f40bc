import type { JsonValue } from '../checkpoint/checkpoint-storage';
import { MemoryCheckpointStorage } from '../checkpoint/memory-checkpoint-storage';
import { CollectSink, buildRulesJob, expectedRulesDigest, fixtureEvents, fixtureRules } from '../testing';
import { JobRunner } from './job-runner';

describe('broadcast state identity', () => {
  it('is equal on every instance and to the rule stream applied in order: after updates, restore, and 4 -> 2 -> 3', async () => {
    const storage = new MemoryCheckpointStorage();
    const rules = fixtureRules(300, 40);
    const expected = expectedRulesDigest(rules);
    const events = fixtureEvents(500, 50, 4);
    const job = () => buildRulesJob({ jobName: 'digest', events, rules, sink: new CollectSink<JsonValue>() });

    const first = await new JobRunner(job(), {
      parallelism: 4,
      storage,
      restore: 'none',
      checkpointIntervalMs: 1,
      batchSize: 10,
    }).run();
    expect(first.instances.map((i) => i.broadcastDigest)).toEqual([expected, expected, expected, expected]);
    expect(first.lastCheckpoint?.metadata.broadcastDigest).toBe(expected);
    // Checkpoints taken while rules were still arriving agreed across instances too (the coordinator checks).
    expect(first.checkpoints.length).toBeGreaterThan(1);

    for (const parallelism of [4, 2, 3]) {
      const restored = await new JobRunner(job(), { parallelism, storage, restore: 'latest' }).run();
      expect(restored.instances).toHaveLength(parallelism);
      for (const i of restored.instances) expect(i.broadcastDigest).toBe(expected);
    }
  });

  it('differs from the digest of another rule stream (the check can fail)', () => {
    const rules = fixtureRules(300, 40);
    expect(expectedRulesDigest(rules.slice(0, 299))).not.toBe(expectedRulesDigest(rules));
  });
});
