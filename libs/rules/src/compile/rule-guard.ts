import type { ConditionNode, TopLevelCondition } from '../model/rule';

/** A necessary condition of a rule: the event's value at `path` must be one of `values` (compared with `===`). */
export interface RuleGuard {
  readonly path: string;
  readonly values: readonly (string | number | boolean)[];
}

type Primitive = string | number | boolean;
const isPrimitive = (v: unknown): v is Primitive =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** The equality a single node requires of the event, if any: `event <path> equal x` or `in [x, y]`. */
function nodeGuard(c: ConditionNode): RuleGuard | undefined {
  if ('all' in c) {
    // Any one child's guard is necessary for the whole conjunction.
    for (const child of c.all) {
      const g = nodeGuard(child);
      if (g !== undefined) return g;
    }
    return undefined;
  }
  if ('any' in c) return union(c.any.map(nodeGuard));
  if ('not' in c) return undefined;
  if (c.fact !== 'event' || c.path === undefined || c.params !== undefined) return undefined;
  const v = c.value;
  if (c.operator === 'equal' && isPrimitive(v)) return { path: c.path, values: [v] };
  if (c.operator === 'in' && Array.isArray(v) && v.every(isPrimitive)) return { path: c.path, values: v };
  return undefined;
}

function union(guards: readonly (RuleGuard | undefined)[]): RuleGuard | undefined {
  if (guards.length === 0) return undefined;
  const path = guards[0]?.path;
  if (path === undefined || guards.some((g) => g === undefined || g.path !== path)) return undefined;
  return { path, values: [...new Set(guards.flatMap((g) => (g as RuleGuard).values))] };
}

/**
 * The guard of a set of alternatives (one of which an event must meet to matter): the union of their guards, provided
 * every alternative has one on the same path. Note `any: []` holds for every event (json-rules-engine), so it has none.
 */
export function guardOf(conditions: readonly TopLevelCondition[]): RuleGuard | undefined {
  return union(conditions.map((c) => ('any' in c && c.any.length === 0 ? undefined : nodeGuard(c))));
}
