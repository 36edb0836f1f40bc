import { parsePath, pathGetter, type PathSegments } from '../condition/json-path';
import type { CompiledRule } from '../compile/compile-rule';
import type { RuleGuard } from '../compile/rule-guard';

/** One grouping an event is routed to: the key, its fields and values, and the rules that want the event there. */
export interface RoutedKey {
  /**
   * `field=value` pairs joined by `&`; a value containing `%`, `&` or `=` is URI-encoded, so the key is unique per
   * grouping and per value (and `decodeURIComponent` gives the value back).
   */
  readonly key: string;
  readonly groupBy: readonly string[];
  readonly values: readonly (string | number | boolean)[];
  readonly ruleIds: readonly string[];
}

const NEEDS_ESCAPE = /[%&=]/;

interface Grouping {
  readonly groupBy: readonly string[];
  readonly getters: readonly ((event: unknown) => unknown)[];
  readonly prefixes: readonly string[];
}

interface GuardIndex {
  readonly get: (event: unknown) => unknown;
  readonly byValue: Map<unknown, CompiledRule[]>;
  /** The same rules by value, already split by grouping (what `route` needs per event). */
  readonly groupedByValue: Map<unknown, readonly GroupedRules[]>;
}

/** Rules of one grouping, in rule order. */
interface GroupedRules {
  readonly grouping: Grouping;
  readonly ruleIds: readonly string[];
}

/**
 * The rules in force, indexed for routing. Active rules are evaluated; paused rules are only known (their keyed state
 * is kept, see `RuleEvaluator`); deleted rules are absent (their state is dropped). Rules with a guard (an equality
 * on an event field that every event they can use must meet) sit in a hash index on that field, so an event meets only
 * the rules that can match it.
 */
export class RuleSet {
  readonly #rules = new Map<string, CompiledRule>();
  readonly #active: CompiledRule[] = [];
  readonly #paused = new Set<string>();
  readonly #unguarded: CompiledRule[] = [];
  readonly #guards = new Map<string, GuardIndex>();
  readonly #groupings = new Map<string, Grouping>();
  readonly #groupingOf = new Map<string, string>();
  readonly #unguardedGrouped: readonly GroupedRules[];
  /** Merged rule lists per combination of sources (see `MergeNode`). */
  readonly #merges = new MergeNode([]);

  constructor(rules: readonly CompiledRule[]) {
    for (const r of rules) {
      if (r.rule.status === 'deleted') continue;
      if (this.#rules.has(r.id)) throw new Error(`rule ${r.id} appears twice`);
      this.#rules.set(r.id, r);
      if (r.rule.status === 'paused') {
        this.#paused.add(r.id);
        continue;
      }
      this.#active.push(r);
      const gid = JSON.stringify(r.groupBy);
      if (!this.#groupings.has(gid)) {
        this.#groupings.set(gid, {
          groupBy: r.groupBy,
          getters: r.groupByGetters,
          prefixes: r.groupBy.map((f, i) => `${i === 0 ? '' : '&'}${f}=`),
        });
      }
      this.#groupingOf.set(r.id, gid);
    }
    const selectivity = distinctValuesByPath(this.#active);
    for (const r of this.#active) {
      const guard = mostSelective(r.guards, selectivity);
      if (guard === undefined) {
        this.#unguarded.push(r);
        continue;
      }
      let index = this.#guards.get(guard.path);
      if (index === undefined) {
        index = {
          get: pathGetter(parsePath(guard.path) as PathSegments),
          byValue: new Map(),
          groupedByValue: new Map(),
        };
        this.#guards.set(guard.path, index);
      }
      for (const v of guard.values) {
        const list = index.byValue.get(v);
        if (list === undefined) index.byValue.set(v, [r]);
        else list.push(r);
      }
    }
    this.#unguardedGrouped = this.#grouped(this.#unguarded);
    for (const index of this.#guards.values()) {
      for (const [v, list] of index.byValue) index.groupedByValue.set(v, this.#grouped(list));
    }
  }

  #grouped(rules: readonly CompiledRule[]): GroupedRules[] {
    const byGrouping = new Map<string, string[]>();
    for (const r of rules) {
      const gid = this.#groupingOf.get(r.id) as string;
      const ids = byGrouping.get(gid);
      if (ids === undefined) byGrouping.set(gid, [r.id]);
      else ids.push(r.id);
    }
    return [...byGrouping].map(([gid, ruleIds]) => ({ grouping: this.#groupings.get(gid) as Grouping, ruleIds }));
  }

  /** The compiled rule (active or paused) with this id. */
  get(id: string): CompiledRule | undefined {
    return this.#rules.get(id);
  }

  /** Active rules. */
  get active(): readonly CompiledRule[] {
    return this.#active;
  }

  /** Whether a rule is known but paused (its state must be kept). */
  isPaused(id: string): boolean {
    return this.#paused.has(id);
  }

  /** The active rules that can use this event (by their guards), in no particular order. */
  candidates(event: Readonly<Record<string, unknown>>): CompiledRule[] {
    const out = this.#unguarded.slice();
    for (const index of this.#guards.values()) {
      const hit = index.byValue.get(index.get(event));
      if (hit !== undefined) for (let i = 0; i < hit.length; i++) out.push(hit[i]);
    }
    return out;
  }

  /**
   * The distinct grouping keys the active rules need for this event, each with the ids of the rules that want it
   * there. An event without a usable value (string, number or boolean) for a group-by field is not routed to the
   * rules grouping by it.
   */
  route(event: Readonly<Record<string, unknown>>): RoutedKey[] {
    // Rule lists come pre-split by grouping (unguarded rules, then each guard index's hit): with a single source, as
    // with rules guarded on one field, nothing is merged per event.
    let single: readonly GroupedRules[] | undefined =
      this.#unguardedGrouped.length > 0 ? this.#unguardedGrouped : undefined;
    let merge: MergeNode | undefined;
    for (const index of this.#guards.values()) {
      const hit = index.groupedByValue.get(index.get(event));
      if (hit === undefined) continue;
      if (single === undefined && merge === undefined) {
        single = hit;
        continue;
      }
      merge = (merge ?? this.#merges.child(single as readonly GroupedRules[])).child(hit);
      single = undefined;
    }
    const groups = merge === undefined ? single : merge.merged();
    if (groups === undefined) return [];
    // Sized once: an empty list's first push reserves room for 17.
    const out = new Array<RoutedKey>(groups.length);
    let n = 0;
    for (let i = 0; i < groups.length; i++) {
      const route = this.#routeTo(event, groups[i].grouping, groups[i].ruleIds);
      if (route !== undefined) out[n++] = route;
    }
    out.length = n;
    return out;
  }

  #routeTo(event: Readonly<Record<string, unknown>>, g: Grouping, ruleIds: readonly string[]): RoutedKey | undefined {
    if (g.getters.length === 1) {
      // The common case without the growable list (an empty array's first push reserves 16 elements).
      const v = g.getters[0](event);
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return undefined;
      return { key: g.prefixes[0] + keyText(v), groupBy: g.groupBy, values: [v], ruleIds };
    }
    const values: (string | number | boolean)[] = [];
    let key = '';
    for (let i = 0; i < g.getters.length; i++) {
      const v = g.getters[i](event);
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return undefined;
      values.push(v);
      key += g.prefixes[i] + keyText(v);
    }
    return { key, groupBy: g.groupBy, values, ruleIds };
  }
}

/**
 * The rule lists of one combination of sources (the unguarded rules and each guard index's hit, in index order) merged
 * by grouping, made on first use and kept: events with the same combination get the same lists, so nothing is copied
 * per event and the evaluator finds its plans for them by identity. A path of the tree is one combination; there are
 * no more of them than the active rules' guard values allow.
 */
class MergeNode {
  readonly #children = new Map<readonly GroupedRules[], MergeNode>();
  #merged: readonly GroupedRules[] | undefined;

  constructor(readonly sources: readonly (readonly GroupedRules[])[]) {}

  child(source: readonly GroupedRules[]): MergeNode {
    let node = this.#children.get(source);
    if (node === undefined) this.#children.set(source, (node = new MergeNode([...this.sources, source])));
    return node;
  }

  merged(): readonly GroupedRules[] {
    if (this.#merged === undefined) {
      const byGrouping = new Map<Grouping, string[]>();
      for (const source of this.sources) {
        for (const g of source) {
          const ids = byGrouping.get(g.grouping);
          if (ids === undefined) byGrouping.set(g.grouping, [...g.ruleIds]);
          else ids.push(...g.ruleIds);
        }
      }
      this.#merged = [...byGrouping].map(([grouping, ruleIds]) => ({ grouping, ruleIds }));
    }
    return this.#merged;
  }
}

/** A routing key's text for a value: URI-encoded when it contains `%`, `&` or `=`. */
function keyText(v: string | number | boolean): string {
  const text = String(v);
  return NEEDS_ESCAPE.test(text) ? encodeURIComponent(text) : text;
}

/** Per event path, how many distinct values the active rules' guards ask of it. */
function distinctValuesByPath(rules: readonly CompiledRule[]): Map<string, number> {
  const values = new Map<string, Set<unknown>>();
  for (const r of rules) {
    for (const g of r.guards) {
      let set = values.get(g.path);
      if (set === undefined) values.set(g.path, (set = new Set()));
      for (const v of g.values) set.add(v);
    }
  }
  return new Map([...values].map(([path, set]) => [path, set.size]));
}

/**
 * The guard to index a rule on: each of its guards is necessary, so any is correct; the one on the path whose values
 * split the rule set finest lets an event meet the fewest rules (`type = payment` guards every payment rule alike,
 * `merchantId = m-7` one merchant's). Ties keep the rule's first.
 */
function mostSelective(guards: readonly RuleGuard[], distinct: ReadonlyMap<string, number>): RuleGuard | undefined {
  let best: RuleGuard | undefined;
  let bestScore = -1;
  for (const g of guards) {
    const score = (distinct.get(g.path) ?? 0) / g.values.length;
    if (score > bestScore) {
      best = g;
      bestScore = score;
    }
  }
  return best;
}

/**
 * The distinct grouping keys the active rules need for `event` (see {@link RuleSet.route}). Builds the index on each
 * call: keep a `RuleSet` when routing many events.
 */
export function routeEvent(
  activeRules: readonly CompiledRule[] | RuleSet,
  event: Readonly<Record<string, unknown>>,
): RoutedKey[] {
  return (activeRules instanceof RuleSet ? activeRules : new RuleSet(activeRules)).route(event);
}
