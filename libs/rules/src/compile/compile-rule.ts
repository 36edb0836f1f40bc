import { CepheusError } from '@cepheus/common';
import { compileCondition, type CompiledCondition, type ConditionFn } from '../condition/compile-condition';
import { FactRegistry } from '../condition/facts';
import { fieldToPath, parsePath, pathGetter, type PathSegments } from '../condition/json-path';
import { OperatorRegistry } from '../condition/operators';
import { compileTemplate, type CompiledTemplate } from '../alert/template';
import { durationMs } from '../model/duration';
import type { AggregateRule, Rule, SequenceRule, TopLevelCondition } from '../model/rule';
import { validateRule } from '../schema/validate-rule';
import { compileSequence, type RuleNfa } from '../sequence/compile-sequence';
import { guardsOf, type RuleGuard } from './rule-guard';
import { stateShapeOf } from './state-compatibility';

/** Counters a compiled rule keeps while it runs. */
export interface RuleStats {
  /** Condition evaluations that threw (e.g. `in` against a number); each counted as "does not hold". */
  conditionErrors: number;
}

interface CompiledRuleBase {
  readonly id: string;
  readonly version: number;
  readonly rule: Rule;
  /** Group-by fields as written and as getters. */
  readonly groupBy: readonly string[];
  readonly groupByGetters: readonly ((event: unknown) => unknown)[];
  /** Identity of the rule's keyed state: state written under another shape is discarded, not reused. */
  readonly stateShape: string;
  /** When set, only events with a value in `values` at `path` can matter to the rule. */
  readonly guard: RuleGuard | undefined;
  /** Every necessary equality (`guard` is the first); the rule set indexes the rule on the most selective one. */
  readonly guards: readonly RuleGuard[];
  readonly effectiveFrom: number;
  readonly template: CompiledTemplate;
  readonly stats: RuleStats;
}

/** A compiled sequence rule: its NFA and its compiled step conditions. */
export interface CompiledSequenceRule extends CompiledRuleBase {
  readonly kind: 'sequence';
  readonly rule: SequenceRule;
  readonly nfa: RuleNfa;
  readonly steps: readonly { name: string; condition: CompiledCondition; until?: CompiledCondition }[];
  readonly withinMs: number | undefined;
  readonly timeoutTemplate: CompiledTemplate | undefined;
  /**
   * The first step's test when that step is mandatory: a key with no NFA state needs one only for an event that
   * passes it (nothing else can start a match).
   */
  readonly startTest: ConditionFn | undefined;
}

/** A compiled aggregate rule. */
export interface CompiledAggregateRule extends CompiledRuleBase {
  readonly kind: 'aggregate';
  readonly rule: AggregateRule;
  readonly filter: CompiledCondition | undefined;
  readonly field: string | undefined;
  readonly fieldGetter: ((event: unknown) => unknown) | undefined;
  readonly windowMs: number;
}

/** A rule ready to evaluate. */
export type CompiledRule = CompiledSequenceRule | CompiledAggregateRule;

/** What rules compile against. */
export interface RuleCompileOptions {
  operators?: OperatorRegistry;
  facts?: FactRegistry;
  /** Bound on partial matches per key and rule (protects memory against pathological streams). */
  maxPartialMatches?: number;
}

function safe(fn: ConditionFn, stats: RuleStats): ConditionFn {
  // A throwing condition inside the NFA would abandon the event half-processed; here it just does not hold.
  return (e, ctx) => {
    try {
      return fn(e, ctx);
    } catch {
      stats.conditionErrors++;
      return false;
    }
  };
}

function getterOf(field: string): (event: unknown) => unknown {
  return pathGetter(parsePath(fieldToPath(field)) as PathSegments);
}

/**
 * Validates and compiles a rule document. Throws `CepheusError` `RULE_INVALID` (with `details.errors`) when the
 * document is invalid and `RULE_COMPILE_FAILED` when a valid document cannot be built (e.g. the CEP library refuses the
 * pattern).
 */
export function compileRule(json: unknown, options: RuleCompileOptions = {}): CompiledRule {
  const operators = options.operators ?? new OperatorRegistry();
  const facts = options.facts ?? new FactRegistry();
  const result = validateRule(json, { operators, facts });
  if (!result.ok) {
    const first = result.errors[0];
    throw new CepheusError('RULE_INVALID', `rule is invalid: ${first.field || '/'} ${first.reason}`, {
      details: { errors: result.errors },
    });
  }
  const rule = result.rule;
  try {
    return build(rule, operators, facts, options.maxPartialMatches);
  } catch (cause) {
    if (cause instanceof CepheusError && cause.code === 'RULE_INVALID') throw cause;
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new CepheusError(
      'RULE_COMPILE_FAILED',
      `rule ${rule.id} v${rule.version} could not be compiled: ${message}`,
      {
        cause,
        details: { ruleId: rule.id, version: rule.version },
      },
    );
  }
}

function build(
  rule: Rule,
  operators: OperatorRegistry,
  facts: FactRegistry,
  maxPartialMatches: number | undefined,
): CompiledRule {
  const stats: RuleStats = { conditionErrors: 0 };
  const base = {
    id: rule.id,
    version: rule.version,
    groupBy: rule.groupBy,
    groupByGetters: rule.groupBy.map(getterOf),
    stateShape: stateShapeOf(rule),
    effectiveFrom: rule.effectiveFrom ?? -Infinity,
    template: compileTemplate(rule.alert.template),
    stats,
  };
  if (rule.type === 'aggregate') {
    const a = rule.aggregate;
    const filter = a.filter === undefined ? undefined : compileCondition(a.filter, { operators, facts });
    return {
      ...base,
      kind: 'aggregate',
      rule,
      ...guardFields(a.filter === undefined ? [] : guardsOf([a.filter])),
      filter: filter === undefined ? undefined : { ...filter, test: safe(filter.test, stats) },
      field: a.field,
      fieldGetter: a.field === undefined ? undefined : getterOf(a.field),
      windowMs: durationMs(a.window),
    };
  }
  const seq = rule.sequence;
  const stepNames = seq.steps.map((s) => s.name);
  const steps = seq.steps.map((s) => {
    const condition = compileCondition(s.condition, { operators, facts, stepNames });
    const until = s.until === undefined ? undefined : compileCondition(s.until, { operators, facts, stepNames });
    return { name: s.name, condition, ...(until === undefined ? {} : { until }) };
  });
  const withinMs = seq.within === undefined ? undefined : durationMs(seq.within);
  const safeTests = steps.map((s) => safe(s.condition.test, stats));
  const nfa = compileSequence(
    seq.steps.map((step, i) => ({
      step,
      where: safeTests[i],
      ...(steps[i].until === undefined ? {} : { until: safe((steps[i].until as CompiledCondition).test, stats) }),
    })),
    withinMs,
    seq.skip,
    maxPartialMatches,
  );
  return {
    ...base,
    kind: 'sequence',
    rule,
    ...guardFields(sequenceGuards(rule)),
    nfa,
    steps,
    withinMs,
    timeoutTemplate: seq.timeoutAlert === undefined ? undefined : compileTemplate(seq.timeoutAlert.template),
    startTest:
      seq.steps[0].optional === true || (typeof seq.steps[0].times === 'object' && seq.steps[0].times.from === 0)
        ? undefined
        : safeTests[0],
  };
}

/**
 * A sequence can skip an event only when no step could take it and skipping cannot change the outcome: with strict
 * contiguity (`next`, `notNext`, `consecutive`) an unrelated event breaks a partial match, so such rules see every
 * event. Otherwise the guard is the union of every step's (and `until`'s) guard, and absent if one has none.
 */
function sequenceGuards(rule: SequenceRule): RuleGuard[] {
  const steps = rule.sequence.steps;
  if (steps.some((s) => s.contiguity === 'next' || s.contiguity === 'notNext' || s.consecutive === true)) {
    return [];
  }
  const conditions: TopLevelCondition[] = [];
  for (const s of steps) {
    conditions.push(s.condition);
    if (s.until !== undefined) conditions.push(s.until);
  }
  return guardsOf(conditions);
}

function guardFields(guards: RuleGuard[]): { guard: RuleGuard | undefined; guards: readonly RuleGuard[] } {
  return { guard: guards[0], guards };
}
