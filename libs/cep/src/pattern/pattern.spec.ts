import { isCepheusError } from '@cepheus/common';
import { AfterMatchSkipStrategy } from '../after-match/after-match-skip-strategy';
import { NFA } from '../nfa/nfa';
import { Pattern } from './pattern';

type Ev = { name: string };
const yes = (): boolean => true;

function malformed(build: () => unknown): string {
  try {
    build();
  } catch (error) {
    if (isCepheusError(error, 'CEP_MALFORMED_PATTERN')) return error.message;
    throw error;
  }
  throw new Error('expected CEP_MALFORMED_PATTERN');
}

describe('Pattern definition errors (CEP_MALFORMED_PATTERN)', () => {
  const a = () => Pattern.begin<Ev>('a').where(yes);
  it.each<[string, () => unknown, RegExp]>([
    ['empty name', () => Pattern.begin<Ev>(''), /non-empty name/],
    ['two quantifiers', () => a().oneOrMore().times(2), /already set/],
    ['times(0)', () => a().times(0), /to >= 1/],
    ['times(3, 2)', () => a().times(3, 2), /from <= to/],
    ['optional twice', () => a().optional().optional(), /already set/],
    ['consecutive without quantifier', () => a().consecutive(), /needs times/],
    ['consecutive then allowCombinations', () => a().oneOrMore().consecutive().allowCombinations(), /already set/],
    ['greedy without quantifier', () => a().greedy(), /quantifier first/],
    ['until on a single step', () => a().until(yes), /oneOrMore/],
    ['quantifier on NOT', () => a().notNext('n').where(yes).oneOrMore(), /NOT step/],
    ['optional on NOT', () => a().notFollowedBy('n').optional(), /NOT step/],
    ['NOT after optional', () => a().optional().notNext('n'), /optional/],
    ['two NOTs in a row', () => a().notNext('n').notFollowedBy('m'), /in a row/],
    ['within(0)', () => a().within(0), /positive/],
    ['where on a group', () => Pattern.begin<Ev>(a()).where(yes), /group/],
    ['greedy on a group', () => Pattern.begin<Ev>(a()).oneOrMore().greedy(), /group/],
  ])('%s', (_name, build, message) => {
    expect(malformed(build)).toMatch(message);
  });

  it.each<[string, () => Pattern<Ev>, RegExp]>([
    ['duplicate names', () => a().next('a'), /Duplicate/],
    ['duplicate names inside a group', () => a().next(Pattern.begin<Ev>('a')), /Duplicate/],
    ['NOT at the end of a group', () => a().next(Pattern.begin<Ev>('x').notNext('n')), /cannot end with the NOT/],
    ['notFollowedBy at the end without within', () => a().notFollowedBy('n'), /within/],
    ['optional step after a greedy one (as Flink)', () => a().oneOrMore().greedy().next('b').optional(), /greedy/],
    [
      'greedy with allowCombinations (as Flink)',
      () => a().oneOrMore().allowCombinations().greedy(),
      /allowCombinations/,
    ],
    ['allowCombinations after greedy', () => a().oneOrMore().greedy().allowCombinations(), /greedy/],
    [
      'a skip target inside a group (as Flink)',
      () => Pattern.begin<Ev>(Pattern.begin<Ev>('g')).next('b'),
      /outside a group/,
    ],
    ['a gap limit on a looping step', () => a().oneOrMore().within(5, 'previousAndCurrent'), /single event/],
    [
      'a gap limit in a pattern with a group',
      () => Pattern.begin<Ev>(Pattern.begin<Ev>('g')).next('b').within(5, 'previousAndCurrent'),
      /with a group/,
    ],
    [
      'a gap limit larger than the window (as Flink)',
      () => a().next('b').within(5, 'previousAndCurrent').within(3),
      /larger/,
    ],
  ])('compile: %s', (name, build, message) => {
    const skip = name.startsWith('a skip target') ? AfterMatchSkipStrategy.skipToFirst('g') : undefined;
    expect(malformed(() => NFA.compile(build(), { skip }))).toMatch(message);
  });

  it.each<[string, () => Pattern<Ev>]>([
    ['only optional steps', () => a().optional()],
    ['a greedy last step', () => a().oneOrMore().greedy()],
    ['times(0, n) after a greedy step (Flink accepts it too)', () => a().oneOrMore().greedy().next('b').times(0, 2)],
    [
      'notFollowedBy at the end with a gap limit instead of a window',
      () => a().notFollowedBy('n').within(5, 'previousAndCurrent'),
    ],
  ])('compile accepts %s, as Flink does', (_name, build) => {
    expect(() => NFA.compile(build())).not.toThrow();
  });

  it('skip target must be a step', () => {
    expect(malformed(() => NFA.compile(a().next('b'), { skip: AfterMatchSkipStrategy.skipToFirst('zz') }))).toMatch(
      /names no step/,
    );
    expect(() => NFA.compile(a().next('b'), { skip: AfterMatchSkipStrategy.skipToLast('b') })).not.toThrow();
  });

  it('describes itself as data', () => {
    const p = Pattern.begin<Ev>('a', AfterMatchSkipStrategy.skipPastLastEvent())
      .where(yes)
      .followedByAny('b')
      .times(2, 4)
      .allowCombinations()
      .within(500)
      .notNext('c')
      .within(100);
    expect(p.getWindow()).toBe(100);
    expect(p.getSkipStrategy()?.kind).toBe('skipPastLastEvent');
    expect(p.toElements().map((e) => [e.kind, e.name, e.contiguity, e.quantifier.min, e.quantifier.max])).toEqual([
      ['step', 'a', 'strict', 1, 1],
      ['step', 'b', 'any', 2, 4],
      ['notNext', 'c', 'strict', 1, 1],
    ]);
    expect(p.toElements()[1].quantifier.inner).toBe('any');
  });

  it('where and or combine', () => {
    const p = Pattern.begin<{ v: number }>('x')
      .where((e) => e.v > 1)
      .where((e) => e.v < 5)
      .or((e) => e.v === 10);
    const cond = p.toElements()[0].condition;
    const ctx = { getEventsForPattern: () => [] };
    expect([0, 2, 5, 10].map((v) => cond({ v }, ctx))).toEqual([false, true, false, true]);
  });
});
