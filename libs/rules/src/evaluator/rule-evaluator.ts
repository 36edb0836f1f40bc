import { ByteReader, CepheusError, type ByteWriter } from '@cepheus/common';
import type { Alert } from '../alert/alert';
import { defaultEventId, RuleAlerts } from '../alert/rule-alerts';
import { windowValueOf } from '../aggregate/sliding-window';
import {
  addMember,
  admit,
  allocateSlot,
  compactWindow,
  createSharedWindow,
  evictSlot,
  findSlot,
  freeSlot,
  functionCode,
  insertEvent,
  internName,
  readSharedWindow,
  rebuildSlot,
  restoreSharedWindow,
  setFiring,
  slotAggregate,
  slotHolds,
  slotFiring,
  slotFunction,
  slotFunctionCode,
  slotCount,
  slotMembers,
  slotOldest,
  slotRule,
  slotShape,
  slotSize,
  snapshotSharedWindow,
  writeSharedWindow,
  type SharedWindow,
  type SharedWindowSnapshot,
} from '../aggregate/shared-window';
import type { CompiledAggregateRule, CompiledRule, CompiledSequenceRule, RuleStats } from '../compile/compile-rule';
import type { ConditionFn, SimpleLeaf } from '../condition/compile-condition';
import type { RuleEvent } from '../condition/facts';
import { fieldToPath, parsePath } from '../condition/json-path';
import { LeafProgram } from '../condition/leaf-program';
import type { AggregateComparison, AggregateFunction, JsonValue } from '../model/rule';
import type { RoutedKey } from '../route/rule-set';
import { RuleSet } from '../route/rule-set';

type NfaState = ReturnType<CompiledSequenceRule['nfa']['createState']>;

/** Keyed state of a sequence rule: the NFA's partial matches. */
export interface SequenceState {
  readonly kind: 'sequence';
  shape: string;
  nfa: NfaState;
  /** Latest event time seen by this rule for this key. */
  latest: number;
}

/**
 * The keyed state under one entry of a {@link KeyState}: a sequence rule's NFA (under the rule's id), or the one
 * window all aggregate rules of the key share (under {@link AGGREGATES_ENTRY}).
 */
export type RuleState = SharedWindow | SequenceState;

/**
 * The entry of a {@link KeyState} holding the aggregate rules' shared window. Rule ids start with a letter or digit,
 * so no rule can collide with it.
 */
export const AGGREGATES_ENTRY = '#aggregates';

/**
 * Everything the evaluator keeps for one key: sequence rule id -> NFA state, plus one shared window for all the
 * aggregate rules (see {@link AGGREGATES_ENTRY}). Empty when nothing is pending, so the runtime can drop the key. The
 * runtime owns it (keyed state), hands it to `process`/`advanceTime`, which change it in place, and persists it with
 * `snapshot` (JSON) / `restore`. A Map rather than an object: objects used as dictionaries with ids added in varying
 * orders make V8 build a hidden class per order.
 */
export type KeyState = Map<string, RuleState>;

/** Format version of {@link RuleEvaluator.snapshot}. */
const SNAPSHOT_VERSION = 3;
/** Format 2 differs only in how aggregate slots are written (objects); restore reads both. */
const READABLE_VERSIONS: readonly number[] = [2, SNAPSHOT_VERSION];

/** Format version of {@link RuleEvaluator.writeState}, the binary form of format 3. */
const BINARY_VERSION = 4;
const ENTRY_END = 0;
const ENTRY_AGGREGATES = 1;
const ENTRY_SEQUENCE = 2;

interface KeySnapshot {
  v: number;
  aggregates?: SharedWindowSnapshot;
  sequences?: [string, { shape: string; latest: number; nfa: JsonValue }][];
}

/** A rule as the evaluator uses it, with the slot it last had in a shared window (most keys assign the same). */
interface RulePlan {
  readonly rule: CompiledRule;
  /** {@link internName} codes of the rule id and state shape. */
  readonly code: number;
  readonly shape: number;
  slotHint: number;
  /*
   * What every event reads, copied out of the compiled rule and its document: with 1,000 rules those objects are
   * cold, and reading `rule.rule.status` alone was a fifth of the time.
   */
  readonly active: boolean;
  readonly effectiveFrom: number;
  readonly aggregate: CompiledAggregateRule | undefined;
  readonly fn: AggregateFunction;
  /** {@link functionCode} of `fn`: compared with a slot's per event. */
  readonly fnCode: number;
  readonly filter: ConditionFn | undefined;
  /**
   * The filter (aggregates) or the start test (sequences) as leaves `[leavesStart, leavesEnd)` of the evaluator's
   * {@link LeafProgram} when it is a conjunction of simple leaves (an aggregate without a filter: an empty range);
   * leavesEnd -1 when the closure must run.
   */
  readonly leavesStart: number;
  readonly leavesEnd: number;
  readonly stats: RuleStats;
  readonly fieldGetter: ((event: unknown) => unknown) | undefined;
  /** The aggregated field in the evaluator's {@link LeafProgram}, -1 when none (or read through `fieldGetter`). */
  readonly valueField: number;
  readonly windowMs: number;
  readonly operator: AggregateComparison;
  readonly limit: number;
}

const NO_PLAN: readonly (RulePlan | undefined)[] = [];

/**
 * Filled in by {@link RuleEvaluator.process}: `next` is lowered to the earliest deadline the event added to the key
 * (the end of a window it entered, the `within` of a sequence it advanced).
 */
export interface AddedDeadline {
  next: number;
}

/** Options of {@link RuleEvaluator}. */
export interface RuleEvaluatorOptions {
  /**
   * The id of an event, used in alerts and alert ids. Default: the event's `id` field when it is a string or number,
   * else a sha1 of its JSON.
   */
  eventId?: (event: Readonly<Record<string, unknown>>) => string;
}

const NONE: readonly Alert[] = Object.freeze([]);

/**
 * Evaluates compiled rules on routed events, independent of any runtime. One evaluator serves every key; per-key
 * state is plain data handed in. Alerts are deterministic: the same events in the same order give the same alerts
 * with the same ids.
 */
export class RuleEvaluator {
  readonly rules: RuleSet;
  readonly #eventId: (event: Readonly<Record<string, unknown>>) => string;
  readonly #alerts = new RuleAlerts();
  readonly #plans = new Map<string, RulePlan>();
  /** Plans per routed rule list: `RuleSet.route` hands out the same arrays for the same guard value and grouping. */
  readonly #planLists = new WeakMap<readonly string[], readonly (RulePlan | undefined)[]>();
  readonly #leaves = new LeafProgram();

  constructor(rules: RuleSet | readonly CompiledRule[], options: RuleEvaluatorOptions = {}) {
    this.rules = rules instanceof RuleSet ? rules : new RuleSet(rules);
    this.#eventId = options.eventId ?? defaultEventId;
  }

  /** The routing of an event (see {@link RuleSet.route}). */
  route(event: Readonly<Record<string, unknown>>): RoutedKey[] {
    return this.rules.route(event);
  }

  /**
   * Feeds one event, routed to `route.key`, to the rules `route.ruleIds` and returns their alerts. Rules not active
   * (paused, deleted, unknown) and events before a rule's `effectiveFrom` are skipped. State written by an
   * incompatible earlier version of a rule is discarded first.
   *
   * `deadline`, when given, is lowered to the earliest deadline this event added to the key. Taken with the key's
   * wake-up before the event (the minimum of both), it is never later than `nextWakeUp` after it, since evictions and
   * matches only move deadlines later: a runtime can keep a key's timer without `nextWakeUp`'s walk over every rule
   * state of the key per event. It may be earlier than needed; `advanceTime` then finds nothing and `nextWakeUp` gives
   * the exact time.
   */
  process(
    keyState: KeyState,
    route: Pick<RoutedKey, 'key' | 'ruleIds'>,
    event: Readonly<Record<string, unknown>>,
    timestamp: number,
    deadline?: AddedDeadline,
  ): readonly Alert[] {
    let alerts: Alert[] | undefined;
    let ev: RuleEvent | undefined;
    let window = keyState.get(AGGREGATES_ENTRY) as SharedWindow | undefined;
    // Index of this event in the shared window, once an aggregate rule took it: stored once for all of them.
    let at = -1;
    const plans = this.#plansOf(route.ruleIds);
    this.#leaves.begin(event);
    for (let i = 0; i < plans.length; i++) {
      const plan = plans[i];
      if (plan === undefined || !plan.active || timestamp < plan.effectiveFrom) continue;
      ev ??= { event, timestamp, id: this.#eventId(event) };
      let out: Alert[] | undefined;
      const rule = plan.aggregate;
      if (rule !== undefined) {
        let slot = window === undefined ? -1 : findSlot(window, plan.code, plan.slotHint);
        if (slot >= 0 && slotShape(window as SharedWindow, slot) !== plan.shape) {
          freeSlot(window as SharedWindow, slot);
          slot = -1;
        }
        if (plan.leavesEnd >= 0) {
          if (!this.#leavesHold(plan)) continue;
        } else if (plan.filter !== undefined && !plan.filter(ev, undefined)) {
          continue;
        }
        const fn = plan.fn;
        const value = windowValueOf(
          fn,
          plan.valueField >= 0
            ? this.#leaves.read(plan.valueField)
            : plan.fieldGetter === undefined
              ? undefined
              : plan.fieldGetter(event),
        );
        if (value === undefined) continue;
        if (window === undefined) {
          window = createSharedWindow();
          keyState.set(AGGREGATES_ENTRY, window);
        }
        if (slot < 0) {
          slot = allocateSlot(window, plan.code, plan.shape, fn, rule.field);
        } else if (slotFunctionCode(window, slot) !== plan.fnCode) {
          rebuildSlot(window, slot, fn);
        }
        plan.slotHint = slot;
        if (!admit(window, slot, plan.windowMs, timestamp)) continue;
        if (at < 0) at = insertEvent(window, timestamp, ev.id);
        addMember(window, slot, at, value);
        if (deadline !== undefined && timestamp + plan.windowMs < deadline.next) {
          deadline.next = timestamp + plan.windowMs;
        }
        evictSlot(window, slot, plan.windowMs, timestamp);
        out = this.#compare(plan, rule, window, slot, route.key, ev);
      } else {
        const rule = plan.rule as CompiledSequenceRule;
        let s = keyState.get(rule.id) as SequenceState | undefined;
        if (s !== undefined && s.shape !== rule.stateShape) {
          keyState.delete(rule.id);
          s = undefined;
        }
        // A fresh NFA can only start on its first step: skip the state allocation for events that cannot.
        if (s === undefined && rule.startTest !== undefined) {
          if (plan.leavesEnd >= 0 ? !this.#leavesHold(plan) : !rule.startTest(ev, undefined)) continue;
        }
        if (s === undefined) {
          s = { kind: 'sequence', shape: rule.stateShape, nfa: rule.nfa.createState(), latest: timestamp };
          keyState.set(rule.id, s);
        }
        if (timestamp > s.latest) s.latest = timestamp;
        if (deadline !== undefined && rule.withinMs !== undefined && timestamp + rule.withinMs < deadline.next) {
          deadline.next = timestamp + rule.withinMs;
        }
        const result = rule.nfa.process(s.nfa, ev, timestamp);
        out = this.#alerts.sequence(rule, route.key, result.matches, result.timedOut);
      }
      if (out !== undefined) (alerts ??= []).push(...out);
    }
    if (window !== undefined) {
      if (window.used === 0) keyState.delete(AGGREGATES_ENTRY);
      else compactWindow(window, false);
    }
    return alerts ?? NONE;
  }

  /**
   * Moves event time forward for one key: evicts aggregate windows (an aggregate whose comparison starts to hold
   * because events left the window alerts now), times out partial matches (alerts for `notFollowedBy`-at-the-end
   * matches and `timeoutAlert`s), drops the state of deleted rules and empty windows.
   */
  advanceTime(keyState: KeyState, key: string, time: number): readonly Alert[] {
    let alerts: Alert[] | undefined;
    for (const [id, state] of keyState) {
      if (state.kind === 'aggregates') {
        const out = this.#advanceWindow(state, key, time);
        if (state.used === 0) keyState.delete(id);
        if (out !== undefined) (alerts ??= []).push(...out);
        continue;
      }
      const rule = this.rules.get(id);
      if (rule === undefined || state.shape !== rule.stateShape) {
        keyState.delete(id);
        continue;
      }
      if (rule.rule.status !== 'active' || rule.kind !== 'sequence') continue;
      const result = rule.nfa.advanceTime(state.nfa, time);
      const out = this.#alerts.sequence(rule, key, result.matches, result.timedOut);
      const stats = rule.nfa.stats(state.nfa);
      if (stats.partialMatches === 0 && stats.bufferedEvents === 0) keyState.delete(id);
      if (out !== undefined) (alerts ??= []).push(...out);
    }
    return alerts ?? NONE;
  }

  /**
   * The earliest event time at which `advanceTime` could change something for this key (a window eviction or a
   * `within` deadline), for the runtime's timer; undefined when nothing is pending.
   */
  nextWakeUp(keyState: KeyState): number | undefined {
    let next = Infinity;
    for (const [id, state] of keyState) {
      if (state.kind === 'aggregates') {
        for (let s = 0; s < slotCount(state); s++) {
          const id = slotRule(state, s);
          if (id === undefined) continue;
          const rule = this.rules.get(id);
          if (rule === undefined) return -Infinity; // stale state: clear it at once
          if (rule.kind === 'aggregate' && slotSize(state, s) > 0) {
            next = Math.min(next, slotOldest(state, s) + rule.windowMs);
          }
        }
        continue;
      }
      const rule = this.rules.get(id);
      if (rule === undefined) return -Infinity;
      if (rule.kind === 'sequence' && rule.withinMs !== undefined) next = Math.min(next, state.latest + rule.withinMs);
    }
    return next === Infinity ? undefined : next;
  }

  /**
   * JSON-safe form of a key's state (NFA states through the CEP library's own snapshot), with a format version.
   * `restore` reads this version (3) and version 2: the per-rule windows of version 1 were never deployed.
   */
  snapshot(keyState: KeyState): JsonValue {
    const out: KeySnapshot = { v: SNAPSHOT_VERSION };
    for (const [id, state] of keyState) {
      if (state.kind === 'aggregates') {
        out.aggregates = snapshotSharedWindow(state);
        continue;
      }
      const rule = this.rules.get(id);
      if (rule === undefined || rule.kind !== 'sequence') continue;
      (out.sequences ??= []).push([
        id,
        { shape: state.shape, latest: state.latest, nfa: rule.nfa.snapshot(state.nfa) as unknown as JsonValue },
      ]);
    }
    return out as unknown as JsonValue;
  }

  /**
   * Writes what {@link snapshot} returns in binary (key-state format 4), straight from the state: what checkpoints use,
   * since building the JSON-safe tree and stringifying it cost ~20 µs a key on the event thread. {@link readState}
   * reads it.
   */
  writeState(keyState: KeyState, out: ByteWriter): void {
    out.u8(BINARY_VERSION);
    // Aggregates first, as `restore` rebuilds them: equal states write equal bytes whatever order they were built in.
    const window = keyState.get(AGGREGATES_ENTRY);
    if (window !== undefined && window.kind === 'aggregates') {
      out.u8(ENTRY_AGGREGATES);
      writeSharedWindow(window, out);
    }
    for (const [id, state] of keyState) {
      if (state.kind === 'aggregates') continue;
      const rule = this.rules.get(id);
      if (rule === undefined || rule.kind !== 'sequence') continue;
      out.u8(ENTRY_SEQUENCE);
      out.str(id);
      out.str(state.shape);
      out.f64(state.latest);
      out.str(JSON.stringify(rule.nfa.snapshot(state.nfa)));
    }
    out.u8(ENTRY_END);
  }

  /**
   * Rebuilds a key's state from {@link writeState}'s bytes, as {@link restore} does from the JSON form. Throws
   * `STATE_RESTORE_FAILED` for another format or bytes that do not parse.
   */
  readState(data: Uint8Array): KeyState {
    const snap: KeySnapshot = { v: SNAPSHOT_VERSION };
    try {
      const r = new ByteReader(data);
      const version = r.u8();
      if (version !== BINARY_VERSION) throw new RangeError(`format ${version} is not ${BINARY_VERSION}`);
      for (let entry = r.u8(); entry !== ENTRY_END; entry = r.u8()) {
        if (entry === ENTRY_AGGREGATES) {
          snap.aggregates = readSharedWindow(r);
        } else if (entry === ENTRY_SEQUENCE) {
          const id = r.str();
          const shape = r.str();
          const latest = r.f64();
          (snap.sequences ??= []).push([id, { shape, latest, nfa: JSON.parse(r.str()) as JsonValue }]);
        } else {
          throw new RangeError(`unknown entry ${entry}`);
        }
      }
      if (!r.done) throw new RangeError('bytes after the end of the state');
    } catch (error) {
      throw new CepheusError('STATE_RESTORE_FAILED', `binary rule state: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return this.restore(snap as unknown as JsonValue);
  }

  /**
   * Rebuilds a key's state from {@link snapshot}; state of rules no longer known, or changed incompatibly, is dropped.
   * Throws `STATE_RESTORE_FAILED` for another format version.
   */
  restore(data: JsonValue): KeyState {
    const snap = data as unknown as KeySnapshot;
    if (snap === null || typeof snap !== 'object' || !READABLE_VERSIONS.includes(snap.v)) {
      throw new CepheusError(
        'STATE_RESTORE_FAILED',
        `rule state snapshot format ${String((snap as { v?: unknown } | null)?.v)} is not one of ${READABLE_VERSIONS.join(', ')}`,
      );
    }
    const out: KeyState = new Map();
    if (snap.aggregates !== undefined) {
      const window = restoreSharedWindow(snap.aggregates, (id, shape) => {
        const rule = this.rules.get(id);
        return rule === undefined || rule.kind !== 'aggregate' || rule.stateShape !== shape
          ? undefined
          : { field: rule.field };
      });
      if (window.used > 0) out.set(AGGREGATES_ENTRY, window);
    }
    for (const [id, raw] of snap.sequences ?? []) {
      const rule = this.rules.get(id);
      if (rule === undefined || rule.kind !== 'sequence' || raw.shape !== rule.stateShape) continue;
      out.set(id, {
        kind: 'sequence',
        shape: rule.stateShape,
        latest: raw.latest,
        nfa: rule.nfa.restore(raw.nfa as unknown as Parameters<typeof rule.nfa.restore>[0]),
      });
    }
    return out;
  }

  #plansOf(ids: readonly string[]): readonly (RulePlan | undefined)[] {
    if (ids.length === 0) return NO_PLAN;
    let plans = this.#planLists.get(ids);
    if (plans === undefined) {
      plans = ids.map((id) => this.#plan(id));
      this.#planLists.set(ids, plans);
    }
    return plans;
  }

  #plan(id: string): RulePlan | undefined {
    let plan = this.#plans.get(id);
    if (plan === undefined) {
      const rule = this.rules.get(id);
      if (rule === undefined) return undefined;
      const aggregate = rule.kind === 'aggregate' ? rule : undefined;
      const spec = aggregate?.rule.aggregate;
      let leaves: readonly SimpleLeaf[] | undefined;
      if (aggregate !== undefined) leaves = aggregate.filter === undefined ? [] : aggregate.filter.leaves;
      else if (rule.kind === 'sequence' && rule.startTest !== undefined) leaves = rule.steps[0].condition.leaves;
      const leavesStart = leaves === undefined ? -1 : this.#leaves.add(leaves);
      const valuePath = aggregate?.field === undefined ? undefined : parsePath(fieldToPath(aggregate.field));
      plan = {
        rule,
        code: internName(rule.id),
        shape: internName(rule.stateShape),
        slotHint: 0,
        active: rule.rule.status === 'active',
        effectiveFrom: rule.effectiveFrom,
        aggregate,
        fn: spec?.function ?? 'count',
        fnCode: functionCode(spec?.function ?? 'count'),
        filter: aggregate?.filter?.test,
        leavesStart,
        leavesEnd: leaves === undefined ? -1 : leavesStart + leaves.length,
        stats: rule.stats,
        fieldGetter: aggregate?.fieldGetter,
        valueField: valuePath === undefined ? -1 : this.#leaves.field(valuePath),
        windowMs: aggregate?.windowMs ?? 0,
        operator: spec?.operator ?? 'greaterThan',
        limit: spec?.limit ?? 0,
      };
      this.#plans.set(id, plan);
    }
    return plan;
  }

  /** The plan's leaves over the current event; a throwing operator counts as an error and "does not hold". */
  #leavesHold(plan: RulePlan): boolean {
    try {
      return this.#leaves.holds(plan.leavesStart, plan.leavesEnd);
    } catch {
      plan.stats.conditionErrors++;
      return false;
    }
  }

  #advanceWindow(window: SharedWindow, key: string, time: number): Alert[] | undefined {
    let alerts: Alert[] | undefined;
    for (let s = 0; s < slotCount(window); s++) {
      const id = slotRule(window, s);
      if (id === undefined) continue;
      const plan = this.#plan(id);
      const rule = plan?.aggregate;
      if (plan === undefined || rule === undefined || slotShape(window, s) !== plan.shape) {
        freeSlot(window, s);
        continue;
      }
      if (!plan.active) continue;
      if (slotFunction(window, s) !== plan.fn) rebuildSlot(window, s, plan.fn);
      evictSlot(window, s, plan.windowMs, time);
      const out = this.#compare(plan, rule, window, s, key, undefined);
      if (slotSize(window, s) === 0 && !slotFiring(window, s)) freeSlot(window, s);
      if (out !== undefined) (alerts ??= []).push(...out);
    }
    if (window.used > 0) compactWindow(window, false);
    return alerts;
  }

  #compare(
    plan: RulePlan,
    rule: CompiledAggregateRule,
    window: SharedWindow,
    slot: number,
    key: string,
    trigger: RuleEvent | undefined,
  ): Alert[] | undefined {
    const holds = slotHolds(window, slot, plan.fn, plan.operator, plan.limit);
    const fire = holds && !slotFiring(window, slot);
    setFiring(window, slot, holds);
    if (!fire || slotSize(window, slot) === 0) return undefined;
    const value = slotAggregate(window, slot, plan.fn);
    return [this.#alerts.threshold(rule, key, value, slotMembers(window, slot), trigger)];
  }
}
