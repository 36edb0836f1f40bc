/**
 * A deliberately tiny interpreter of json-rules-engine's condition format, for the brute-force reference of
 * aggregate alerts (`reference-alerts.ts`). It is written from json-rules-engine 7.3's documented semantics and
 * docs/rules.md ("Conditions"), not from Cepheus' condition compiler, so that differential tests compare two
 * independent readings of the format.
 *
 * Scope: `all` / `any` / `not` nodes and leaves `{ fact: "event", path: "$.<name>", operator, value }` with the
 * operators equal, notEqual, lessThan, lessThanInclusive, greaterThan, greaterThanInclusive, in, notIn and literal
 * values. Anything else (other facts, nested paths, params, fact references, decorators, custom operators, `in`
 * against a string) is refused with an error when the condition is compiled, so that a generated rule outside the
 * subset fails loudly instead of being judged by a guess.
 */

/** A compiled filter: does the event meet the condition? */
export type EventPredicate = (event: Readonly<Record<string, unknown>>) => boolean;

const NUMERIC_OPERATORS = ['lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive'] as const;
const SUPPORTED_OPERATORS: readonly string[] = ['equal', 'notEqual', 'in', 'notIn', ...NUMERIC_OPERATORS];
const LEAF_KEYS: readonly string[] = ['fact', 'operator', 'value', 'path', 'name'];
/** `$.name`, one segment: the only path shape the reference reads. */
const TOP_LEVEL_PATH = /^\$\.([A-Za-z_][A-Za-z0-9_]*)$/;

function refuse(where: string, reason: string): never {
  throw new Error(`reference condition ${where}: ${reason} (outside the subset the reference interprets)`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An event field as jsonpath-plus reads `$.<name>` on a JSON object: only an own property is found (so `$.toString`
 * finds nothing), a missing one is `undefined`.
 */
export function ownField(event: Readonly<Record<string, unknown>>, name: string): unknown {
  return Object.prototype.hasOwnProperty.call(event, name) ? event[name] : undefined;
}

/** json-rules-engine's `numberValidator`: `parseFloat(factValue).toString() !== 'NaN'` (parseFloat converts first). */
function passesNumberValidator(factValue: unknown): boolean {
  return Number.parseFloat(String(factValue)).toString() !== 'NaN';
}

/**
 * JavaScript's relational operators with their coercions (`"12" > 10` holds, `[3] < 5` holds), exactly as
 * json-rules-engine applies them (`(a, b) => a < b`). The casts only quiet the type checker: at run time the
 * operands are compared as given, coercion included.
 */
function relational(operator: (typeof NUMERIC_OPERATORS)[number], a: unknown, b: unknown): boolean {
  const left = a as number;
  const right = b as number;
  switch (operator) {
    case 'lessThan':
      return left < right;
    case 'lessThanInclusive':
      return left <= right;
    case 'greaterThan':
      return left > right;
    case 'greaterThanInclusive':
      return left >= right;
  }
}

function compileLeaf(node: Record<string, unknown>, where: string): EventPredicate {
  for (const key of Object.keys(node)) {
    if (!LEAF_KEYS.includes(key)) refuse(where, `leaf key "${key}" is not supported`);
  }
  if (node.fact !== 'event') refuse(where, `fact ${JSON.stringify(node.fact)} is not supported, only "event"`);
  const path = node.path;
  const match = typeof path === 'string' ? TOP_LEVEL_PATH.exec(path) : null;
  if (match === null) refuse(where, `path ${JSON.stringify(path)} is not supported, only "$.<name>"`);
  const fieldName = match[1];
  const operator = node.operator;
  if (typeof operator !== 'string' || !SUPPORTED_OPERATORS.includes(operator)) {
    refuse(where, `operator ${JSON.stringify(operator)} is not supported`);
  }
  const value = node.value;
  if (!('value' in node)) refuse(where, 'leaf has no value');

  if (operator === 'in' || operator === 'notIn') {
    // json-rules-engine also accepts a string (substring search); the reference does not need it.
    if (!Array.isArray(value)) refuse(where, `"${operator}" needs an array literal`);
    const list: readonly unknown[] = value;
    // `indexOf` is strict equality, as in json-rules-engine (NaN is never found, "1" is not 1).
    return operator === 'in'
      ? (event) => list.indexOf(ownField(event, fieldName)) > -1
      : (event) => list.indexOf(ownField(event, fieldName)) === -1;
  }
  // An object with a `fact` key would be a fact reference; other objects and arrays compare by identity and so
  // never equal anything from an event. Neither is needed: refuse both rather than model them.
  if (typeof value === 'object' && value !== null) refuse(where, `"${operator}" needs a primitive literal value`);
  if (operator === 'equal') return (event) => ownField(event, fieldName) === value;
  if (operator === 'notEqual') return (event) => ownField(event, fieldName) !== value;
  const numeric = operator as (typeof NUMERIC_OPERATORS)[number];
  return (event) => {
    const factValue = ownField(event, fieldName);
    // The validator runs first and a failing fact value makes the leaf false (null, true, "" and missing fields).
    return passesNumberValidator(factValue) && relational(numeric, factValue, value);
  };
}

function compileNode(node: unknown, where: string): EventPredicate {
  if (!isPlainObject(node)) refuse(where, 'a condition node must be an object');
  const booleanKeys = ['all', 'any', 'not'].filter((key) => key in node);
  if (booleanKeys.length === 0) return compileLeaf(node, where);
  if (booleanKeys.length > 1) refuse(where, `a node has both ${booleanKeys.join(' and ')}`);
  for (const key of Object.keys(node)) {
    if (key !== booleanKeys[0] && key !== 'name') refuse(where, `key "${key}" beside "${booleanKeys[0]}"`);
  }
  if ('not' in node) {
    const child = compileNode(node.not, `${where}/not`);
    return (event) => !child(event);
  }
  const kind = booleanKeys[0] as 'all' | 'any';
  const list = node[kind];
  if (!Array.isArray(list)) refuse(where, `"${kind}" needs an array`);
  const children = list.map((child, index) => compileNode(child, `${where}/${kind}/${index}`));
  // Both hold when empty (json-rules-engine's behaviour, documented in docs/rules.md): `every` and `!some-fails`.
  return kind === 'all'
    ? (event) => children.every((child) => child(event))
    : (event) => children.length === 0 || children.some((child) => child(event));
}

/**
 * Compiles a filter condition (root `all`, `any` or `not`) to a predicate over events, refusing anything outside
 * the subset described above. `where` names the condition in error messages (e.g. the rule id).
 */
export function compileReferenceCondition(condition: unknown, where = 'filter'): EventPredicate {
  if (!isPlainObject(condition) || !('all' in condition || 'any' in condition || 'not' in condition)) {
    refuse(where, 'the root must be an "all", "any" or "not" node');
  }
  return compileNode(condition, where);
}
