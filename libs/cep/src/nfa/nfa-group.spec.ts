import { isCepheusError } from '@cepheus/common';
import { AfterMatchSkipStrategy } from '../after-match/after-match-skip-strategy';
import { Pattern } from '../pattern/pattern';
import { NFA } from './nfa';
import { NfaGroup, type NfaGroupSnapshot } from './nfa-group';

interface Tx {
  type: string;
  amount: number;
}

const pair = (first: string, second: string, within = 10): Pattern<Tx> =>
  Pattern.begin<Tx>('first')
    .where((e) => e.type === first)
    .followedBy('second')
    .where((e) => e.type === second)
    .within(within);

describe('NfaGroup', () => {
  it('tags matches and timeouts with the index of their pattern', () => {
    const group = NfaGroup.compile([pair('a', 'b'), pair('a', 'c'), pair('b', 'c')]);
    const state = group.createState();
    const a = { type: 'a', amount: 1 };
    const b = { type: 'b', amount: 2 };
    const c = { type: 'c', amount: 3 };
    expect(group.process(state, a, 0).matches).toEqual([]);
    expect(group.process(state, b, 1).matches).toEqual([{ pattern: 0, match: { first: [a], second: [b] } }]);
    expect(group.process(state, c, 2).matches).toEqual([
      { pattern: 1, match: { first: [a], second: [c] } },
      { pattern: 2, match: { first: [b], second: [c] } },
    ]);
    expect(group.isIdle(state)).toBe(true);
    group.process(state, a, 3);
    expect(group.advanceTime(state, 13).timedOut).toEqual([
      { pattern: 0, match: { first: [a] }, timeoutTimestamp: 13 },
      { pattern: 1, match: { first: [a] }, timeoutTimestamp: 13 },
    ]);
    expect(group.isIdle(state)).toBe(true);
  });

  it('runs sequences of single-event steps itself and every other pattern with its NFA', () => {
    const loop = Pattern.begin<Tx>('a')
      .where((e) => e.type === 'a')
      .oneOrMore()
      .followedBy('b')
      .where((e) => e.type === 'b');
    const nfas = [
      NFA.compile(pair('a', 'b')),
      NFA.compile(loop),
      NFA.compile(pair('a', 'b'), { skip: AfterMatchSkipStrategy.skipPastLastEvent() }),
    ];
    const group = NfaGroup.of(nfas);
    expect(group.sequenceCount).toBe(1);
    const state = group.createState();
    const states = nfas.map((nfa) => nfa.createState());
    const events = ['a', 'a', 'b'].map((type) => ({ type, amount: 0 }));
    const got = events.flatMap((e, t) => group.process(state, e, t).matches);
    const want = events.flatMap((e, t) =>
      nfas.flatMap((nfa, pattern) => nfa.process(states[pattern], e, t).matches.map((match) => ({ pattern, match }))),
    );
    expect(got.map((m) => m.pattern)).toEqual([0, 0, 1, 1, 1, 2]);
    expect(got).toEqual(want);
  });

  it('answers calls that change nothing with one shared frozen result', () => {
    const group = NfaGroup.compile([pair('a', 'b')]);
    const state = group.createState();
    const first = group.process(state, { type: 'x', amount: 0 }, 0);
    expect(group.process(state, { type: 'y', amount: 0 }, 1)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('refuses a snapshot of an unknown version or of another group', () => {
    const group = NfaGroup.compile([pair('a', 'b'), pair('a', 'c')]);
    const state = group.createState();
    group.process(state, { type: 'a', amount: 0 }, 0);
    const snapshot = group.snapshot(state);
    expect(snapshot.patterns).toEqual([]);
    expect(snapshot.partial.length).toBeGreaterThan(0);
    const codeOf = (run: () => unknown): string | undefined => {
      try {
        run();
        return undefined;
      } catch (error) {
        return isCepheusError(error) ? error.code : 'other';
      }
    };
    expect(codeOf(() => group.restore({ ...snapshot, version: 2 } as unknown as NfaGroupSnapshot<Tx>))).toBe(
      'CEP_STATE_VERSION',
    );
    expect(codeOf(() => NfaGroup.compile([pair('a', 'b')]).restore({ ...snapshot, partial: [5, 1, 1, 0, 0] }))).toBe(
      'STATE_RESTORE_FAILED',
    );
    const other = NfaGroup.of([NFA.compile(pair('a', 'b'), { skip: AfterMatchSkipStrategy.skipToNext() })]);
    expect(codeOf(() => other.restore(snapshot))).toBe('STATE_RESTORE_FAILED');
    expect(group.snapshot(group.restore(JSON.parse(JSON.stringify(snapshot)) as NfaGroupSnapshot<Tx>))).toEqual(
      snapshot,
    );
  });
});
