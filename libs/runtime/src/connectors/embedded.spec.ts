import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileCheckpointStorage } from '../checkpoint/file-checkpoint-storage';
import { JobRunner } from '../job/job-runner';
import { StreamEnvironment } from '../job/stream-environment';
import { valueState } from '../state/state-descriptor';
import { FileSink } from './file-sink';
import { FileSource } from './file-source';
import { StdoutSink } from './stdout-sink';

interface Shape {
  colour: string;
  shape: string;
  ts: number;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cepheus-embedded-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function shapesJob(inputs: string[], out: string, lines: string[] = []): StreamEnvironment {
  const env = new StreamEnvironment({ jobName: 'shapes', maxParallelism: 8 });
  const count = valueState<number>('squares');
  const stream = env
    .fromSource(new FileSource<Shape>({ paths: inputs, timestamp: (s) => s.ts }))
    .keyBy((s) => s.colour)
    .process<{ colour: string; squares: number }>((rt) => {
      const squares = rt.getState(count);
      return {
        processElement(s, ctx) {
          if (s.shape !== 'square') return;
          const n = (squares.value() ?? 0) + 1;
          squares.update(n);
          ctx.emit({ colour: s.colour, squares: n });
        },
      };
    });
  stream.sinkTo(new FileSink({ directory: out }));
  stream.sinkTo(new StdoutSink({ stream: { write: (c: string) => lines.push(c) } }));
  return env;
}

describe('embedded mode: files in, files out, checkpoints on local disk', () => {
  it('runs, restores from its last checkpoint without duplicating output, and cleans lingering transactions', async () => {
    const colours = ['red', 'green', 'blue'];
    const shapes = ['square', 'triangle', 'circle'];
    const inputs: string[] = [];
    for (let f = 0; f < 2; f++) {
      const rows = Array.from({ length: 300 }, (_, i) =>
        JSON.stringify({ colour: colours[(i * 7 + f) % 3], shape: shapes[(i * 5 + f) % 3], ts: i }),
      );
      inputs.push(join(dir, `in-${f}.jsonl`));
      await writeFile(inputs[f]!, rows.join('\n') + '\n');
    }
    const out = join(dir, 'out');
    const storage = new FileCheckpointStorage({ directory: join(dir, 'ckpt'), fsync: false });
    const lines: string[] = [];
    const first = await new JobRunner(shapesJob(inputs, out, lines), {
      storage,
      checkpointIntervalMs: 2,
      batchSize: 20,
    }).run();
    const output = await FileSink.readCommitted<{ colour: string; squares: number }>(out);
    expect(output).toHaveLength(200);
    expect(lines.join('').trim().split('\n')).toHaveLength(200);
    const max = new Map<string, number>();
    for (const o of output) max.set(o.colour, Math.max(max.get(o.colour) ?? 0, o.squares));
    expect([...max.values()].reduce((a, b) => a + b, 0)).toBe(200);
    expect(first.lastCheckpoint).toBeDefined();

    // A lingering pending file (a checkpoint that never completed) is removed on the next start.
    await writeFile(join(out, 'out-99999999-0-0.jsonl.pending'), '{"colour":"red","squares":1000}\n');
    const again = await new JobRunner(shapesJob(inputs, out), { storage, restore: 'latest' }).run();
    expect(again.lastCheckpoint!.checkpointId).toBeGreaterThan(first.lastCheckpoint!.checkpointId);
    expect(await FileSink.readCommitted(out)).toHaveLength(200);
    expect((await readdir(out)).some((f) => f.endsWith('.pending'))).toBe(false);
    // Retention: at most 3 checkpoints are kept.
    expect((await storage.list('shapes')).length).toBeLessThanOrEqual(3);
  });
});
