import type { JsonValue } from '../checkpoint/checkpoint-storage';
import { CollectionSource, type TimedValue } from '../connectors/collection-source';
import { OutputTag } from '../operator/processor';
import { CollectSink } from '../testing';
import { ManualClock } from '../time/clock';
import { JobRunner } from './job-runner';
import { StreamEnvironment } from './stream-environment';

type Ev = {
  k: string;
  n: number;
};

const tv = (k: string, n: number, ts: number): TimedValue<Ev> => ({ value: { k, n }, timestamp: ts });

describe('event time, timers, side outputs', () => {
  it('fires event-time timers by watermark, sends late events to a side output, and fires all timers at the end', async () => {
    const env = new StreamEnvironment({ jobName: 'time', maxParallelism: 8 });
    const late = new OutputTag<Ev & JsonValue>('late');
    const main = new CollectSink<JsonValue>('main');
    const lateSink = new CollectSink<Ev & JsonValue>('late');
    // One split, in this order: watermark = max timestamp - 5 - 1.
    const data = [tv('a', 1, 100), tv('a', 2, 103), tv('a', 3, 120), tv('a', 4, 101), tv('a', 5, 200), tv('a', 6, 130)];
    const processed = env
      .fromSource(new CollectionSource({ s: data }), { watermarks: { outOfOrdernessMs: 5 } })
      .keyBy((e) => e.k)
      .process<JsonValue>(
        () => ({
          processElement(e, ctx) {
            ctx.emit(`event ${e.n} wm ${ctx.currentWatermark()}`);
            ctx.timers.registerEventTimeTimer(ctx.timestamp + 10);
          },
          onTimer(ts, ctx) {
            ctx.emit(`timer ${ts} ${ctx.timeDomain} ${ctx.key}`);
          },
        }),
        { lateness: { tag: late } },
      );
    processed.sinkTo(main);
    processed.getSideOutput(late).sinkTo(lateSink);
    await new JobRunner(env, { batchSize: 1, frameSize: 1, bufferTimeoutMs: 0 }).run();
    // Event 4 (ts 101) arrives after the watermark passed 114: late. Event 6 (ts 130) after 194: late.
    expect(lateSink.committed).toEqual([
      { k: 'a', n: 4 },
      { k: 'a', n: 6 },
    ]);
    expect(main.committed.filter((s) => String(s).startsWith('timer'))).toEqual([
      'timer 110 event a',
      'timer 113 event a',
      'timer 130 event a',
      'timer 210 event a',
    ]);
    // Timers 110 and 113 fire once event 3 (ts 120) moves the watermark to 114, before event 5 is processed.
    expect(main.committed).toEqual([
      'event 1 wm -9007199254740991',
      'event 2 wm 94',
      'event 3 wm 97',
      'timer 110 event a',
      'timer 113 event a',
      'event 5 wm 114',
      'timer 130 event a',
      'timer 210 event a',
    ]);
  });

  it('fires processing-time timers from the clock', async () => {
    const clock = new ManualClock(1000);
    const env = new StreamEnvironment({ jobName: 'ptime', maxParallelism: 8 });
    const sink = new CollectSink<JsonValue>();
    env
      .fromSource(new CollectionSource({ s: [tv('a', 1, 0), tv('b', 2, 0)] }, { limit: 2 }))
      .keyBy((e) => e.k)
      .process<JsonValue>(() => ({
        processElement(e, ctx) {
          ctx.timers.registerProcessingTimeTimer(ctx.currentProcessingTime() + (e.k === 'a' ? 50 : 500));
        },
        onTimer(ts, ctx) {
          ctx.emit(`${ctx.key}@${ts} ${ctx.timeDomain}`);
        },
      }))
      .sinkTo(sink);
    const runner = new JobRunner(env, { clock });
    await runner.start();
    await waitFor(async () => (await runner.metrics()).instances[0]!.timers === 2);
    clock.advance(100);
    await waitFor(async () => (await runner.metrics()).instances[0]!.timers === 1);
    const result = await runner.stopWithSavepoint();
    expect(result.kind).toBe('savepoint');
    expect(sink.committed).toEqual(['a@1050 processing']);
  });

  it('describes the job graph as data', () => {
    const env = new StreamEnvironment({ jobName: 'd', maxParallelism: 4 });
    env
      .fromSource(new CollectionSource<Ev>({ s: [] }, { name: 'events' }))
      .map((e) => e, 'identity')
      .keyBy((e) => e.k, 'by-k')
      .process<Ev>(() => ({ processElement() {} }), { name: 'proc' })
      .sinkTo(new CollectSink<Ev & JsonValue>(), 'out');
    expect(env.describe().nodes.map((n) => [n.name, n.kind, n.parents])).toEqual([
      ['events', 'source', []],
      ['identity', 'map', [0]],
      ['by-k', 'keyBy', [1]],
      ['proc', 'process', [2]],
      ['out', 'sink', [3]],
    ]);
  });
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error('condition not reached');
}
