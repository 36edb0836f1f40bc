import { EventTimeGate } from './event-time-gate';

type Ev = { id: string; timestamp: number };
const ev = (id: string, timestamp: number): Ev => ({ id, timestamp });
const ids = (events: Array<{ id: string }> | undefined) => events?.map((e) => e.id);

describe('EventTimeGate', () => {
  it('lets in-order events through at once, equal timestamps included', () => {
    const gate = new EventTimeGate<Ev>(0);
    expect(ids(gate.offer(ev('a', 10)))).toEqual(['a']);
    expect(ids(gate.offer(ev('b', 10)))).toEqual(['b']);
    expect(ids(gate.offer(ev('c', 11)))).toEqual(['c']);
    expect(gate.offer(ev('late', 9))).toBeUndefined();
  });

  it('holds events within the allowed disorder and releases them sorted, stable for equal times', () => {
    const gate = new EventTimeGate<Ev>(5);
    expect(ids(gate.offer(ev('a', 10)))).toEqual([]);
    expect(ids(gate.offer(ev('b', 8)))).toEqual([]);
    expect(ids(gate.offer(ev('c', 8)))).toEqual([]);
    expect(ids(gate.offer(ev('d', 14)))).toEqual(['b', 'c']);
    expect(gate.offer(ev('late', 8))).toBeUndefined();
    expect(ids(gate.offer(ev('e', 9)))).toEqual(['e']);
    expect(ids(gate.advanceTo(100))).toEqual(['a', 'd']);
  });

  it('round-trips its state through a snapshot', () => {
    const gate = new EventTimeGate<Ev>(5);
    gate.offer(ev('a', 10));
    gate.offer(ev('b', 12));
    const copy = new EventTimeGate<{ id: string; timestamp: number }>(5);
    copy.restore(JSON.parse(JSON.stringify(gate.snapshot())));
    expect(ids(copy.advanceTo(50))).toEqual(ids(gate.advanceTo(50)));
  });
});
