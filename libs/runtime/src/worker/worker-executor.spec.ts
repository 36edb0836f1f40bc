import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonValue } from '../checkpoint/checkpoint-storage';
import { MemoryCheckpointStorage } from '../checkpoint/memory-checkpoint-storage';
import { FileSink } from '../connectors/file-sink';
import { JobRunner } from '../job/job-runner';
import {
  CollectSink,
  buildRulesJob,
  expectedRulesDigest,
  fixtureEvents,
  fixtureRules,
  sortedOutput,
  type RulesJobParams,
} from '../testing';

const MODULE = require.resolve('../testing/jobs/rules-job');
const events = fixtureEvents(6000, 200, 4, 3);
const rules = fixtureRules(200, 30);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cepheus-worker-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function reference(): Promise<string[]> {
  const sink = new CollectSink<JsonValue>();
  await new JobRunner(buildRulesJob({ events, rules, sink }), { parallelism: 1 }).run();
  return sortedOutput(sink.committed);
}

describe.each(['message-port', 'shared-ring'] as const)('worker threads over %s channels', (channelTransport) => {
  function workerRunner(
    params: Omit<RulesJobParams, 'events' | 'rules'>,
    parallelism: number,
    checkpointIntervalMs = 0,
  ): JobRunner {
    const p = { events, rules, ...params } as unknown as JsonValue;
    return new JobRunner(
      { module: MODULE, exportName: 'buildRulesJob', params: p },
      {
        parallelism,
        storage: new MemoryCheckpointStorage(),
        checkpointIntervalMs,
        batchSize: 50,
        frameSize: 50,
        channelTransport,
        // About as many bytes in flight per channel as the default 4 credits of 50-event frames.
        ringBytes: 16 * 1024,
      },
    );
  }

  it('runs P=4 instances in workers with the output of one instance in thread, and equal broadcast state', async () => {
    const result = await workerRunner({ outputDir: dir }, 4).run();
    expect(sortedOutput(await FileSink.readCommitted(dir))).toEqual(await reference());
    expect(result.instances).toHaveLength(4);
    const expected = expectedRulesDigest(rules);
    for (const i of result.instances) expect(i.broadcastDigest).toBe(expected);
  });

  it('recovers from a thrown error and from a killed worker with exactly the output of a run without failures', async () => {
    const params = {
      outputDir: dir,
      failures: [{ attempt: 0, n: 3000 }],
      slowInstance: { index: 0, microsPerEvent: 100 },
    };
    const runner = workerRunner(params, 2, 5);
    const done = runner.run();
    // Kill instance 1 once the second attempt (after the thrown error) has completed a checkpoint of its own.
    let base: number | undefined;
    let killed = false;
    for (let i = 0; i < 5000 && !killed; i++) {
      const m = await runner.metrics().catch(() => undefined);
      if (m?.attempt === 1) {
        base ??= m.checkpoints.length;
        if (m.checkpoints.length > base) killed = runner.killInstance(1);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    const result = await done;
    expect(killed).toBe(true);
    expect(result.restarts).toBe(2);
    expect(sortedOutput(await FileSink.readCommitted(dir))).toEqual(await reference());
  });

  it('measures back-pressure: an instance feeding a slow one waits for credit', async () => {
    const even = await workerRunner({ outputDir: dir }, 2).run();
    await rm(dir, { recursive: true, force: true });
    const skewed = await workerRunner({ outputDir: dir, slowInstance: { index: 1, microsPerEvent: 300 } }, 2).run();
    // Instance 1 spends ~0.9 s more on its events; instance 0, which feeds it, waits for credit most of that time.
    const waited = skewed.instances[0]!.backPressuredMs - even.instances[0]!.backPressuredMs;
    expect(waited).toBeGreaterThan(150);
    expect(skewed.instances[0]!.backPressureRatio).toBeGreaterThan(0.2);
  });
});
