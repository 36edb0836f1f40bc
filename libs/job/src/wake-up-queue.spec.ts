import fc from 'fast-check';
import { WakeUpQueue } from './wake-up-queue';

const op = fc.oneof(
  fc.record({
    op: fc.constantFrom('set' as const, 'lower' as const),
    key: fc.constantFrom('a', 'b', 'c', 'd'),
    time: fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }),
  }),
  fc.record({ op: fc.constant('pop' as const), time: fc.integer({ min: 0, max: 50 }) }),
);

describe('WakeUpQueue', () => {
  it('pops each key once at its current time, with lower only ever moving a time earlier', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const queue = new WakeUpQueue();
        const model = new Map<string, number>();
        for (const o of ops) {
          if (o.op === 'pop') {
            const due = [...model].filter(([, t]) => t <= o.time).sort((x, y) => x[1] - y[1]);
            const got = queue.popDue(o.time);
            expect([...got].sort()).toEqual(due.map(([k]) => k).sort());
            // Earliest first: the times of the popped keys do not decrease.
            const times = got.map((k) => model.get(k) as number);
            expect(times).toEqual([...times].sort((x, y) => x - y));
            for (const [k] of due) model.delete(k);
          } else if (o.op === 'set') {
            queue.set(o.key, o.time);
            if (o.time === undefined) model.delete(o.key);
            else model.set(o.key, o.time);
          } else if (o.time !== undefined) {
            queue.lower(o.key, o.time);
            model.set(o.key, Math.min(model.get(o.key) ?? Infinity, o.time));
          }
          expect(queue.size).toBe(model.size);
        }
      }),
      { numRuns: 300 },
    );
  });
});
