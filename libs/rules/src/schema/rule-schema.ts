/**
 * The published JSON Schema of a rule (draft-07; ajv 8's default dialect). `docs/rule.schema.json` is this object,
 * written out; a test keeps the two equal. Semantic checks that a schema cannot express (unique step names, known
 * operators and facts, skip targets, step references) live in `validate-rule.ts`.
 */
export const RULE_SCHEMA_ID = 'https://cepheus.dev/schemas/rule.schema.json';

const duration = {
  description:
    'A positive duration: integer milliseconds, or a string of an integer and a unit: ms, s, m, h, d (e.g. "30m").',
  oneOf: [
    { type: 'integer', minimum: 1 },
    { type: 'string', pattern: '^[1-9][0-9]*(ms|s|m|h|d)$' },
  ],
} as const;

const path = {
  description:
    "A JSONPath in Cepheus's subset: `$` then `.name`, `['quoted name']` or `[index]` segments (no wildcards, filters, slices or `..`).",
  type: 'string',
  pattern: "^\\$(\\.[A-Za-z_][A-Za-z0-9_]*|\\[(0|[1-9][0-9]{0,8})\\]|\\['[A-Za-z0-9_ \\-]+'\\])*$",
} as const;

/** The rule JSON Schema. */
export const RULE_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: RULE_SCHEMA_ID,
  title: 'Cepheus rule',
  description:
    'A Cepheus rule: a sequence of steps (a CEP pattern) or a windowed aggregate, with lifecycle and alert settings. See docs/rules.md.',
  type: 'object',
  required: ['id', 'version', 'status', 'severity', 'groupBy', 'alert', 'type'],
  properties: {
    id: {
      description: 'Stable identifier of the rule across versions; the key of the rules topic.',
      type: 'string',
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$',
    },
    version: { description: 'Version number; a new version replaces the old one.', type: 'integer', minimum: 1 },
    status: {
      description: 'active: evaluated; paused: not evaluated, state kept; deleted: not evaluated, state cleared.',
      enum: ['active', 'paused', 'deleted'],
    },
    effectiveFrom: {
      description: 'Event time (ms since the epoch) before which the rule ignores events.',
      type: 'integer',
      minimum: 0,
    },
    severity: { description: 'Severity copied into every alert.', enum: ['info', 'low', 'medium', 'high', 'critical'] },
    description: { description: 'Free text for people.', type: 'string', maxLength: 2000 },
    groupBy: {
      description:
        'Event fields the rule keys its state by (plain top-level names or paths). Events missing one of them are not routed to the rule.',
      type: 'array',
      minItems: 1,
      maxItems: 8,
      uniqueItems: true,
      items: {
        type: 'string',
        pattern:
          "^([A-Za-z_][A-Za-z0-9_]*|\\$(\\.[A-Za-z_][A-Za-z0-9_]*|\\[(0|[1-9][0-9]{0,8})\\]|\\['[A-Za-z0-9_ \\-]+'\\])+)$",
      },
    },
    alert: {
      description: 'How alerts of this rule read.',
      type: 'object',
      required: ['template'],
      additionalProperties: false,
      properties: {
        template: {
          description: 'Message template with {{variables}}; see docs/rules.md for the variables.',
          type: 'string',
          minLength: 1,
          maxLength: 1000,
        },
      },
    },
    type: { description: 'sequence or aggregate.', enum: ['sequence', 'aggregate'] },
    sequence: { $ref: '#/definitions/sequence' },
    aggregate: { $ref: '#/definitions/aggregate' },
  },
  additionalProperties: false,
  allOf: [
    {
      if: { properties: { type: { const: 'sequence' } }, required: ['type'] },
      then: { required: ['sequence'], not: { required: ['aggregate'] } },
    },
    {
      if: { properties: { type: { const: 'aggregate' } }, required: ['type'] },
      then: { required: ['aggregate'], not: { required: ['sequence'] } },
    },
  ],
  definitions: {
    duration,
    path,
    jsonValue: {
      description: 'Any JSON value.',
    },
    factReference: {
      description: 'Compare with another fact: the value is that fact (at path, with params).',
      type: 'object',
      required: ['fact'],
      additionalProperties: false,
      properties: {
        fact: { type: 'string', minLength: 1 },
        path: { $ref: '#/definitions/path' },
        params: { type: 'object' },
      },
    },
    leafCondition: {
      description: "json-rules-engine's `<fact, params, path> <operator> <value>`.",
      type: 'object',
      required: ['fact', 'operator', 'value'],
      additionalProperties: false,
      properties: {
        fact: { description: 'event, time, steps, step, or a registered custom fact.', type: 'string', minLength: 1 },
        path: { $ref: '#/definitions/path' },
        params: { description: 'Parameters of the fact.', type: 'object' },
        operator: {
          description: 'A built-in operator, a registered custom one, optionally decorated (e.g. "not:in").',
          type: 'string',
          minLength: 1,
        },
        value: {
          description: 'A literal JSON value, or an object with a `fact` key that references another fact.',
        },
        name: { type: 'string' },
      },
    },
    condition: {
      description: 'A condition node: all, any, not or a leaf (chosen by which key is present).',
      type: 'object',
      if: { required: ['all'] },
      then: { $ref: '#/definitions/allCondition' },
      else: {
        if: { required: ['any'] },
        then: { $ref: '#/definitions/anyCondition' },
        else: {
          if: { required: ['not'] },
          then: { $ref: '#/definitions/notCondition' },
          else: { $ref: '#/definitions/leafCondition' },
        },
      },
    },
    allCondition: {
      type: 'object',
      required: ['all'],
      additionalProperties: false,
      properties: { all: { type: 'array', items: { $ref: '#/definitions/condition' } }, name: { type: 'string' } },
    },
    anyCondition: {
      type: 'object',
      required: ['any'],
      additionalProperties: false,
      properties: { any: { type: 'array', items: { $ref: '#/definitions/condition' } }, name: { type: 'string' } },
    },
    notCondition: {
      type: 'object',
      required: ['not'],
      additionalProperties: false,
      properties: { not: { $ref: '#/definitions/condition' }, name: { type: 'string' } },
    },
    topLevelCondition: {
      description: 'json-rules-engine demands all, any or not at the root.',
      type: 'object',
      if: { required: ['all'] },
      then: { $ref: '#/definitions/allCondition' },
      else: {
        if: { required: ['any'] },
        then: { $ref: '#/definitions/anyCondition' },
        else: { $ref: '#/definitions/notCondition' },
      },
    },
    step: {
      description: 'One step of a sequence: a named CEP pattern element.',
      type: 'object',
      required: ['name', 'condition'],
      additionalProperties: false,
      properties: {
        name: { description: 'Unique step name.', type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' },
        contiguity: {
          description: 'Relation to the previous step (not on the first step). Default followedBy.',
          enum: ['next', 'followedBy', 'followedByAny', 'notNext', 'notFollowedBy'],
        },
        condition: { $ref: '#/definitions/topLevelCondition' },
        times: {
          description: 'Exactly n events, or between from and to.',
          oneOf: [
            { type: 'integer', minimum: 1 },
            {
              type: 'object',
              required: ['from', 'to'],
              additionalProperties: false,
              properties: { from: { type: 'integer', minimum: 0 }, to: { type: 'integer', minimum: 1 } },
            },
          ],
        },
        timesOrMore: { description: 'At least n events.', type: 'integer', minimum: 1 },
        oneOrMore: { description: 'One or more events.', type: 'boolean' },
        optional: { description: 'The step may be skipped.', type: 'boolean' },
        greedy: { description: 'A looping step takes as many events as it can.', type: 'boolean' },
        consecutive: { description: 'A looping step needs its events strictly one after another.', type: 'boolean' },
        allowCombinations: { description: 'A looping step may skip events non-deterministically.', type: 'boolean' },
        until: { description: 'Stop condition of a looping step.', $ref: '#/definitions/topLevelCondition' },
      },
    },
    sequence: {
      type: 'object',
      required: ['steps'],
      additionalProperties: false,
      properties: {
        steps: { type: 'array', minItems: 1, maxItems: 32, items: { $ref: '#/definitions/step' } },
        within: { $ref: '#/definitions/duration' },
        skip: {
          description: 'After-match skip strategy. Default skipPastLastEvent.',
          oneOf: [
            { enum: ['noSkip', 'skipToNext', 'skipPastLastEvent'] },
            {
              type: 'object',
              required: ['skipToFirst'],
              additionalProperties: false,
              properties: { skipToFirst: { type: 'string' } },
            },
            {
              type: 'object',
              required: ['skipToLast'],
              additionalProperties: false,
              properties: { skipToLast: { type: 'string' } },
            },
          ],
        },
        timeoutAlert: {
          description: 'Raise an alert when a partial match times out (needs within).',
          type: 'object',
          required: ['template'],
          additionalProperties: false,
          properties: {
            template: { type: 'string', minLength: 1, maxLength: 1000 },
            severity: { enum: ['info', 'low', 'medium', 'high', 'critical'] },
            minStep: { type: 'string' },
          },
        },
      },
    },
    aggregate: {
      type: 'object',
      required: ['function', 'window', 'operator', 'limit'],
      additionalProperties: false,
      properties: {
        filter: { description: 'Only events meeting it are aggregated.', $ref: '#/definitions/topLevelCondition' },
        function: { enum: ['count', 'sum', 'avg', 'min', 'max', 'distinctCount'] },
        field: { description: 'The field aggregated (not for count).', $ref: '#/definitions/fieldOrPath' },
        window: { $ref: '#/definitions/duration' },
        operator: {
          enum: ['greaterThan', 'greaterThanInclusive', 'lessThan', 'lessThanInclusive', 'equal', 'notEqual'],
        },
        limit: { type: 'number' },
      },
    },
    fieldOrPath: {
      type: 'string',
      pattern:
        "^([A-Za-z_][A-Za-z0-9_]*|\\$(\\.[A-Za-z_][A-Za-z0-9_]*|\\[(0|[1-9][0-9]{0,8})\\]|\\['[A-Za-z0-9_ \\-]+'\\])+)$",
    },
  },
} as const;
