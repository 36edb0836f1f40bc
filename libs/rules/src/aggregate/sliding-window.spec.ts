import fc from 'fast-check';
import {
  addToWindow,
  aggregateWindow,
  compareAggregate,
  createAggregateState,
  evictWindow,
  windowValueOf,
} from './sliding-window';
import type { AggregateFunction } from '../model/rule';

describe('sliding window', () => {
  it('keeps exactly the events in (latest - window, latest]', () => {
    const s = createAggregateState();
    addToWindow(s, 10, 0, 1, 'a');
    addToWindow(s, 10, 5, 2, 'b');
    addToWindow(s, 10, 10, 3, 'c'); // evicts t=0: the window is (0, 10]
    expect(s.ids).toEqual(['b', 'c']);
    addToWindow(s, 10, 14, 4, 'd');
    expect(s.ids).toEqual(['b', 'c', 'd']);
    addToWindow(s, 10, 15, 5, 'e');
    expect(s.ids).toEqual(['c', 'd', 'e']);
  });

  it('inserts out-of-order events in time order and drops events too late for the window', () => {
    const s = createAggregateState();
    addToWindow(s, 10, 20, 1, 'a');
    expect(addToWindow(s, 10, 15, 2, 'b')).toBe(true);
    expect(addToWindow(s, 10, 10, 3, 'late')).toBe(false);
    addToWindow(s, 10, 15, 4, 'c');
    expect(s.ids).toEqual(['b', 'c', 'a']);
    expect(s.t).toEqual([15, 15, 20]);
  });

  it('evicts on advancing time and stays JSON-safe', () => {
    const s = createAggregateState();
    addToWindow(s, 100, 1, 7, 'a');
    addToWindow(s, 100, 50, 9, 'b');
    expect(evictWindow(s, 100, 120)).toBe(1);
    expect(s.ids).toEqual(['b']);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(evictWindow(s, 100, 1000)).toBe(1);
    expect(s.t).toEqual([]);
  });

  it.each<[AggregateFunction, number | undefined]>([
    ['count', 4],
    ['sum', 10],
    ['avg', 2.5],
    ['min', 1],
    ['max', 4],
    ['distinctCount', 4],
  ])('computes %s', (fn, expected) => {
    const s = createAggregateState();
    [3, 1, 4, 2].forEach((x, i) => addToWindow(s, 1000, i, x, `e${i}`));
    expect(aggregateWindow(s, fn)).toBe(expected);
  });

  it('gives undefined for avg/min/max of nothing and 0 for count and sum', () => {
    const s = createAggregateState();
    expect(aggregateWindow(s, 'avg')).toBeUndefined();
    expect(aggregateWindow(s, 'min')).toBeUndefined();
    expect(aggregateWindow(s, 'max')).toBeUndefined();
    expect(aggregateWindow(s, 'count')).toBe(0);
    expect(aggregateWindow(s, 'sum')).toBe(0);
    expect(compareAggregate('lessThan', undefined, 5)).toBe(false);
  });

  it('counts distinct strings, numbers and booleans apart', () => {
    const s = createAggregateState();
    ['a', 'a', 1, '1', true, null].forEach((x, i) => addToWindow(s, 1000, i, x, `e${i}`));
    expect(aggregateWindow(s, 'distinctCount')).toBe(5);
  });

  it('admits only finite numbers to numeric functions and only primitives to distinctCount', () => {
    expect(windowValueOf('sum', '12')).toBeUndefined();
    expect(windowValueOf('sum', 12)).toBe(12);
    expect(windowValueOf('max', Infinity)).toBeUndefined();
    expect(windowValueOf('distinctCount', { a: 1 })).toBeUndefined();
    expect(windowValueOf('distinctCount', 'x')).toBe('x');
    expect(windowValueOf('count', undefined)).toBeNull();
  });

  it('matches a brute-force model for every function on random streams', () => {
    const fns: AggregateFunction[] = ['count', 'sum', 'avg', 'min', 'max', 'distinctCount'];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: -5, max: 5 })), { maxLength: 60 }),
        fc.integer({ min: 1, max: 50 }),
        fc.constantFrom(...fns),
        (events, windowMs, fn) => {
          const s = createAggregateState();
          const accepted: [number, number][] = [];
          let latest = -Infinity;
          events.forEach(([t, x], i) => {
            const ok = addToWindow(s, windowMs, t, x, `e${i}`);
            expect(ok).toBe(t > latest - windowMs);
            if (ok) accepted.push([t, x]);
            latest = Math.max(latest, t);
            const inWindow = accepted.filter(([at]) => at > latest - windowMs).map(([, v]) => v);
            const expected =
              fn === 'count'
                ? inWindow.length
                : fn === 'sum'
                  ? inWindow.reduce((a, b) => a + b, 0)
                  : fn === 'distinctCount'
                    ? new Set(inWindow).size
                    : inWindow.length === 0
                      ? undefined
                      : fn === 'avg'
                        ? inWindow.reduce((a, b) => a + b, 0) / inWindow.length
                        : fn === 'min'
                          ? Math.min(...inWindow)
                          : Math.max(...inWindow);
            expect(aggregateWindow(s, fn)).toBe(expected);
            expect(s.t.length).toBe(inWindow.length);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
