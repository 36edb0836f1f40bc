import fc from 'fast-check';
import {
  addToWindow,
  aggregateWindow,
  compareAggregate,
  createAggregateState,
  evictWindow,
  rebuildAggregate,
  windowEntries,
  windowValueOf,
} from './sliding-window';
import type { AggregateFunction } from '../model/rule';

describe('sliding window', () => {
  it('keeps exactly the events in (latest - window, latest]', () => {
    const s = createAggregateState('count');
    addToWindow(s, 10, 0, 1, 'a');
    addToWindow(s, 10, 5, 2, 'b');
    addToWindow(s, 10, 10, 3, 'c'); // evicts t=0: the window is (0, 10]
    expect(windowEntries(s).ids).toEqual(['b', 'c']);
    addToWindow(s, 10, 14, 4, 'd');
    expect(windowEntries(s).ids).toEqual(['b', 'c', 'd']);
    addToWindow(s, 10, 15, 5, 'e');
    expect(windowEntries(s).ids).toEqual(['c', 'd', 'e']);
  });

  it('inserts out-of-order events in time order and drops events too late for the window', () => {
    const s = createAggregateState('count');
    addToWindow(s, 10, 20, 1, 'a');
    expect(addToWindow(s, 10, 15, 2, 'b')).toBe(true);
    expect(addToWindow(s, 10, 10, 3, 'late')).toBe(false);
    addToWindow(s, 10, 15, 4, 'c');
    expect(windowEntries(s).ids).toEqual(['b', 'c', 'a']);
    expect(windowEntries(s).t).toEqual([15, 15, 20]);
  });

  it('evicts on advancing time and stays JSON-safe', () => {
    const s = createAggregateState('max');
    addToWindow(s, 100, 1, 7, 'a');
    addToWindow(s, 100, 50, 9, 'b');
    expect(evictWindow(s, 100, 120)).toBe(1);
    expect(windowEntries(s).ids).toEqual(['b']);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(evictWindow(s, 100, 1000)).toBe(1);
    expect(windowEntries(s).t).toEqual([]);
  });

  it.each<[AggregateFunction, number | undefined]>([
    ['count', 4],
    ['sum', 10],
    ['avg', 2.5],
    ['min', 1],
    ['max', 4],
    ['distinctCount', 4],
  ])('computes %s', (fn, expected) => {
    const s = createAggregateState(fn);
    [3, 1, 4, 2].forEach((x, i) => addToWindow(s, 1000, i, x, `e${i}`));
    expect(aggregateWindow(s, fn)).toBe(expected);
  });

  it('gives undefined for avg/min/max of nothing and 0 for count and sum', () => {
    for (const fn of ['avg', 'min', 'max'] as const)
      expect(aggregateWindow(createAggregateState(fn), fn)).toBeUndefined();
    expect(aggregateWindow(createAggregateState('count'), 'count')).toBe(0);
    expect(aggregateWindow(createAggregateState('sum'), 'sum')).toBe(0);
    expect(compareAggregate('lessThan', undefined, 5)).toBe(false);
  });

  it('counts distinct strings, numbers and booleans apart', () => {
    const s = createAggregateState('distinctCount');
    ['a', 'a', 1, '1', true, null].forEach((x, i) => addToWindow(s, 1000, i, x, `e${i}`));
    expect(aggregateWindow(s, 'distinctCount')).toBe(5);
  });

  it('switches function on a compatible rule change by rebuilding', () => {
    const s = createAggregateState('sum');
    [3, 9, 4].forEach((x, i) => addToWindow(s, 100, i, x, `e${i}`));
    rebuildAggregate(s, 'max');
    expect(aggregateWindow(s, 'max')).toBe(9);
    addToWindow(s, 100, 5, 10, 'e5');
    expect(aggregateWindow(s, 'max')).toBe(10);
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
        // Mostly increasing times (the common case) with some out-of-order ones; up to 300 events to exercise the
        // lazy compaction of evicted entries.
        fc
          .array(fc.tuple(fc.integer({ min: -3, max: 10 }), fc.integer({ min: -5, max: 5 })), { maxLength: 300 })
          .map((xs) => {
            let t = 0;
            return xs.map(([dt, x]) => [(t = Math.max(0, t + dt)), x] as [number, number]);
          }),
        fc.integer({ min: 1, max: 50 }),
        fc.constantFrom(...fns),
        (events, windowMs, fn) => {
          const s = createAggregateState(fn);
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
            expect(windowEntries(s).t.length).toBe(inWindow.length);
            // The incremental structures agree with a rebuild from the live events.
            const copy = JSON.parse(JSON.stringify(s)) as typeof s;
            rebuildAggregate(copy);
            expect(aggregateWindow(copy, fn)).toBe(expected);
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});
