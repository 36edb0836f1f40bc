import { AfterMatchSkipStrategy } from '../after-match/after-match-skip-strategy';
import { Pattern } from '../pattern/pattern';
import { namedEvents, runNfa, showMatch, type TimedEvent } from '../testing/nfa-test-harness';
import { NFA } from './nfa';

interface Ev {
  name: string;
}

const is =
  (...prefixes: string[]) =>
  (e: Ev): boolean =>
    prefixes.some((p) => e.name.startsWith(p));

function results(pattern: Pattern<Ev>, input: TimedEvent<Ev>[], skip?: AfterMatchSkipStrategy): string[] {
  const order = input.map((e) => e.event.name);
  return runNfa(NFA.compile(pattern, { skip }), input).matches.map((m) => showMatch(m.match, order));
}

const sorted = (xs: string[]): string[] => [...xs].sort();

describe('Flink CEP documentation examples', () => {
  describe('contiguity between steps: "a b" over a c b1 b2', () => {
    const input = namedEvents('a', 'c', 'b1', 'b2');
    it('strict (next) finds nothing', () => {
      expect(results(Pattern.begin<Ev>('a').where(is('a')).next('b').where(is('b')), input)).toEqual([]);
    });
    it('relaxed (followedBy) finds {a b1}', () => {
      expect(results(Pattern.begin<Ev>('a').where(is('a')).followedBy('b').where(is('b')), input)).toEqual(['a b1']);
    });
    it('non-deterministic relaxed (followedByAny) finds {a b1} and {a b2}', () => {
      const p = Pattern.begin<Ev>('a').where(is('a')).followedByAny('b').where(is('b'));
      expect(results(p, input)).toEqual(['a b1', 'a b2']);
    });
  });

  describe('contiguity of a b+ c over a b1 b2 c', () => {
    const input = namedEvents('a', 'b1', 'b2', 'c');
    it('strict: a next b+ consecutive next c', () => {
      const p = Pattern.begin<Ev>('a').where(is('a')).next('b').where(is('b')).oneOrMore().consecutive();
      expect(results(p.next('c').where(is('c')), input)).toEqual(['a b1 b2 c']);
    });
    it('relaxed: a followedBy b+ followedBy c', () => {
      const p = Pattern.begin<Ev>('a').where(is('a')).followedBy('b').where(is('b')).oneOrMore();
      expect(sorted(results(p.followedBy('c').where(is('c')), input))).toEqual(['a b1 b2 c', 'a b1 c']);
    });
    it('non-deterministic relaxed: a followedByAny b+ allowCombinations followedByAny c', () => {
      const p = Pattern.begin<Ev>('a').where(is('a')).followedByAny('b').where(is('b')).oneOrMore().allowCombinations();
      expect(sorted(results(p.followedByAny('c').where(is('c')), input))).toEqual(['a b1 b2 c', 'a b1 c', 'a b2 c']);
    });
  });

  describe('contiguity within looping patterns: a b+ c over a b1 d1 b2 d2 b3 c', () => {
    const input = namedEvents('a', 'b1', 'd1', 'b2', 'd2', 'b3', 'c');
    const base = () => Pattern.begin<Ev>('a').where(is('a')).followedByAny('b').where(is('b')).oneOrMore();
    it('relaxed (default)', () => {
      expect(sorted(results(base().followedBy('c').where(is('c')), input))).toEqual(
        sorted(['a b1 c', 'a b1 b2 c', 'a b1 b2 b3 c', 'a b2 c', 'a b2 b3 c', 'a b3 c']),
      );
    });
    it('non-deterministic relaxed (allowCombinations) adds {a b1 b3 c}', () => {
      const p = base().allowCombinations().followedBy('c').where(is('c'));
      expect(sorted(results(p, input))).toEqual(
        sorted(['a b1 c', 'a b1 b2 c', 'a b1 b3 c', 'a b1 b2 b3 c', 'a b2 c', 'a b2 b3 c', 'a b3 c']),
      );
    });
    it('strict (consecutive): the d after each b breaks the loop', () => {
      // Flink's documentation lists only {a b3 c}; that holds when c must follow strictly. With followedBy c the
      // one-b matches survive (Flink's NFA does the same: the loop ends, c's state ignores the d).
      const strictC = base().consecutive().next('c').where(is('c'));
      expect(results(strictC, input)).toEqual(['a b3 c']);
      const relaxedC = base().consecutive().followedBy('c').where(is('c'));
      expect(sorted(results(relaxedC, input))).toEqual(sorted(['a b1 c', 'a b2 c', 'a b3 c']));
    });
  });

  describe('consecutive() and allowCombinations(): C D A1 A2 A3 D A4 B', () => {
    const input = namedEvents('C', 'D1', 'A1', 'A2', 'A3', 'D2', 'A4', 'B');
    const middle = () => Pattern.begin<Ev>('start').where(is('C')).followedBy('middle').where(is('A')).oneOrMore();
    it('with consecutive', () => {
      const p = middle().consecutive().followedBy('end1').where(is('B'));
      expect(sorted(results(p, input))).toEqual(sorted(['C A1 B', 'C A1 A2 B', 'C A1 A2 A3 B']));
    });
    it('without consecutive', () => {
      const p = middle().followedBy('end1').where(is('B'));
      expect(sorted(results(p, input))).toEqual(sorted(['C A1 B', 'C A1 A2 B', 'C A1 A2 A3 B', 'C A1 A2 A3 A4 B']));
    });
    it('with allowCombinations', () => {
      const p = middle().allowCombinations().followedBy('end1').where(is('B'));
      expect(sorted(results(p, input))).toEqual(
        sorted([
          'C A1 B',
          'C A1 A2 B',
          'C A1 A3 B',
          'C A1 A4 B',
          'C A1 A2 A3 B',
          'C A1 A2 A4 B',
          'C A1 A3 A4 B',
          'C A1 A2 A3 A4 B',
        ]),
      );
    });
  });

  describe('after-match skip strategies: b+ c over b1 b2 b3 c', () => {
    const input = namedEvents('b1', 'b2', 'b3', 'c');
    // consecutive(): with a relaxed loop the b-loops that began at b1 would keep waiting for more b's, and a skip
    // strategy holds later matches back while an earlier partial match runs (as Flink does).
    const pattern = () => Pattern.begin<Ev>('b').where(is('b')).oneOrMore().consecutive().next('c').where(is('c'));
    it.each([
      ['noSkip', AfterMatchSkipStrategy.noSkip(), ['b1 b2 b3 c', 'b2 b3 c', 'b3 c']],
      ['skipToNext', AfterMatchSkipStrategy.skipToNext(), ['b1 b2 b3 c', 'b2 b3 c', 'b3 c']],
      ['skipPastLastEvent', AfterMatchSkipStrategy.skipPastLastEvent(), ['b1 b2 b3 c']],
      ['skipToFirst(b)', AfterMatchSkipStrategy.skipToFirst('b'), ['b1 b2 b3 c', 'b2 b3 c', 'b3 c']],
      ['skipToLast(b)', AfterMatchSkipStrategy.skipToLast('b'), ['b1 b2 b3 c', 'b3 c']],
    ])('%s', (_name, skip, expected) => {
      expect(results(pattern(), input, skip)).toEqual(expected);
    });
  });

  describe('after-match skip strategies: (a|b|c) (b|c) c*.greedy d over a b c1 c2 c3 d', () => {
    const input = namedEvents('a', 'b', 'c1', 'c2', 'c3', 'd');
    const pattern = () =>
      Pattern.begin<Ev>('a')
        .where(is('a', 'b', 'c'))
        .next('b')
        .where(is('b', 'c'))
        .next('c')
        .where(is('c'))
        .oneOrMore()
        .optional()
        .greedy()
        .next('d')
        .where(is('d'));
    it('noSkip', () => {
      expect(results(pattern(), input)).toEqual(['a b c1 c2 c3 d', 'b c1 c2 c3 d', 'c1 c2 c3 d', 'c2 c3 d']);
    });
    it('skipToFirst on the c* step (the documentation calls it b*)', () => {
      expect(results(pattern(), input, AfterMatchSkipStrategy.skipToFirst('c'))).toEqual([
        'a b c1 c2 c3 d',
        'c1 c2 c3 d',
      ]);
    });
  });

  describe('after-match skip strategies: a b+ over a b1 b2 b3', () => {
    const input = namedEvents('a', 'b1', 'b2', 'b3');
    const pattern = () => Pattern.begin<Ev>('a').where(is('a')).next('b').where(is('b')).oneOrMore();
    it('noSkip', () => {
      expect(results(pattern(), input)).toEqual(['a b1', 'a b1 b2', 'a b1 b2 b3']);
    });
    it('skipToNext', () => {
      expect(results(pattern(), input, AfterMatchSkipStrategy.skipToNext())).toEqual(['a b1']);
    });
  });

  it('greedy takes the longest run; non-greedy also ends early', () => {
    const input = namedEvents('a', 'b1', 'b2', 'x', 'c');
    const p = (greedy: boolean) => {
      const b = Pattern.begin<Ev>('a').where(is('a')).next('b').where(is('b')).oneOrMore();
      return (greedy ? b.greedy() : b).followedBy('c').where(is('c', 'b'));
    };
    // Non-greedy, the loop may end after b1 and b2 is then taken by c (its condition accepts b's too).
    expect(sorted(results(p(false), input))).toEqual(sorted(['a b1 b2', 'a b1 b2 c']));
    expect(results(p(true), input)).toEqual(['a b1 b2 c']);
  });

  it('until() stops a loop', () => {
    const input = namedEvents('a', 'b1', 'b2', 'x', 'b3', 'c');
    const p = Pattern.begin<Ev>('a')
      .where(is('a'))
      .followedBy('b')
      .where(is('b'))
      .oneOrMore()
      .until(is('x'))
      .followedBy('c')
      .where(is('c'));
    expect(sorted(results(p, input))).toEqual(sorted(['a b1 c', 'a b1 b2 c']));
  });

  it('times(2, 3) and optional()', () => {
    const input = namedEvents('a', 'b1', 'b2', 'b3', 'b4', 'c');
    const p = Pattern.begin<Ev>('a').where(is('a')).next('b').where(is('b')).times(2, 3).followedBy('c').where(is('c'));
    expect(sorted(results(p, input))).toEqual(sorted(['a b1 b2 c', 'a b1 b2 b3 c']));
    const opt = Pattern.begin<Ev>('a').where(is('a')).followedBy('b').where(is('x')).optional().followedBy('c');
    expect(results(opt.where(is('c')), input)).toEqual(['a c']);
  });
});

describe('NOT steps', () => {
  const pattern = () => Pattern.begin<Ev>('a').where(is('a'));
  it('notNext forbids the very next event', () => {
    const p = pattern().notNext('x').where(is('x')).followedBy('c').where(is('c'));
    expect(results(p, namedEvents('a1', 'x', 'c1', 'a2', 'y', 'c2'))).toEqual(['a2 c2']);
  });
  it('notFollowedBy forbids any event in between', () => {
    const p = pattern().notFollowedBy('x').where(is('x')).followedBy('c').where(is('c'));
    expect(results(p, namedEvents('a1', 'y', 'x', 'c1', 'a2', 'y2', 'c2'))).toEqual(['a2 c2']);
  });
  it('notNext at the end completes on the next event', () => {
    const p = pattern().notNext('x').where(is('x'));
    const run = runNfa(NFA.compile(p), namedEvents('a1', 'x', 'a2', 'y'));
    expect(run.matches.map((m) => [m.at, m.match.a[0].name])).toEqual([[3, 'a2']]);
  });
  it('"a square not followed by a triangle within 10 minutes" raises on the window end', () => {
    const min = 60_000;
    const p = Pattern.begin<{ shape: string }>('square')
      .where((e) => e.shape === 'square')
      .notFollowedBy('triangle')
      .where((e) => e.shape === 'triangle')
      .within(10 * min);
    const nfa = NFA.compile(p);
    const state = nfa.createState();
    expect(nfa.process(state, { shape: 'square' }, 0).matches).toEqual([]);
    expect(nfa.process(state, { shape: 'square' }, 5 * min).matches).toEqual([]);
    expect(nfa.process(state, { shape: 'triangle' }, 12 * min)).toEqual({
      matches: [{ square: [{ shape: 'square' }] }],
      timedOut: [],
    });
    expect(nfa.advanceTime(state, 30 * min)).toEqual({ matches: [], timedOut: [] });
    expect(nfa.stats(state)).toEqual({ partialMatches: 0, bufferedEvents: 0, droppedPartialMatches: 0 });
  });
});

describe('windows and timeouts', () => {
  const min = 60_000;
  const pattern = Pattern.begin<{ shape: string }>('square')
    .where((e) => e.shape === 'square')
    .followedBy('triangle')
    .where((e) => e.shape === 'triangle')
    .within(10 * min);
  it('reports a square without a triangle on the side output', () => {
    const nfa = NFA.compile(pattern);
    const state = nfa.createState();
    nfa.process(state, { shape: 'square' }, 0);
    expect(nfa.advanceTime(state, 10 * min - 1)).toEqual({ matches: [], timedOut: [] });
    expect(nfa.advanceTime(state, 10 * min)).toEqual({
      matches: [],
      timedOut: [{ match: { square: [{ shape: 'square' }] }, timeoutTimestamp: 10 * min }],
    });
  });
  it('an event exactly at the window end is too late', () => {
    const nfa = NFA.compile(pattern);
    const state = nfa.createState();
    nfa.process(state, { shape: 'square' }, 0);
    const r = nfa.process(state, { shape: 'triangle' }, 10 * min);
    expect(r.matches).toEqual([]);
    expect(r.timedOut).toHaveLength(1);
  });
  it('matches inside the window and frees the buffer', () => {
    const nfa = NFA.compile(pattern);
    const state = nfa.createState();
    nfa.process(state, { shape: 'square' }, 0);
    expect(nfa.process(state, { shape: 'triangle' }, 9 * min).matches).toEqual([
      { square: [{ shape: 'square' }], triangle: [{ shape: 'triangle' }] },
    ]);
    expect(nfa.stats(state)).toEqual({ partialMatches: 0, bufferedEvents: 0, droppedPartialMatches: 0 });
  });
});

describe('iterative conditions', () => {
  it('amount greater than the sum of the earlier ones', () => {
    interface Pay {
      id: string;
      amount: number;
    }
    const p = Pattern.begin<Pay>('small')
      .where((e) => e.amount < 100)
      .oneOrMore()
      .consecutive()
      .next('big')
      .where(
        (e, ctx) => e.amount >= 100 && e.amount > ctx.getEventsForPattern('small').reduce((s, x) => s + x.amount, 0),
      );
    const input = [60, 70, 120, 30, 200].map((amount, i) => ({ event: { id: `p${i}`, amount }, timestamp: i }));
    const got = runNfa(NFA.compile(p), input).matches.map((m) => [...m.match.small, ...m.match.big].map((e) => e.id));
    // 120 is not more than 60 + 70, but is more than 70 alone; 200 follows only 30 (120 is not small).
    expect(got).toEqual([
      ['p1', 'p2'],
      ['p3', 'p4'],
    ]);
  });
});

describe('groups', () => {
  it('a group repeated twice', () => {
    const g = Pattern.begin<Ev>('x').where(is('x')).next('y').where(is('y'));
    const p = Pattern.begin<Ev>('s').where(is('s')).followedBy(g).times(2).next('e').where(is('e'));
    const run = runNfa(NFA.compile(p), namedEvents('s', 'x1', 'y1', 'z', 'x2', 'y2', 'e'));
    expect(run.matches.map((m) => showMatch(m.match, ['s', 'x1', 'y1', 'z', 'x2', 'y2', 'e']))).toEqual([
      's x1 y1 x2 y2 e',
    ]);
    expect(run.matches[0].match.x.map((e) => e.name)).toEqual(['x1', 'x2']);
  });
  it('a group with oneOrMore', () => {
    const g = Pattern.begin<Ev>('x').where(is('x')).next('y').where(is('y'));
    const p = Pattern.begin<Ev>(g).oneOrMore().consecutive().next('e').where(is('e'));
    const order = ['x1', 'y1', 'x2', 'y2', 'x3', 'y3', 'e'];
    const got = results(p, namedEvents(...order));
    expect(got).toEqual(['x1 y1 x2 y2 x3 y3 e', 'x2 y2 x3 y3 e', 'x3 y3 e']);
  });
  it('an optional group', () => {
    const g = Pattern.begin<Ev>('x').where(is('x')).next('y').where(is('y'));
    const p = Pattern.begin<Ev>('s').where(is('s')).followedBy(g).optional().followedBy('e').where(is('e'));
    expect(sorted(results(p, namedEvents('s', 'x', 'y', 'e')))).toEqual(['s e', 's x y e']);
  });
});

describe('side output and idle state', () => {
  type S = { k: string };
  const loop = Pattern.begin<S>('a')
    .where((e) => e.k === 'a')
    .followedBy('b')
    .where((e) => e.k === 'b')
    .oneOrMore()
    .within(10);

  it('reports a path as a timeout even once it was a match (the loop could have gone on), as Flink does', () => {
    const nfa = NFA.compile(loop);
    const state = nfa.createState();
    nfa.process(state, { k: 'a' }, 0);
    expect(nfa.process(state, { k: 'b' }, 1).matches).toHaveLength(1);
    nfa.process(state, { k: 'a' }, 5);
    const r = nfa.advanceTime(state, 100);
    expect(r.timedOut).toEqual([
      { match: { a: [{ k: 'a' }], b: [{ k: 'b' }] }, timeoutTimestamp: 10 },
      { match: { a: [{ k: 'a' }] }, timeoutTimestamp: 15 },
    ]);
    expect(nfa.isIdle(state)).toBe(true);
  });

  it('reports no timeout when reportTimeouts is off, and matches and state are unchanged', () => {
    const reporting = NFA.compile(loop);
    const silent = NFA.compile(loop, { reportTimeouts: false });
    const a = reporting.createState();
    const b = silent.createState();
    const input = ['a', 'b', 'a', 'x', 'a', 'b', 'b', 'x', 'x', 'a', 'x'];
    let timedOut = 0;
    input.forEach((k, t) => {
      const r = reporting.process(a, { k }, t * 3);
      const q = silent.process(b, { k }, t * 3);
      timedOut += r.timedOut.length;
      expect(q.matches).toEqual(r.matches);
      expect(q.timedOut).toEqual([]);
      expect(silent.snapshot(b)).toEqual(reporting.snapshot(a));
    });
    timedOut += reporting.advanceTime(a, 100).timedOut.length;
    expect(silent.advanceTime(b, 100)).toEqual({ matches: [], timedOut: [] });
    expect(timedOut).toBeGreaterThan(0);
    expect(silent.isIdle(b)).toBe(true);
  });

  it('holds a match for a skip strategy while an earlier partial match runs, and releases it on timeout', () => {
    type V = { k: string; v: number };
    const p = Pattern.begin<V>('s')
      .where((e) => e.k === 's')
      .followedBy('t')
      .where((e, ctx) => e.k === 't' && e.v === ctx.getEventsForPattern('s')[0].v)
      .within(10);
    const nfa = NFA.compile(p, { skip: AfterMatchSkipStrategy.skipPastLastEvent() });
    const state = nfa.createState();
    nfa.process(state, { k: 's', v: 1 }, 0);
    nfa.process(state, { k: 's', v: 2 }, 1);
    expect(nfa.process(state, { k: 't', v: 2 }, 2).matches).toEqual([]);
    expect(nfa.stats(state).partialMatches).toBe(2);
    expect(nfa.advanceTime(state, 10)).toEqual({
      matches: [{ s: [{ k: 's', v: 2 }], t: [{ k: 't', v: 2 }] }],
      timedOut: [{ match: { s: [{ k: 's', v: 1 }] }, timeoutTimestamp: 10 }],
    });
    expect(nfa.isIdle(state)).toBe(true);
  });
});
