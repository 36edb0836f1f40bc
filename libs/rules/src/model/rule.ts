/**
 * The rule format as TypeScript types. The JSON Schema in `schema/rule-schema.ts` is the contract; these types are
 * what a document has once `validateRule` accepted it. Field-by-field documentation lives in `docs/rules.md`.
 */

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A reference to a fact, usable as the `value` of a leaf condition (json-rules-engine's fact-to-fact comparison). */
export interface FactReference {
  fact: string;
  path?: string;
  params?: Record<string, JsonValue>;
}

/** A leaf condition in json-rules-engine's format: `<fact, params, path> <operator> <value>`. */
export interface LeafCondition {
  fact: string;
  operator: string;
  value: JsonValue | FactReference;
  path?: string;
  params?: Record<string, JsonValue>;
  name?: string;
}

/** `all`: every sub-condition holds (true when empty, as in json-rules-engine). */
export interface AllCondition {
  all: ConditionNode[];
  name?: string;
}
/** `any`: some sub-condition holds (true when empty, as in json-rules-engine). */
export interface AnyCondition {
  any: ConditionNode[];
  name?: string;
}
/** `not`: the sub-condition does not hold. */
export interface NotCondition {
  not: ConditionNode;
  name?: string;
}

/** Any node of a condition tree. */
export type ConditionNode = LeafCondition | AllCondition | AnyCondition | NotCondition;
/** The root of a condition tree: json-rules-engine demands a boolean operator at the top. */
export type TopLevelCondition = AllCondition | AnyCondition | NotCondition;

/** A duration: milliseconds, or a string such as `"500ms"`, `"30s"`, `"10m"`, `"2h"`, `"1d"`. */
export type Duration = number | string;

/** Lifecycle status of a rule version. */
export type RuleStatus = 'active' | 'paused' | 'deleted';
/** How loud an alert is. */
export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';

/** How a step relates to the step before it (Flink CEP's contiguity). */
export type Contiguity = 'next' | 'followedBy' | 'followedByAny' | 'notNext' | 'notFollowedBy';

/** `times`: exactly n, or a range. */
export type TimesSpec = number | { from: number; to: number };

/** One step of a sequence rule. */
export interface SequenceStep {
  name: string;
  /** Relation to the previous step; not allowed on the first step. Default `followedBy`. */
  contiguity?: Contiguity;
  condition: TopLevelCondition;
  times?: TimesSpec;
  timesOrMore?: number;
  oneOrMore?: boolean;
  optional?: boolean;
  greedy?: boolean;
  consecutive?: boolean;
  allowCombinations?: boolean;
  until?: TopLevelCondition;
}

/** After-match skip strategy (Flink CEP). */
export type SkipStrategy =
  'noSkip' | 'skipToNext' | 'skipPastLastEvent' | { skipToFirst: string } | { skipToLast: string };

/** Alert settings shared by all rule kinds. */
export interface AlertSpec {
  /** Message template, e.g. `"{{count}} payments on card {{key}} within {{window}}"`. */
  template: string;
}

/** Alert emitted when a sequence times out incomplete. */
export interface TimeoutAlertSpec {
  template: string;
  severity?: Severity;
  /** Only partial matches that got at least this far (a step name) raise a timeout alert. */
  minStep?: string;
}

interface RuleBase {
  id: string;
  version: number;
  status: RuleStatus;
  /** Event time (ms since epoch) before which the rule ignores events. */
  effectiveFrom?: number;
  severity: Severity;
  description?: string;
  /** Event fields (JSONPath in the condition path subset, or plain top-level names) the rule keys its state by. */
  groupBy: string[];
  alert: AlertSpec;
}

/** A sequence of steps compiled to a CEP pattern. */
export interface SequenceRule extends RuleBase {
  type: 'sequence';
  sequence: {
    steps: SequenceStep[];
    within?: Duration;
    skip?: SkipStrategy;
    timeoutAlert?: TimeoutAlertSpec;
  };
}

/** The aggregate functions over a sliding window. */
export type AggregateFunction = 'count' | 'sum' | 'avg' | 'min' | 'max' | 'distinctCount';
/** The comparisons an aggregate may make against its limit. */
export type AggregateComparison =
  'greaterThan' | 'greaterThanInclusive' | 'lessThan' | 'lessThanInclusive' | 'equal' | 'notEqual';

/** A windowed aggregate per group key compared with a limit. */
export interface AggregateRule extends RuleBase {
  type: 'aggregate';
  aggregate: {
    filter?: TopLevelCondition;
    function: AggregateFunction;
    field?: string;
    window: Duration;
    operator: AggregateComparison;
    limit: number;
  };
}

/** A rule document, as accepted by `validateRule`. */
export type Rule = SequenceRule | AggregateRule;
