import { isCepheusError } from '@cepheus/common';
import { AfterMatchSkipStrategy } from '../after-match/after-match-skip-strategy';
import { Pattern } from '../pattern/pattern';
import { runNfa, type TimedEvent } from '../testing/nfa-test-harness';
import { NFA } from './nfa';
import type { NfaSnapshot } from './nfa-state';

type Ev = { k: string; v: number };

const pattern = () =>
  Pattern.begin<Ev>('a')
    .where((e) => e.k === 'a')
    .followedByAny('b')
    .where((e) => e.k === 'b')
    .oneOrMore()
    .followedBy('c')
    .where((e) => e.k === 'c')
    .within(20);

function stream(n: number): TimedEvent<Ev>[] {
  const kinds = ['a', 'b', 'b', 'x', 'c', 'b', 'a', 'c'];
  return Array.from({ length: n }, (_, i) => ({ event: { k: kinds[(i * 5) % kinds.length], v: i }, timestamp: i * 3 }));
}

describe('NFA state snapshot / restore', () => {
  it('round-trips exactly and survives JSON', () => {
    const nfa = NFA.compile(pattern());
    const state = nfa.createState();
    for (const { event, timestamp } of stream(9)) nfa.process(state, event, timestamp);
    const snap = nfa.snapshot(state);
    expect(snap.version).toBe(1);
    expect(nfa.stats(state).partialMatches).toBeGreaterThan(0);
    const again = nfa.snapshot(nfa.restore(JSON.parse(JSON.stringify(snap)) as NfaSnapshot<Ev>));
    expect(again).toEqual(snap);
    expect(nfa.stats(nfa.restore(snap))).toEqual(nfa.stats(state));
  });

  it.each([0, 3, 7, 12, 19])('restoring before event %i changes no output', (at) => {
    for (const skip of [AfterMatchSkipStrategy.noSkip(), AfterMatchSkipStrategy.skipPastLastEvent()]) {
      const nfa = NFA.compile(pattern(), { skip });
      const plain = runNfa(nfa, stream(20));
      const restored = runNfa(nfa, stream(20), { restoreAt: at });
      expect(restored.matches).toEqual(plain.matches);
      expect(restored.timedOut).toEqual(plain.timedOut);
      expect(plain.matches.length).toBeGreaterThan(0);
    }
  });

  it('drops free slots: a drained state snapshots to almost nothing', () => {
    const nfa = NFA.compile(pattern());
    const state = nfa.createState();
    for (const { event, timestamp } of stream(30)) nfa.process(state, event, timestamp);
    nfa.advanceTime(state, Infinity);
    expect(nfa.stats(state)).toEqual({ partialMatches: 0, bufferedEvents: 0, droppedPartialMatches: 0 });
    const snap = nfa.snapshot(state);
    expect(snap).toEqual({
      version: 1,
      seq: 30,
      dropped: 0,
      events: [],
      eventTs: [],
      eventSeq: [],
      nodes: [],
      partial: [],
      held: [],
    });
  });

  it('refuses an unknown version with CEP_STATE_VERSION', () => {
    const nfa = NFA.compile(pattern());
    const snap = { ...nfa.snapshot(nfa.createState()), version: 2 } as unknown as NfaSnapshot<Ev>;
    let caught: unknown;
    try {
      nfa.restore(snap);
    } catch (error) {
      caught = error;
    }
    expect(isCepheusError(caught, 'CEP_STATE_VERSION')).toBe(true);
  });
});

describe('partial match cap', () => {
  it('drops the oldest partial matches and counts them', () => {
    const p = Pattern.begin<Ev>('a')
      .where((e) => e.k === 'a')
      .followedByAny('c')
      .where((e) => e.k === 'c');
    const nfa = NFA.compile(p, { maxPartialMatches: 3 });
    const state = nfa.createState();
    for (let i = 0; i < 5; i++) nfa.process(state, { k: 'a', v: i }, i);
    expect(nfa.stats(state)).toEqual({ partialMatches: 3, bufferedEvents: 3, droppedPartialMatches: 2 });
    const r = nfa.process(state, { k: 'c', v: 9 }, 9);
    expect(r.matches.map((m) => m.a[0].v)).toEqual([2, 3, 4]);
  });
});

describe('shared buffer', () => {
  it('stores each event once however many partial matches hold it', () => {
    const p = Pattern.begin<Ev>('a')
      .where((e) => e.k === 'a')
      .followedByAny('b')
      .where((e) => e.k === 'b')
      .oneOrMore()
      .allowCombinations()
      .followedBy('c')
      .where((e) => e.k === 'c');
    const nfa = NFA.compile(p);
    const state = nfa.createState();
    nfa.process(state, { k: 'a', v: 0 }, 0);
    for (let i = 1; i <= 8; i++) nfa.process(state, { k: 'b', v: i }, i);
    const stats = nfa.stats(state);
    // Every subset of the eight b's is a running partial match, but the buffer holds nine events.
    expect(stats.partialMatches).toBeGreaterThan(255);
    expect(stats.bufferedEvents).toBe(9);
    expect(nfa.process(state, { k: 'c', v: 9 }, 9).matches).toHaveLength(255);
  });
});
