import type { ConditionNode, FactReference, JsonValue, LeafCondition, TopLevelCondition } from '../model/rule';
import { FactRegistry, type FactFn, type RuleEvent, type StepContext } from './facts';
import { parsePath, type PathSegments } from './json-path';
import { isBuiltInOperatorName, OperatorRegistry, type BuiltInOperatorName } from './operators';

/** A compiled condition: synchronous, allocation-free on the common paths, never `eval`. */
export type ConditionFn = (event: RuleEvent, ctx: StepContext | undefined) => boolean;

/** What one node of a condition saw when it was evaluated (for alert explanations). */
export type ConditionTrace =
  | { kind: 'all' | 'any' | 'not'; name?: string; result: boolean; children: ConditionTrace[] }
  | {
      kind: 'leaf';
      name?: string;
      fact: string;
      path?: string;
      params?: Record<string, JsonValue>;
      operator: string;
      factValue: unknown;
      value: unknown;
      valueFact?: FactReference;
      result: boolean;
      error?: string;
    };

/** A compiled condition tree: the fast test plus what is needed to explain an answer. */
export interface CompiledCondition {
  readonly test: ConditionFn;
  /** Re-evaluates every node (no short-circuit) and records the values seen. Slow path: alerts only. */
  explain(event: RuleEvent, ctx: StepContext | undefined): ConditionTrace;
  /** The fields of the current event (`event` fact paths) this condition reads. */
  readonly eventPaths: readonly string[];
  /**
   * When the condition is a conjunction of {@link SimpleLeaf}s (`all` of them, nested `all`s and single-child `any`s
   * flattened), those leaves in evaluation order: `test` holds exactly when each holds, the first that does not
   * ending the evaluation. Undefined for any other shape. Lets an evaluator run many rules' conditions as data over
   * event fields it reads once, rather than through each rule's closures.
   */
  readonly leaves?: readonly SimpleLeaf[];
}

/**
 * A leaf `{ fact: 'event', path, operator, value }` with an undecorated built-in operator and a literal value (an
 * array for `in`/`notIn`): it holds when `operator(value at path, value)` does (see {@link simpleLeafHolds}).
 */
export interface SimpleLeaf {
  readonly path: PathSegments;
  readonly operator: SimpleOperator;
  readonly value: unknown;
}

/** The operators a {@link SimpleLeaf} may use: json-rules-engine's built-ins. */
export type SimpleOperator = BuiltInOperatorName;

/** What a condition compiles against. */
export interface ConditionCompileOptions {
  operators: OperatorRegistry;
  facts: FactRegistry;
  /** Step names of the enclosing sequence, for the `steps` fact without a path. */
  stepNames?: readonly string[];
}

interface Node {
  test: ConditionFn;
  explain: (event: RuleEvent, ctx: StepContext | undefined) => ConditionTrace;
}

const hasOwn = Object.prototype.hasOwnProperty;

function isFactReference(value: unknown): value is FactReference {
  return value !== null && typeof value === 'object' && hasOwn.call(value, 'fact');
}

/**
 * Compiles a condition in json-rules-engine's format to a closure with its semantics: `all`/`any` of an empty list hold,
 * `not` negates, a leaf is `operator(fact value at path, value or referenced fact value) === true`. Throws on unknown
 * operators or facts (validation reports those first, with their field paths).
 */
export function compileCondition(condition: TopLevelCondition, options: ConditionCompileOptions): CompiledCondition {
  const eventPaths = new Set<string>();
  const node = compileNode(condition, options, eventPaths);
  const leaves: SimpleLeaf[] = [];
  return {
    test: node.test,
    explain: node.explain,
    eventPaths: [...eventPaths],
    ...(simpleConjunction(condition, options.operators, leaves) ? { leaves } : {}),
  };
}

/**
 * Appends the leaves of a conjunction of simple leaves to `out`, in the order `test` evaluates them; false when the
 * node is anything else. `all` short-circuits left to right, so `all: [all: [a, b], c]` is `a && b && c`; an `any` of
 * one child is that child (see anyOf).
 */
function simpleConjunction(c: ConditionNode, operators: OperatorRegistry, out: SimpleLeaf[]): boolean {
  if ('all' in c) return (c.all ?? []).every((x) => simpleConjunction(x, operators, out));
  if ('any' in c) return c.any !== undefined && c.any.length === 1 && simpleConjunction(c.any[0], operators, out);
  if ('not' in c) return false;
  if (c.fact !== 'event' || c.path === undefined || isFactReference(c.value)) return false;
  const path = parsePath(c.path);
  if (path === undefined || path.length === 0) return false;
  const operator = c.operator;
  if (!isBuiltInOperatorName(operator) || !operators.isBuiltIn(operator)) return false;
  if ((operator === 'in' || operator === 'notIn') && !Array.isArray(c.value)) return false;
  out.push({ path, operator, value: c.value });
  return true;
}

function compileNode(c: ConditionNode, options: ConditionCompileOptions, eventPaths: Set<string>): Node {
  const name = c.name;
  if ('all' in c || 'any' in c) {
    const isAll = 'all' in c;
    const children = ((isAll ? (c as { all: ConditionNode[] }).all : (c as { any: ConditionNode[] }).any) ?? []).map(
      (x) => compileNode(x, options, eventPaths),
    );
    const kind = isAll ? 'all' : 'any';
    return {
      test: isAll ? allOf(children.map((x) => x.test)) : anyOf(children.map((x) => x.test)),
      explain: (e, ctx) => {
        const traces = children.map((x) => x.explain(e, ctx));
        const result =
          traces.length === 0 ? true : isAll ? traces.every((t) => t.result) : traces.some((t) => t.result);
        return { kind, ...(name === undefined ? {} : { name }), result, children: traces };
      },
    };
  }
  if ('not' in c) {
    const inner = compileNode(c.not, options, eventPaths);
    const t = inner.test;
    return {
      test: (e, ctx) => !t(e, ctx),
      explain: (e, ctx) => {
        const trace = inner.explain(e, ctx);
        return { kind: 'not', ...(name === undefined ? {} : { name }), result: !trace.result, children: [trace] };
      },
    };
  }
  const op = options.operators.resolve(c.operator);
  if (op === undefined) throw new Error(`unknown operator "${c.operator}"`);
  const left = options.facts.compile(c.fact, c.params, c.path, options.stepNames);
  if (c.fact === 'event') eventPaths.add(c.path ?? '$');
  const valueRef = isFactReference(c.value) ? c.value : undefined;
  let test: ConditionFn;
  let right: FactFn;
  if (valueRef !== undefined && sameFact(c, valueRef)) {
    // json-rules-engine computes a fact once per run (its almanac caches it), so a fact compared with itself meets the
    // very same value, object identity included; evaluate it once for the same answer.
    let last: unknown;
    right = () => last;
    const once: FactFn = (e, ctx) => (last = left(e, ctx));
    const l = once;
    test = (e, ctx) => {
      const v = l(e, ctx);
      return op(v, v) === true;
    };
    return leafOf(c, valueRef, op, once, right, test);
  } else if (valueRef !== undefined) {
    right = options.facts.compile(valueRef.fact, valueRef.params, valueRef.path, options.stepNames);
    if (valueRef.fact === 'event') eventPaths.add(valueRef.path ?? '$');
    const r = right;
    test = (e, ctx) => op(left(e, ctx), r(e, ctx)) === true;
  } else {
    const literal: unknown = c.value;
    right = () => literal;
    test = (e, ctx) => op(left(e, ctx), literal) === true;
  }
  return leafOf(c, valueRef, op, left, right, test);
}

/** A leaf's test and its explanation (left is evaluated before right, as in `test`). */
function leafOf(
  leaf: LeafCondition,
  valueRef: FactReference | undefined,
  op: (factValue: unknown, value: unknown) => unknown,
  left: FactFn,
  right: FactFn,
  test: ConditionFn,
): Node {
  return {
    test,
    explain: (e, ctx) => {
      let factValue: unknown;
      let value: unknown;
      try {
        factValue = left(e, ctx);
        value = right(e, ctx);
        return { ...leafHeader(leaf, valueRef), factValue, value, result: op(factValue, value) === true };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return { ...leafHeader(leaf, valueRef), factValue, value, result: false, error: message };
      }
    },
  };
}

/** Whether a referenced fact is the leaf's own fact: same name, parameters and path (`$.a` and `$['a']` alike). */
function sameFact(leaf: LeafCondition, ref: FactReference): boolean {
  if (leaf.fact !== ref.fact) return false;
  if (canonicalJson(leaf.params ?? {}) !== canonicalJson(ref.params ?? {})) return false;
  return (
    JSON.stringify(parsePath(leaf.path ?? '$') ?? leaf.path) === JSON.stringify(parsePath(ref.path ?? '$') ?? ref.path)
  );
}

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

function leafHeader(
  c: { name?: string; fact: string; path?: string; params?: Record<string, JsonValue>; operator: string },
  valueFact: FactReference | undefined,
): {
  kind: 'leaf';
  name?: string;
  fact: string;
  path?: string;
  params?: Record<string, JsonValue>;
  operator: string;
  valueFact?: FactReference;
} {
  return {
    kind: 'leaf',
    ...(c.name === undefined ? {} : { name: c.name }),
    fact: c.fact,
    ...(c.path === undefined ? {} : { path: c.path }),
    ...(c.params === undefined ? {} : { params: c.params }),
    operator: c.operator,
    ...(valueFact === undefined ? {} : { valueFact }),
  };
}

// Unrolled for short lists: most rule conditions have one to three children, and a loop over a closure array is
// measurably slower in V8 than direct calls.
function allOf(fns: ConditionFn[]): ConditionFn {
  switch (fns.length) {
    case 0:
      return () => true;
    case 1:
      return fns[0];
    case 2: {
      const [a, b] = fns;
      return (e, c) => a(e, c) && b(e, c);
    }
    case 3: {
      const [a, b, d] = fns;
      return (e, c) => a(e, c) && b(e, c) && d(e, c);
    }
    default:
      return (e, c) => {
        for (let i = 0; i < fns.length; i++) if (!fns[i](e, c)) return false;
        return true;
      };
  }
}

function anyOf(fns: ConditionFn[]): ConditionFn {
  switch (fns.length) {
    case 0:
      return () => true;
    case 1:
      return fns[0];
    case 2: {
      const [a, b] = fns;
      return (e, c) => a(e, c) || b(e, c);
    }
    case 3: {
      const [a, b, d] = fns;
      return (e, c) => a(e, c) || b(e, c) || d(e, c);
    }
    default:
      return (e, c) => {
        for (let i = 0; i < fns.length; i++) if (fns[i](e, c)) return true;
        return false;
      };
  }
}
