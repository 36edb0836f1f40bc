import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { CepheusError } from '@cepheus/common';
import { FactRegistry, STEP_AGGREGATIONS } from '../condition/facts';
import { parsePath } from '../condition/json-path';
import { OperatorRegistry } from '../condition/operators';
import { durationMs } from '../model/duration';
import type { ConditionNode, Rule, SequenceStep, TopLevelCondition } from '../model/rule';
import { unknownTemplateVariables } from '../alert/template';
import { RULE_SCHEMA } from './rule-schema';

/** One problem with a rule: a JSON Pointer into the document and a sentence for people. */
export interface RuleValidationError {
  field: string;
  reason: string;
}

/** The answer of {@link validateRule}. */
export type RuleValidationResult = { ok: true; rule: Rule } | { ok: false; errors: RuleValidationError[] };

/** The operators and custom facts a rule may use. Defaults: json-rules-engine's built-ins, no custom facts. */
export interface RuleRegistries {
  operators?: OperatorRegistry;
  facts?: FactRegistry;
}

let compiled: ValidateFunction | undefined;
function schemaValidator(): ValidateFunction {
  // verbose: errors carry their schema, so a `oneOf` can be reported with its description instead of every branch.
  compiled ??= new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false }).compile(RULE_SCHEMA);
  return compiled;
}

const PATH_REASON = "must be a JSONPath in the supported subset: $ then .name, ['quoted name'] or [index] segments";

function describeAjvError(e: ErrorObject): RuleValidationError | undefined {
  const at = e.instancePath;
  const schema = e.parentSchema as { description?: string; pattern?: string } | undefined;
  switch (e.keyword) {
    case 'if':
      return undefined;
    case 'required':
      if (
        (e.params as { missingProperty: string }).missingProperty === 'not' &&
        e.parentSchema === RULE_SCHEMA.definitions.notCondition
      ) {
        return { field: at, reason: 'must have "all", "any" or "not" at its root (json-rules-engine format)' };
      }
      return { field: `${at}/${(e.params as { missingProperty: string }).missingProperty}`, reason: 'is required' };
    case 'additionalProperties':
      return {
        field: `${at}/${(e.params as { additionalProperty: string }).additionalProperty}`,
        reason: 'is not a known property',
      };
    case 'enum':
      return {
        field: at,
        reason: `must be one of: ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'oneOf':
      return {
        field: at,
        reason: schema?.description ? `must be ${lcFirst(schema.description)}` : (e.message ?? 'is invalid'),
      };
    case 'pattern':
      if (e.schema === RULE_SCHEMA.definitions.path.pattern || at.endsWith('/path'))
        return { field: at, reason: PATH_REASON };
      return { field: at, reason: `must match ${String(e.schema)}` };
    case 'not':
      return { field: at, reason: 'a rule has either "sequence" or "aggregate", matching its "type", not both' };
    default:
      return { field: at, reason: e.message ?? 'is invalid' };
  }
}

function lcFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function schemaErrors(errors: readonly ErrorObject[]): RuleValidationError[] {
  // A failed oneOf also reports each failed branch; keep only the oneOf's own summary.
  const oneOfs = errors.filter((e) => e.keyword === 'oneOf');
  const kept = errors.filter(
    (e) =>
      e.keyword === 'oneOf' ||
      !oneOfs.some((o) => e.schemaPath.startsWith(`${o.schemaPath}/`) && e.instancePath.startsWith(o.instancePath)),
  );
  // A leaf where a root is expected falls through to the last else-branch (notCondition), which then reports a missing
  // "not" and every leaf key as unknown: say it once. Nested nodes reach notCondition only when "not" is present.
  const badRoots = new Set(
    kept
      .filter(
        (e) =>
          e.keyword === 'required' &&
          (e.params as { missingProperty: string }).missingProperty === 'not' &&
          e.parentSchema === RULE_SCHEMA.definitions.notCondition,
      )
      .map((e) => e.instancePath),
  );
  const out: RuleValidationError[] = [];
  const seen = new Set<string>();
  for (const e of kept) {
    if (
      e.keyword === 'additionalProperties' &&
      badRoots.has(e.instancePath) &&
      e.parentSchema === RULE_SCHEMA.definitions.notCondition
    )
      continue;
    const d = describeAjvError(e);
    if (d === undefined) continue;
    const k = `${d.field}\u0000${d.reason}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(d);
    }
  }
  return out;
}

/**
 * Deepest nesting of objects and arrays a rule may have (the document itself is level 1). A real rule needs about ten
 * levels plus two per nested `all`/`any`; the limit exists because the schema check, the compiler and `JSON.stringify`
 * all recurse, and a document thousands of levels deep would overflow their stack instead of being refused.
 */
export const MAX_RULE_DEPTH = 64;

/**
 * The JSON Pointer of the first object or array nested deeper than `limit`, or undefined. Iterative, so that measuring
 * a hostile document cannot overflow the stack either.
 */
export function tooDeepAt(json: unknown, limit: number): string | undefined {
  const stack: Array<{ value: unknown; depth: number; at: string }> = [{ value: json, depth: 1, at: '' }];
  while (stack.length > 0) {
    const { value, depth, at } = stack.pop() as { value: unknown; depth: number; at: string };
    if (value === null || typeof value !== 'object') continue;
    if (depth > limit) return at;
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i];
      if (child !== null && typeof child === 'object') {
        stack.push({ value: child, depth: depth + 1, at: `${at}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}` });
      }
    }
  }
  return undefined;
}

/**
 * Validates a rule document: its nesting depth first ({@link MAX_RULE_DEPTH}), then the JSON Schema (every error,
 * with JSON Pointers), then the semantic checks a schema cannot make. Never throws.
 */
export function validateRule(json: unknown, registries: RuleRegistries = {}): RuleValidationResult {
  const deep = tooDeepAt(json, MAX_RULE_DEPTH);
  if (deep !== undefined) {
    return {
      ok: false,
      errors: [{ field: deep, reason: `nests deeper than ${MAX_RULE_DEPTH} levels, the limit of a rule document` }],
    };
  }
  const validate = schemaValidator();
  if (!validate(json)) return { ok: false, errors: schemaErrors(validate.errors ?? []) };
  const rule = json as Rule;
  const errors = semanticErrors(
    rule,
    registries.operators ?? new OperatorRegistry(),
    registries.facts ?? new FactRegistry(),
  );
  return errors.length === 0 ? { ok: true, rule } : { ok: false, errors };
}

/** {@link validateRule}, throwing `CepheusError('RULE_INVALID')` with the errors in `details.errors`. */
export function parseRule(json: unknown, registries: RuleRegistries = {}): Rule {
  const result = validateRule(json, registries);
  if (result.ok) return result.rule;
  const first = result.errors[0];
  throw new CepheusError(
    'RULE_INVALID',
    `rule is invalid: ${first.field || '/'} ${first.reason}${result.errors.length > 1 ? ` (and ${result.errors.length - 1} more)` : ''}`,
    { details: { errors: result.errors } },
  );
}

function semanticErrors(rule: Rule, operators: OperatorRegistry, facts: FactRegistry): RuleValidationError[] {
  const errors: RuleValidationError[] = [];
  const err = (field: string, reason: string): void => {
    errors.push({ field, reason });
  };
  const stepNames = rule.type === 'sequence' ? rule.sequence.steps.map((s) => s.name) : [];
  for (const problem of unknownTemplateVariables(rule.alert.template, stepNames)) err('/alert/template', problem);
  if (rule.type === 'sequence' && rule.sequence.timeoutAlert !== undefined) {
    for (const problem of unknownTemplateVariables(rule.sequence.timeoutAlert.template, stepNames)) {
      err('/sequence/timeoutAlert/template', problem);
    }
  }
  if (rule.type === 'aggregate') {
    const a = rule.aggregate;
    if (!(durationMs(a.window) > 0)) err('/aggregate/window', 'must be a positive duration');
    if (a.function !== 'count' && a.field === undefined) err('/aggregate/field', `is required for ${a.function}`);
    if (!Number.isFinite(a.limit)) err('/aggregate/limit', 'must be a finite number');
    if (a.filter !== undefined) checkCondition(a.filter, '/aggregate/filter', { operators, facts, steps: null, err });
    return errors;
  }
  const seq = rule.sequence;
  const names = new Map<string, number>();
  seq.steps.forEach((s, i) => {
    const at = `/sequence/steps/${i}`;
    if (names.has(s.name)) err(`${at}/name`, `duplicates the name of step ${names.get(s.name)}`);
    else names.set(s.name, i);
    checkStep(s, i, seq.steps.length, seq.within !== undefined, at, err);
    const earlier = seq.steps.slice(0, i + 1).map((x) => x.name);
    checkCondition(s.condition, `${at}/condition`, { operators, facts, steps: earlier, err });
    if (s.until !== undefined) checkCondition(s.until, `${at}/until`, { operators, facts, steps: earlier, err });
  });
  if (seq.within !== undefined && !(durationMs(seq.within) > 0)) err('/sequence/within', 'must be a positive duration');
  const skip = seq.skip;
  if (skip !== undefined && typeof skip === 'object') {
    const [kind, target] = 'skipToFirst' in skip ? ['skipToFirst', skip.skipToFirst] : ['skipToLast', skip.skipToLast];
    if (!names.has(target)) err(`/sequence/skip/${kind}`, `names step "${target}", which does not exist`);
  }
  if (seq.timeoutAlert !== undefined) {
    if (seq.within === undefined) err('/sequence/timeoutAlert', 'needs "within": without a window nothing times out');
    const min = seq.timeoutAlert.minStep;
    if (min !== undefined && !names.has(min))
      err('/sequence/timeoutAlert/minStep', `names step "${min}", which does not exist`);
  }
  return errors;
}

function checkStep(
  s: SequenceStep,
  i: number,
  count: number,
  hasWithin: boolean,
  at: string,
  err: (field: string, reason: string) => void,
): void {
  const negated = s.contiguity === 'notNext' || s.contiguity === 'notFollowedBy';
  if (i === 0 && s.contiguity !== undefined) err(`${at}/contiguity`, 'is not allowed on the first step');
  if (i === count - 1 && s.contiguity === 'notFollowedBy' && !hasWithin) {
    err(`${at}/contiguity`, 'notFollowedBy as the last step needs "within" on the sequence');
  }
  if (i === count - 1 && s.contiguity === 'notNext') err(`${at}/contiguity`, 'notNext cannot be the last step');
  const quantifiers = (['times', 'timesOrMore', 'oneOrMore'] as const).filter(
    (q) => s[q] !== undefined && s[q] !== false,
  );
  if (quantifiers.length > 1) err(`${at}/${quantifiers[1]}`, `cannot be combined with ${quantifiers[0]}`);
  if (negated) {
    for (const q of [
      'times',
      'timesOrMore',
      'oneOrMore',
      'optional',
      'greedy',
      'consecutive',
      'allowCombinations',
      'until',
    ] as const) {
      if (s[q] !== undefined && s[q] !== false) err(`${at}/${q}`, `is not allowed on a ${s.contiguity} step`);
    }
    return;
  }
  if (typeof s.times === 'object' && s.times.from > s.times.to) err(`${at}/times`, '"from" must not exceed "to"');
  const looping = s.oneOrMore === true || s.timesOrMore !== undefined;
  const quantified = looping || s.times !== undefined;
  if (s.greedy === true && !quantified) err(`${at}/greedy`, 'needs times, timesOrMore or oneOrMore');
  if (s.consecutive === true && !quantified) err(`${at}/consecutive`, 'needs times, timesOrMore or oneOrMore');
  if (s.allowCombinations === true && !quantified)
    err(`${at}/allowCombinations`, 'needs times, timesOrMore or oneOrMore');
  if (s.consecutive === true && s.allowCombinations === true) {
    err(`${at}/allowCombinations`, 'cannot be combined with consecutive');
  }
  if (s.until !== undefined && !looping) err(`${at}/until`, 'needs timesOrMore or oneOrMore');
  if (i === 0 && s.optional === true && count === 1) err(`${at}/optional`, 'a single-step sequence cannot be optional');
}

interface ConditionCheck {
  operators: OperatorRegistry;
  facts: FactRegistry;
  /** Step names visible to the condition (earlier steps and its own); null outside sequences. */
  steps: readonly string[] | null;
  err: (field: string, reason: string) => void;
}

function checkCondition(c: TopLevelCondition | ConditionNode, at: string, k: ConditionCheck): void {
  if ('all' in c) return c.all.forEach((x, i) => checkCondition(x, `${at}/all/${i}`, k));
  if ('any' in c) return c.any.forEach((x, i) => checkCondition(x, `${at}/any/${i}`, k));
  if ('not' in c) return checkCondition(c.not, `${at}/not`, k);
  if (k.operators.resolve(c.operator) === undefined) {
    k.err(`${at}/operator`, `unknown operator "${c.operator}"`);
  }
  checkFact(c.fact, c.params, c.path, at, k);
  const v = c.value;
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, 'fact')) {
    const ref = v as { fact: unknown; path?: unknown; params?: unknown };
    if (typeof ref.fact !== 'string') k.err(`${at}/value/fact`, 'must be a string');
    else if (ref.path !== undefined && typeof ref.path !== 'string') k.err(`${at}/value/path`, 'must be a string');
    else if (
      ref.params !== undefined &&
      (ref.params === null || typeof ref.params !== 'object' || Array.isArray(ref.params))
    ) {
      k.err(`${at}/value/params`, 'must be an object');
    } else {
      checkFact(
        ref.fact,
        ref.params as Record<string, unknown> | undefined,
        ref.path as string | undefined,
        `${at}/value`,
        k,
      );
    }
  } else if ((c.operator === 'in' || c.operator === 'notIn') && !Array.isArray(v) && typeof v !== 'string') {
    k.err(
      `${at}/value`,
      `must be an array (or a string) for ${c.operator}: anything else makes json-rules-engine throw`,
    );
  }
}

function checkFact(
  fact: string,
  params: Readonly<Record<string, unknown>> | undefined,
  path: string | undefined,
  at: string,
  k: ConditionCheck,
): void {
  if (!k.facts.has(fact)) {
    k.err(`${at}/fact`, `unknown fact "${fact}" (built in: event, time, steps, step; or a registered custom fact)`);
    return;
  }
  const segments = path === undefined ? undefined : parsePath(path);
  if (path !== undefined && segments === undefined) k.err(`${at}/path`, PATH_REASON);
  if (fact === 'steps' || fact === 'step') {
    if (k.steps === null) {
      k.err(`${at}/fact`, `"${fact}" is only available in sequence steps`);
      return;
    }
  }
  if (fact === 'steps' && segments !== undefined && segments.length > 0 && !k.steps?.includes(segments[0])) {
    k.err(`${at}/path`, `refers to step "${segments[0]}", which is not this step or an earlier one`);
  }
  if (fact === 'step') {
    const p = params ?? {};
    if (typeof p.name !== 'string' || !k.steps?.includes(p.name)) {
      k.err(`${at}/params/name`, 'must name this step or an earlier one');
    }
    if (!(STEP_AGGREGATIONS as readonly unknown[]).includes(p.agg)) {
      k.err(`${at}/params/agg`, `must be one of: ${STEP_AGGREGATIONS.join(', ')}`);
    }
    if (
      p.field !== undefined &&
      (typeof p.field !== 'string' || parsePath(p.field.startsWith('$') ? p.field : `$.${p.field}`) === undefined)
    ) {
      k.err(`${at}/params/field`, 'must be a field name or a path in the supported subset');
    }
    if (p.scale !== undefined && (typeof p.scale !== 'number' || !Number.isFinite(p.scale))) {
      k.err(`${at}/params/scale`, 'must be a finite number');
    }
    if (p.field === undefined && p.agg !== 'count' && p.agg !== 'first' && p.agg !== 'last') {
      k.err(`${at}/params/field`, `is required for ${String(p.agg)}`);
    }
  }
  const custom = k.facts.custom(fact);
  if (custom?.validateParams !== undefined) {
    const reason = custom.validateParams(params ?? {});
    if (reason !== undefined) k.err(`${at}/params`, reason);
  }
}
