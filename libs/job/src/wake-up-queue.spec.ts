import fc from 'fast-check';
import { WakeUpQueue } from './wake-up-queue';

const op = fc.oneof(
  fc.record({
    op: fc.constant('set' as const),
    key: fc.constantFrom('a', 'b', 'c', 'd'),
    time: fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }),
  }),
  fc.record({ op: fc.constant('pop' as const), time: fc.integer({ min: 0, max: 50 }) }),
);

describe('WakeUpQueue', () => {
  it('pops each key once at its current time', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const items = new Map(['a', 'b', 'c', 'd'].map((key) => [key, { key, wakeUp: Infinity }]));
        const queue = new WakeUpQueue<{ key: string; wakeUp: number }>();
        const model = new Map<string, number>();
        for (const o of ops) {
          if (o.op === 'pop') {
            const due = [...model].filter(([, t]) => t <= o.time).sort((x, y) => x[1] - y[1]);
            const got = queue.popDue(o.time).map((item) => item.key);
            expect([...got].sort()).toEqual(due.map(([k]) => k).sort());
            // Earliest first: the times of the popped keys do not decrease.
            const times = got.map((k) => model.get(k) as number);
            expect(times).toEqual([...times].sort((x, y) => x - y));
            for (const [k] of due) model.delete(k);
          } else {
            queue.set(items.get(o.key)!, o.time);
            if (o.time === undefined) model.delete(o.key);
            else model.set(o.key, o.time);
          }
          expect(queue.size).toBe(model.size);
          for (const [key, item] of items) expect(item.wakeUp).toBe(model.get(key) ?? Infinity);
        }
      }),
      { numRuns: 300 },
    );
  });
});
