import {
  CollectionSource,
  JobRunner,
  MemoryCheckpointStorage,
  StreamEnvironment,
  valueState,
  type TimedValue,
} from '../index';
import { decodeKeyGroupState } from '../state/keyed-state-backend';
import { CollectSink, readKeyedState } from '../testing';
import { readKeyedChunk, type KeyedChunk } from './instance-task';

interface Ev {
  k: string;
  n: number;
}

function input(keys: number, perKey: number, splits: number): Record<string, TimedValue<Ev>[]> {
  const out: Record<string, TimedValue<Ev>[]> = {};
  for (let s = 0; s < splits; s++) out[`s${s}`] = [];
  let t = 0;
  for (let i = 0; i < perKey; i++) {
    for (let k = 0; k < keys; k++) out[`s${k % splits}`]!.push({ value: { k: `key-${k}`, n: i }, timestamp: t++ });
  }
  return out;
}

function countingJob(data: Record<string, TimedValue<Ev>[]>, sink: CollectSink<[string, number]>) {
  const env = new StreamEnvironment({ jobName: 'count', maxParallelism: 16 });
  const count = valueState<number>('count', { defaultValue: 0 });
  env
    .fromSource(new CollectionSource(data))
    .keyBy((e) => e.k)
    .process<[string, number]>((rt) => {
      const state = rt.getState(count);
      return {
        processElement(e, ctx) {
          const c = (state.value() ?? 0) + 1;
          state.update(c);
          ctx.emit([e.k, c]);
        },
      };
    })
    .sinkTo(sink);
  return env;
}

describe('JobRunner in thread', () => {
  it.each([1, 3])('counts per key with parallelism %i and commits the output at the final checkpoint', async (p) => {
    const sink = new CollectSink<[string, number]>();
    const result = await new JobRunner(countingJob(input(20, 10, 4), sink), { parallelism: p }).run();
    expect(sink.committed).toHaveLength(200);
    const last = new Map<string, number>();
    for (const [k, c] of sink.committed) last.set(k, Math.max(last.get(k) ?? 0, c));
    expect([...last.values()].every((c) => c === 10)).toBe(true);
    expect(result.lastCheckpoint?.kind).toBe('checkpoint');
  });

  it('restores keyed chunks written as JSON text, the form before binary key groups', async () => {
    const data = input(20, 10, 4);
    const binary = new MemoryCheckpointStorage();
    const first = await new JobRunner(countingJob(data, new CollectSink()), { parallelism: 2, storage: binary }).run();
    const manifest = first.lastCheckpoint!;
    // The same checkpoint with every keyed chunk rewritten in the JSON form.
    const json = new MemoryCheckpointStorage();
    const chunks = [];
    for (const c of manifest.chunks) {
      let bytes = await binary.readChunk(manifest.jobId, manifest.checkpointId, c.name);
      expect(bytes[0]).not.toBe(0x7b);
      if (c.keyGroup !== undefined) {
        const groups: KeyedChunk = {};
        for (const s of readKeyedChunk(bytes)) {
          groups[s.keyGroup] = { states: decodeKeyGroupState(s.state), timers: s.timers };
        }
        bytes = Buffer.from(JSON.stringify(groups));
      }
      await json.writeChunk(manifest.jobId, manifest.checkpointId, c.name, bytes);
      chunks.push({ ...c, bytes: bytes.length });
    }
    await json.commit({ ...manifest, chunks });
    // Restored at another parallelism, with every event read already: the state must come back as it was.
    const second = await new JobRunner(countingJob(data, new CollectSink()), { parallelism: 3, storage: json }).run();
    const state = await readKeyedState(json, second.lastCheckpoint!);
    expect(state.size).toBe(20);
    for (const rec of state.values()) expect(rec.count).toBe(10);
  });
});
