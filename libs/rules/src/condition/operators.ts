/**
 * Operators with json-rules-engine 7.3's exact semantics (dist/engine-default-operators.js and
 * engine-default-operator-decorators.js): an operator holds when its fact-value validator accepts the fact value AND
 * its callback holds. The callbacks are the same JavaScript expressions, so coercions and TypeErrors match too
 * (`in` against a number throws in both).
 */

/** A binary operator: `factValue <op> value`. */
export interface OperatorDefinition {
  readonly name: string;
  /** The comparison; must return a boolean. */
  readonly evaluate: (factValue: unknown, value: unknown) => boolean;
  /** Runs first; when it returns false the operator is false without calling `evaluate`. */
  readonly factValueValidator?: (factValue: unknown) => boolean;
}

/** A decorator such as `someFact:` or `not:` that wraps another operator (json-rules-engine 7's decorators). */
export interface OperatorDecoratorDefinition {
  readonly name: string;
  readonly evaluate: (factValue: unknown, value: unknown, next: (a: unknown, b: unknown) => boolean) => boolean;
  readonly factValueValidator?: (factValue: unknown) => boolean;
}

/** A compiled operator: validator and callback fused. */
export type OperatorFn = (factValue: unknown, value: unknown) => boolean;

interface IndexOf {
  indexOf(searchElement: unknown): number;
}

// parseFloat's own coercion decides, as in json-rules-engine; `toString() !== 'NaN'` is its exact test. For a number,
// parseFloat(String(x)) is NaN exactly when x is NaN, so the hot case skips the string round trip.
export function numberValidator(factValue: unknown): boolean {
  if (typeof factValue === 'number') return factValue === factValue;
  return Number.parseFloat(factValue as string).toString() !== 'NaN';
}

/** The names of json-rules-engine's ten built-in operators. */
export const BUILT_IN_OPERATOR_NAMES = [
  'equal',
  'notEqual',
  'in',
  'notIn',
  'contains',
  'doesNotContain',
  'lessThan',
  'lessThanInclusive',
  'greaterThan',
  'greaterThanInclusive',
] as const;
export type BuiltInOperatorName = (typeof BUILT_IN_OPERATOR_NAMES)[number];

export function isBuiltInOperatorName(name: string): name is BuiltInOperatorName {
  return (BUILT_IN_OPERATOR_NAMES as readonly string[]).includes(name);
}

/** json-rules-engine's ten built-in operators. */
export const BUILT_IN_OPERATORS: readonly OperatorDefinition[] = [
  { name: 'equal', evaluate: (a, b) => a === b },
  { name: 'notEqual', evaluate: (a, b) => a !== b },
  { name: 'in', evaluate: (a, b) => (b as IndexOf).indexOf(a) > -1 },
  { name: 'notIn', evaluate: (a, b) => (b as IndexOf).indexOf(a) === -1 },
  { name: 'contains', evaluate: (a, b) => (a as IndexOf).indexOf(b) > -1, factValueValidator: Array.isArray },
  { name: 'doesNotContain', evaluate: (a, b) => (a as IndexOf).indexOf(b) === -1, factValueValidator: Array.isArray },
  { name: 'lessThan', evaluate: (a, b) => (a as number) < (b as number), factValueValidator: numberValidator },
  {
    name: 'lessThanInclusive',
    evaluate: (a, b) => (a as number) <= (b as number),
    factValueValidator: numberValidator,
  },
  { name: 'greaterThan', evaluate: (a, b) => (a as number) > (b as number), factValueValidator: numberValidator },
  {
    name: 'greaterThanInclusive',
    evaluate: (a, b) => (a as number) >= (b as number),
    factValueValidator: numberValidator,
  },
];

interface Some {
  some(fn: (x: unknown) => boolean): boolean;
  every(fn: (x: unknown) => boolean): boolean;
}

/** json-rules-engine's built-in decorators. */
export const BUILT_IN_DECORATORS: readonly OperatorDecoratorDefinition[] = [
  {
    name: 'someFact',
    evaluate: (a, b, next) => (a as Some).some((x) => next(x, b)),
    factValueValidator: Array.isArray,
  },
  { name: 'someValue', evaluate: (a, b, next) => (b as Some).some((x) => next(a, x)) },
  {
    name: 'everyFact',
    evaluate: (a, b, next) => (a as Some).every((x) => next(x, b)),
    factValueValidator: Array.isArray,
  },
  { name: 'everyValue', evaluate: (a, b, next) => (b as Some).every((x) => next(a, x)) },
  { name: 'swap', evaluate: (a, b, next) => next(b, a) },
  { name: 'not', evaluate: (a, b, next) => !next(a, b) },
];

function fuse(validator: ((v: unknown) => boolean) | undefined, fn: OperatorFn): OperatorFn {
  return validator === undefined ? fn : (a, b) => validator(a) && fn(a, b);
}

/**
 * The operators a rule set may use: the built-ins plus custom ones registered by name. Hand the same definitions to
 * json-rules-engine (`new Operator(name, evaluate, factValueValidator)`) to compare the two.
 */
export class OperatorRegistry {
  readonly #operators = new Map<string, OperatorDefinition>();
  readonly #decorators = new Map<string, OperatorDecoratorDefinition>();
  readonly #resolved = new Map<string, OperatorFn>();

  constructor(
    custom: readonly OperatorDefinition[] = [],
    customDecorators: readonly OperatorDecoratorDefinition[] = [],
  ) {
    for (const op of BUILT_IN_OPERATORS) this.#operators.set(op.name, op);
    for (const d of BUILT_IN_DECORATORS) this.#decorators.set(d.name, d);
    for (const op of custom) this.#operators.set(op.name, op);
    for (const d of customDecorators) this.#decorators.set(d.name, d);
  }

  /** The custom and built-in operators, by name. */
  get operators(): ReadonlyMap<string, OperatorDefinition> {
    return this.#operators;
  }

  /** The decorators, by name. */
  get decorators(): ReadonlyMap<string, OperatorDecoratorDefinition> {
    return this.#decorators;
  }

  /** Whether `name` is one of json-rules-engine's built-in operators, undecorated and not replaced by a custom one. */
  isBuiltIn(name: string): boolean {
    const op = this.#operators.get(name);
    return op !== undefined && op.name === name && BUILT_IN_OPERATORS.includes(op);
  }

  /**
   * Resolves a possibly decorated name (`not:someFact:equal`) the way json-rules-engine's OperatorMap.get does:
   * an exact operator name wins; otherwise peel decorators off the front. Returns undefined for unknown names.
   */
  resolve(name: string): OperatorFn | undefined {
    const cached = this.#resolved.get(name);
    if (cached !== undefined) return cached;
    const decorators: OperatorDecoratorDefinition[] = [];
    let opName = name;
    while (!this.#operators.has(opName)) {
      const colon = opName.indexOf(':');
      if (colon <= 0) return undefined;
      const decorator = this.#decorators.get(opName.slice(0, colon));
      if (decorator === undefined) return undefined;
      decorators.unshift(decorator);
      opName = opName.slice(colon + 1);
    }
    const base = this.#operators.get(opName) as OperatorDefinition;
    let fn = fuse(base.factValueValidator, base.evaluate);
    for (const d of decorators) {
      const next = fn;
      fn = fuse(d.factValueValidator, (a, b) => d.evaluate(a, b, next));
    }
    this.#resolved.set(name, fn);
    return fn;
  }
}
