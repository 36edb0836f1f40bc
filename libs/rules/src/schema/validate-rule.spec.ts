import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCepheusError } from '@cepheus/common';
import { EXTRA_OPERATORS } from '../condition/extra-operators';
import { OperatorRegistry } from '../condition/operators';
import { RULE_SCHEMA } from './rule-schema';
import { MAX_RULE_DEPTH, parseRule, tooDeepAt, validateRule } from './validate-rule';

const seq = (steps: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'r1',
  version: 1,
  status: 'active',
  severity: 'high',
  groupBy: ['cardId'],
  alert: { template: '{{count}} on {{key}}' },
  type: 'sequence',
  sequence: { steps, ...extra },
});
const eq = (path: string, value: unknown): Record<string, unknown> => ({
  fact: 'event',
  path,
  operator: 'equal',
  value,
});
const step = (name: string, more: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  condition: { all: [eq('$.type', 'payment')] },
  ...more,
});
const agg = (aggregate: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'velocity',
  version: 2,
  status: 'active',
  severity: 'medium',
  groupBy: ['cardId'],
  alert: { template: '{{count}} payments on card {{key}} within {{window}}' },
  type: 'aggregate',
  aggregate,
  ...extra,
});

function errorsOf(json: unknown, operators?: OperatorRegistry): { field: string; reason: string }[] {
  const r = validateRule(json, operators === undefined ? {} : { operators });
  if (r.ok) throw new Error('expected the rule to be rejected');
  return r.errors;
}

describe('validateRule: acceptance', () => {
  it('accepts a full sequence rule', () => {
    const rule = seq(
      [
        step('first', { times: { from: 2, to: 4 }, consecutive: true, greedy: true }),
        step('second', { contiguity: 'followedByAny', oneOrMore: true, until: { any: [eq('$.type', 'refund')] } }),
        step('third', { contiguity: 'notFollowedBy' }),
      ],
      {
        within: '10m',
        skip: { skipToLast: 'first' },
        timeoutAlert: { template: 'partial {{key}}', minStep: 'second' },
      },
    );
    expect(validateRule(rule)).toEqual({ ok: true, rule });
  });

  it('accepts an aggregate rule with a filter, in ms or as a duration string', () => {
    const base = {
      filter: {
        all: [eq('$.type', 'payment'), { fact: 'event', path: '$.amount', operator: 'greaterThan', value: 1000 }],
      },
      function: 'count',
      operator: 'greaterThan',
      limit: 5,
    };
    expect(validateRule(agg({ ...base, window: '30m' })).ok).toBe(true);
    expect(validateRule(agg({ ...base, window: 1_800_000 }, { effectiveFrom: 0 })).ok).toBe(true);
  });

  it('accepts fact references, step facts and decorated operators', () => {
    const rule = seq([
      step('small', { timesOrMore: 2 }),
      step('big', {
        condition: {
          all: [
            { fact: 'event', path: '$.colour', operator: 'equal', value: { fact: 'steps', path: '$.small[0].colour' } },
            {
              fact: 'event',
              path: '$.amount',
              operator: 'greaterThan',
              value: { fact: 'step', params: { name: 'small', agg: 'avg', field: 'amount' } },
            },
            { fact: 'event', path: "$.tags['risk level']", operator: 'not:in', value: ['low'] },
          ],
        },
      }),
    ]);
    expect(validateRule(rule).ok).toBe(true);
  });
});

describe('validateRule: rejection with field paths', () => {
  it.each<[string, unknown, string, RegExp]>([
    ['a missing id', { ...seq([step('a')]), id: undefined }, '/id', /required/],
    ['an unknown top-level field', { ...seq([step('a')]), colour: 'red' }, '/colour', /not a known property/],
    ['a bad status', { ...seq([step('a')]), status: 'on' }, '/status', /one of: "active", "paused", "deleted"/],
    ['an empty groupBy', { ...seq([step('a')]), groupBy: [] }, '/groupBy', /fewer than 1/],
    [
      'a zero window',
      agg({ function: 'count', window: 0, operator: 'greaterThan', limit: 1 }),
      '/aggregate/window',
      /positive duration/,
    ],
    [
      'a malformed duration',
      agg({ function: 'count', window: '5 minutes', operator: 'greaterThan', limit: 1 }),
      '/aggregate/window',
      /positive duration/,
    ],
    [
      'a leaf at the root',
      seq([{ name: 'a', condition: eq('$.x', 1) }]),
      '/sequence/steps/0/condition',
      /"all", "any" or "not" at its root/,
    ],
    [
      'a leaf without operator',
      seq([{ name: 'a', condition: { all: [{ fact: 'event', value: 1 }] } }]),
      '/sequence/steps/0/condition/all/0/operator',
      /required/,
    ],
    [
      'a wildcard path',
      seq([{ name: 'a', condition: { all: [eq('$.items[*].x', 1)] } }]),
      '/sequence/steps/0/condition/all/0/path',
      /supported subset/,
    ],
    ['sequence and aggregate together', { ...seq([step('a')]), aggregate: {} }, '', /not both/],
  ])('rejects %s', (_title, json, field, reason) => {
    const errors = errorsOf(json);
    expect(errors).toContainEqual({ field, reason: expect.stringMatching(reason) });
  });

  it('reports an unknown operator deep in a condition by its JSON Pointer', () => {
    const rule = seq([
      step('a'),
      step('b', {
        condition: { all: [eq('$.type', 'x'), { any: [{ fact: 'event', path: '$.a', operator: 'like', value: 1 }] }] },
      }),
    ]);
    expect(errorsOf(rule)).toEqual([
      { field: '/sequence/steps/1/condition/all/1/any/0/operator', reason: 'unknown operator "like"' },
    ]);
  });

  it('knows custom operators only once registered', () => {
    const rule = seq([
      { name: 'a', condition: { all: [{ fact: 'event', path: '$.a', operator: 'startsWith', value: 'x' }] } },
    ]);
    expect(errorsOf(rule)[0].field).toBe('/sequence/steps/0/condition/all/0/operator');
    expect(validateRule(rule, { operators: new OperatorRegistry(EXTRA_OPERATORS) }).ok).toBe(true);
  });

  it.each<[string, unknown, string, RegExp]>([
    ['duplicate step names', seq([step('a'), step('a')]), '/sequence/steps/1/name', /duplicates the name of step 0/],
    [
      'a skip target that does not exist',
      seq([step('a')], { skip: { skipToFirst: 'zz' } }),
      '/sequence/skip/skipToFirst',
      /"zz", which does not exist/,
    ],
    [
      'contiguity on the first step',
      seq([step('a', { contiguity: 'next' })]),
      '/sequence/steps/0/contiguity',
      /first step/,
    ],
    [
      'two quantifiers',
      seq([step('a', { times: 2, oneOrMore: true })]),
      '/sequence/steps/0/oneOrMore',
      /cannot be combined/,
    ],
    [
      'a quantified NOT step',
      seq([step('a'), step('b', { contiguity: 'notNext', times: 2 }), step('c')]),
      '/sequence/steps/1/times',
      /not allowed on a notNext/,
    ],
    [
      'until on a non-looping step',
      seq([step('a', { until: { all: [] } })]),
      '/sequence/steps/0/until',
      /needs timesOrMore or oneOrMore/,
    ],
    ['times from > to', seq([step('a', { times: { from: 3, to: 2 } })]), '/sequence/steps/0/times', /must not exceed/],
    [
      'notFollowedBy last without within',
      seq([step('a'), step('b', { contiguity: 'notFollowedBy' })]),
      '/sequence/steps/1/contiguity',
      /needs "within"/,
    ],
    [
      'a timeout alert without within',
      seq([step('a')], { timeoutAlert: { template: 'x' } }),
      '/sequence/timeoutAlert',
      /needs "within"/,
    ],
    [
      'a reference to a later step',
      seq([
        { name: 'a', condition: { all: [{ fact: 'steps', path: '$.b[0].x', operator: 'equal', value: 1 }] } },
        step('b'),
      ]),
      '/sequence/steps/0/condition/all/0/path',
      /"b", which is not this step or an earlier one/,
    ],
    [
      'a step fact with a bad aggregation',
      seq([
        step('a'),
        {
          name: 'b',
          condition: {
            all: [{ fact: 'step', params: { name: 'a', agg: 'median', field: 'x' }, operator: 'equal', value: 1 }],
          },
        },
      ]),
      '/sequence/steps/1/condition/all/0/params/agg',
      /must be one of/,
    ],
    [
      'an unknown fact',
      seq([{ name: 'a', condition: { all: [{ fact: 'weather', operator: 'equal', value: 1 }] } }]),
      '/sequence/steps/0/condition/all/0/fact',
      /unknown fact "weather"/,
    ],
    [
      'in with a number',
      seq([{ name: 'a', condition: { all: [{ fact: 'event', path: '$.a', operator: 'in', value: 3 }] } }]),
      '/sequence/steps/0/condition/all/0/value',
      /must be an array/,
    ],
    [
      'an unknown template placeholder',
      { ...seq([step('a')]), alert: { template: 'hi {{nope}}' } },
      '/alert/template',
      /unknown placeholder \{\{nope\}\}/,
    ],
    [
      'steps in an aggregate filter',
      agg({
        function: 'count',
        window: '1m',
        operator: 'greaterThan',
        limit: 1,
        filter: { all: [{ fact: 'steps', path: '$.a', operator: 'equal', value: 1 }] },
      }),
      '/aggregate/filter/all/0/fact',
      /only available in sequence steps/,
    ],
    [
      'sum without a field',
      agg({ function: 'sum', window: '1m', operator: 'greaterThan', limit: 1 }),
      '/aggregate/field',
      /required for sum/,
    ],
  ])('semantic check: %s', (_title, json, field, reason) => {
    expect(errorsOf(json)).toContainEqual({ field, reason: expect.stringMatching(reason) });
  });

  it('parseRule throws RULE_INVALID with every error in details', () => {
    try {
      parseRule(seq([step('a'), step('a')], { skip: { skipToFirst: 'zz' } }));
      throw new Error('expected a throw');
    } catch (e) {
      expect(isCepheusError(e, 'RULE_INVALID')).toBe(true);
      expect((e as { details: { errors: unknown[] } }).details.errors).toHaveLength(2);
    }
  });

  it('never throws on garbage', () => {
    for (const junk of [null, 42, 'rule', [], { type: 'sequence' }, { sequence: { steps: 'x' } }]) {
      expect(validateRule(junk).ok).toBe(false);
    }
  });
});

describe('published schema', () => {
  it('docs/rule.schema.json is the schema the validator uses', () => {
    const published: unknown = JSON.parse(readFileSync(join(__dirname, '../../../../docs/rule.schema.json'), 'utf8'));
    expect(published).toEqual(JSON.parse(JSON.stringify(RULE_SCHEMA)));
  });
});

describe('validateRule: nesting depth', () => {
  const nested = (levels: number): Record<string, unknown> => {
    let condition: Record<string, unknown> = eq('$.type', 'payment');
    for (let i = 0; i < levels; i++) condition = { all: [condition] };
    return seq([{ name: 'a', condition }]);
  };

  it('refuses a rule nested beyond the limit with one error naming the limit, without overflowing the stack', () => {
    const result = validateRule(nested(100_000));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0].reason).toBe(`nests deeper than ${MAX_RULE_DEPTH} levels, the limit of a rule document`);
    expect(result.errors[0].field).toMatch(/^\/sequence\/steps\/0\/condition(\/all\/0)+$/);
    expect(() => parseRule(nested(100_000))).toThrow(/deeper than 64 levels/);
  });

  it('accepts the deepest rule within the limit and refuses one level more', () => {
    // The document is level 1; sequence, steps, [0], condition: 5; each all/[0] pair adds two; the leaf one more.
    let levels = 0;
    while (tooDeepAt(nested(levels + 1), MAX_RULE_DEPTH) === undefined) levels++;
    expect(validateRule(nested(levels)).ok).toBe(true);
    const refused = validateRule(nested(levels + 1));
    expect(refused.ok).toBe(false);
    expect(tooDeepAt(nested(levels + 1), MAX_RULE_DEPTH + 2)).toBeUndefined();
  });

  it('escapes JSON Pointer segments in the reported field', () => {
    expect(tooDeepAt({ 'a/b': { 'c~d': {} } }, 2)).toBe('/a~1b/c~0d');
    expect(tooDeepAt([[1]], 2)).toBeUndefined();
    expect(tooDeepAt([[[1]]], 2)).toBe('/0/0');
  });
});
