import { AfterMatchSkipStrategy, NFA, Pattern } from '@cepheus/cep';
import type { ConditionFn } from '../condition/compile-condition';
import type { RuleEvent } from '../condition/facts';
import type { SequenceStep, SkipStrategy } from '../model/rule';

/** A step whose conditions are already compiled. */
export interface StepConditions {
  readonly step: SequenceStep;
  readonly where: ConditionFn;
  readonly until?: ConditionFn;
}

/** The automaton type of a compiled sequence rule. */
export type RuleNfa = NFA<RuleEvent>;

/** The skip strategy object for a rule's `skip` (default skipPastLastEvent: one alert per run of events). */
export function skipStrategyOf(skip: SkipStrategy | undefined): AfterMatchSkipStrategy {
  if (skip === undefined || skip === 'skipPastLastEvent') return AfterMatchSkipStrategy.skipPastLastEvent();
  if (skip === 'noSkip') return AfterMatchSkipStrategy.noSkip();
  if (skip === 'skipToNext') return AfterMatchSkipStrategy.skipToNext();
  return 'skipToFirst' in skip
    ? AfterMatchSkipStrategy.skipToFirst(skip.skipToFirst)
    : AfterMatchSkipStrategy.skipToLast(skip.skipToLast);
}

type RulePattern = Pattern<RuleEvent>;

function qualify(p: RulePattern, s: StepConditions): RulePattern {
  const step = s.step;
  let q = p.where(s.where);
  if (typeof step.times === 'number') q = q.times(step.times);
  else if (step.times !== undefined) q = q.times(step.times.from, step.times.to);
  if (step.timesOrMore !== undefined) q = q.timesOrMore(step.timesOrMore);
  if (step.oneOrMore === true) q = q.oneOrMore();
  if (step.consecutive === true) q = q.consecutive();
  if (step.allowCombinations === true) q = q.allowCombinations();
  if (s.until !== undefined) q = q.until(s.until);
  if (step.optional === true) q = q.optional();
  if (step.greedy === true) q = q.greedy();
  return q;
}

/**
 * Builds the CEP pattern of a sequence rule and compiles it to an NFA: one immutable automaton per rule version that
 * serves every key (the per-key state is handed in), as Flink's NFACompiler does.
 */
export function compileSequence(
  steps: readonly StepConditions[],
  withinMs: number | undefined,
  skip: SkipStrategy | undefined,
  maxPartialMatches: number | undefined,
): RuleNfa {
  const strategy = skipStrategyOf(skip);
  let p = qualify(Pattern.begin<RuleEvent>(steps[0].step.name, strategy), steps[0]);
  for (const s of steps.slice(1)) {
    const name = s.step.name;
    switch (s.step.contiguity ?? 'followedBy') {
      case 'next':
        p = p.next(name);
        break;
      case 'followedBy':
        p = p.followedBy(name);
        break;
      case 'followedByAny':
        p = p.followedByAny(name);
        break;
      case 'notNext':
        p = p.notNext(name);
        break;
      case 'notFollowedBy':
        p = p.notFollowedBy(name);
        break;
    }
    p = qualify(p, s);
  }
  if (withinMs !== undefined) p = p.within(withinMs);
  return NFA.compile<RuleEvent>(p, {
    skip: strategy,
    ...(maxPartialMatches === undefined ? {} : { maxPartialMatches }),
  });
}
