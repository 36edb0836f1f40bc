import type { ConditionNode, TopLevelCondition } from '../model/rule';

/** A necessary condition of a rule: the event's value at `path` must be one of `values` (compared with `===`). */
export interface RuleGuard {
  readonly path: string;
  readonly values: readonly (string | number | boolean)[];
}

type Primitive = string | number | boolean;
const isPrimitive = (v: unknown): v is Primitive =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/**
 * Every equality a node requires of the event: `event <path> equal x` or `in [x, y]`, each child's of an `all`, and
 * for an `any` one per path on which every alternative has one (their union).
 */
function nodeGuards(c: ConditionNode): RuleGuard[] {
  if ('all' in c) return c.all.flatMap(nodeGuards);
  if ('any' in c) return unionByPath(c.any.map(nodeGuards));
  if ('not' in c) return [];
  if (c.fact !== 'event' || c.path === undefined || c.params !== undefined) return [];
  const v = c.value;
  if (c.operator === 'equal' && isPrimitive(v)) return [{ path: c.path, values: [v] }];
  if (c.operator === 'in' && Array.isArray(v) && v.every(isPrimitive)) return [{ path: c.path, values: v }];
  return [];
}

/** For alternatives (one of which must hold): per path that every alternative guards, the union of their values. */
function unionByPath(alternatives: readonly RuleGuard[][]): RuleGuard[] {
  if (alternatives.length === 0) return [];
  const out: RuleGuard[] = [];
  for (const first of alternatives[0]) {
    if (out.some((g) => g.path === first.path)) continue;
    const each = alternatives.map((guards) => guards.find((g) => g.path === first.path));
    if (each.some((g) => g === undefined)) continue;
    out.push({ path: first.path, values: [...new Set(each.flatMap((g) => (g as RuleGuard).values))] });
  }
  return out;
}

/**
 * The guards of a set of alternatives (one of which an event must meet to matter): every path on which each
 * alternative requires an equality, with the union of their values; any one of them is a necessary condition, so the
 * rule set may index a rule on whichever is most selective. Note `any: []` holds for every event (json-rules-engine),
 * so it has none.
 */
export function guardsOf(conditions: readonly TopLevelCondition[]): RuleGuard[] {
  return unionByPath(conditions.map((c) => ('any' in c && c.any.length === 0 ? [] : nodeGuards(c))));
}

/** The first of {@link guardsOf}, or undefined when there is none. */
export function guardOf(conditions: readonly TopLevelCondition[]): RuleGuard | undefined {
  return guardsOf(conditions)[0];
}
