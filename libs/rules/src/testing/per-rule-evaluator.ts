import type { Alert } from '../alert/alert';
import { defaultEventId, RuleAlerts } from '../alert/rule-alerts';
import {
  addToWindow,
  aggregateWindow,
  compareAggregate,
  createAggregateState,
  rebuildAggregate,
  windowEntries,
  windowSize,
  evictWindow,
  windowValueOf,
  type AggregateState,
} from '../aggregate/sliding-window';
import type { CompiledAggregateRule, CompiledRule, CompiledSequenceRule } from '../compile/compile-rule';
import type { RuleEvent } from '../condition/facts';
import type { JsonValue } from '../model/rule';
import type { RoutedKey } from '../route/rule-set';
import { RuleSet } from '../route/rule-set';

type NfaState = ReturnType<CompiledSequenceRule['nfa']['createState']>;

/** Keyed state of a sequence rule: the NFA's partial matches. */
interface SequenceState {
  readonly kind: 'sequence';
  shape: string;
  nfa: NfaState;
  /** Latest event time seen by this rule for this key. */
  latest: number;
}

/** The keyed state of one rule for one key. */
type RuleState = (AggregateState & { shape: string }) | SequenceState;

/**
 * Everything the evaluator keeps for one key: rule id -> state. The runtime owns it (keyed state), hands it to
 * `process`/`advanceTime`, which change it in place, and persists it with `snapshot` (JSON) / `restore`. A Map rather
 * than an object: objects used as dictionaries with rule ids added in varying orders make V8 build a hidden class per
 * order, which made the evaluator ~10x slower with 100 rules over 100k keys.
 */
export type PerRuleKeyState = Map<string, RuleState>;

/** Options of {@link RuleEvaluator}. */
interface RuleEvaluatorOptions {
  /**
   * The id of an event, used in alerts and alert ids. Default: the event's `id` field when it is a string or number,
   * else a sha1 of its JSON.
   */
  eventId?: (event: Readonly<Record<string, unknown>>) => string;
}

const NONE: readonly Alert[] = Object.freeze([]);

/**
 * The evaluator as it was before aggregate rules shared one window per key: every (rule, key) has its own
 * `AggregateState`. Kept as the reference the shared windows are held to (rule-evaluator.property.spec.ts); not part of
 * the public API. Evaluates compiled rules on routed events, independent of any runtime. One evaluator serves every key; per-key
 * state is plain data handed in. Alerts are deterministic: the same events in the same order give the same alerts
 * with the same ids.
 */
export class PerRuleEvaluator {
  readonly rules: RuleSet;
  readonly #eventId: (event: Readonly<Record<string, unknown>>) => string;
  readonly #alerts = new RuleAlerts();

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
   */
  process(
    keyState: PerRuleKeyState,
    route: Pick<RoutedKey, 'key' | 'ruleIds'>,
    event: Readonly<Record<string, unknown>>,
    timestamp: number,
  ): readonly Alert[] {
    let alerts: Alert[] | undefined;
    let ev: RuleEvent | undefined;
    const ids = route.ruleIds;
    for (let i = 0; i < ids.length; i++) {
      const rule = this.rules.get(ids[i]);
      if (rule === undefined || rule.rule.status !== 'active' || timestamp < rule.effectiveFrom) continue;
      let state: RuleState | undefined = keyState.get(rule.id);
      if (state !== undefined && state.shape !== rule.stateShape) {
        keyState.delete(rule.id);
        state = undefined;
      }
      ev ??= { event, timestamp, id: this.#eventId(event) };
      let out: Alert[] | undefined;
      if (rule.kind === 'aggregate') {
        out = this.#processAggregate(
          rule,
          keyState,
          state as (AggregateState & { shape: string }) | undefined,
          ev,
          route.key,
        );
      } else {
        let s = state as SequenceState | undefined;
        // A fresh NFA can only start on its first step: skip the state allocation for events that cannot.
        if (s === undefined && rule.startTest !== undefined && !rule.startTest(ev, undefined)) continue;
        if (s === undefined) {
          s = { kind: 'sequence', shape: rule.stateShape, nfa: rule.nfa.createState(), latest: timestamp };
          keyState.set(rule.id, s);
        }
        if (timestamp > s.latest) s.latest = timestamp;
        const result = rule.nfa.process(s.nfa, ev, timestamp);
        out = this.#alerts.sequence(rule, route.key, result.matches, result.timedOut);
      }
      if (out !== undefined) (alerts ??= []).push(...out);
    }
    return alerts ?? NONE;
  }

  /**
   * Moves event time forward for one key: evicts aggregate windows (an aggregate whose comparison starts to hold
   * because events left the window alerts now), times out partial matches (alerts for `notFollowedBy`-at-the-end
   * matches and `timeoutAlert`s), drops the state of deleted rules and empty windows.
   */
  advanceTime(keyState: PerRuleKeyState, key: string, time: number): readonly Alert[] {
    let alerts: Alert[] | undefined;
    for (const [id, state] of keyState) {
      const rule = this.rules.get(id);
      if (rule === undefined || state.shape !== rule.stateShape) {
        keyState.delete(id);
        continue;
      }
      if (rule.rule.status !== 'active') continue;
      let out: Alert[] | undefined;
      if (rule.kind === 'aggregate' && state.kind === 'aggregate') {
        if (state.fn !== rule.rule.aggregate.function) rebuildAggregate(state, rule.rule.aggregate.function);
        evictWindow(state, rule.windowMs, time);
        out = this.#compare(rule, state, key, undefined);
        if (windowSize(state) === 0 && !state.firing) keyState.delete(id);
      } else if (rule.kind === 'sequence' && state.kind === 'sequence') {
        const result = rule.nfa.advanceTime(state.nfa, time);
        out = this.#alerts.sequence(rule, key, result.matches, result.timedOut);
        const stats = rule.nfa.stats(state.nfa);
        if (stats.partialMatches === 0 && stats.bufferedEvents === 0) keyState.delete(id);
      }
      if (out !== undefined) (alerts ??= []).push(...out);
    }
    return alerts ?? NONE;
  }

  /**
   * The earliest event time at which `advanceTime` could change something for this key (a window eviction or a
   * `within` deadline), for the runtime's timer; undefined when nothing is pending.
   */
  nextWakeUp(keyState: PerRuleKeyState): number | undefined {
    let next = Infinity;
    for (const [id, state] of keyState) {
      const rule = this.rules.get(id);
      if (rule === undefined) return -Infinity; // stale state: clear it at once
      if (state.kind === 'aggregate' && rule.kind === 'aggregate' && windowSize(state) > 0) {
        next = Math.min(next, state.t[state.h] + rule.windowMs);
      } else if (state.kind === 'sequence' && rule.kind === 'sequence' && rule.withinMs !== undefined) {
        next = Math.min(next, state.latest + rule.withinMs);
      }
    }
    return next === Infinity ? undefined : next;
  }

  /** JSON-safe form of a key's state (NFA states through the CEP library's own snapshot). */
  snapshot(keyState: PerRuleKeyState): JsonValue {
    const out: Record<string, JsonValue> = {};
    for (const [id, state] of keyState) {
      const rule = this.rules.get(id);
      if (state.kind === 'aggregate') {
        out[id] = { ...state, latest: Number.isFinite(state.latest) ? state.latest : null } as unknown as JsonValue;
      } else if (rule !== undefined && rule.kind === 'sequence') {
        out[id] = {
          kind: 'sequence',
          shape: state.shape,
          latest: state.latest,
          nfa: rule.nfa.snapshot(state.nfa) as unknown as JsonValue,
        };
      }
    }
    return out;
  }

  /** Rebuilds a key's state from {@link snapshot}; state of rules no longer known, or changed incompatibly, is dropped. */
  restore(data: JsonValue): PerRuleKeyState {
    const out: PerRuleKeyState = new Map();
    for (const [id, raw] of Object.entries(data as Record<string, Record<string, unknown>>)) {
      const rule = this.rules.get(id);
      if (rule === undefined || raw.shape !== rule.stateShape) continue;
      if (raw.kind === 'aggregate' && rule.kind === 'aggregate') {
        const s = raw as unknown as AggregateState & { shape: string };
        out.set(id, {
          ...s,
          latest: (raw.latest as number | null) ?? -Infinity,
          t: [...s.t],
          v: [...s.v],
          ids: [...s.ids],
          q: [...s.q],
          d: s.d === null ? null : { ...s.d },
        });
      } else if (raw.kind === 'sequence' && rule.kind === 'sequence') {
        out.set(id, {
          kind: 'sequence',
          shape: rule.stateShape,
          latest: raw.latest as number,
          nfa: rule.nfa.restore(raw.nfa as Parameters<typeof rule.nfa.restore>[0]),
        });
      }
    }
    return out;
  }

  #processAggregate(
    rule: CompiledAggregateRule,
    keyState: PerRuleKeyState,
    state: (AggregateState & { shape: string }) | undefined,
    ev: RuleEvent,
    key: string,
  ): Alert[] | undefined {
    if (rule.filter !== undefined && !rule.filter.test(ev, undefined)) return undefined;
    const fn = rule.rule.aggregate.function;
    const value = windowValueOf(fn, rule.fieldGetter === undefined ? undefined : rule.fieldGetter(ev.event));
    if (value === undefined) return undefined;
    if (state === undefined) {
      state = { ...createAggregateState(fn), shape: rule.stateShape };
      keyState.set(rule.id, state);
    } else if (state.fn !== fn) {
      rebuildAggregate(state, fn);
    }
    if (!addToWindow(state, rule.windowMs, ev.timestamp, value, ev.id)) return undefined;
    return this.#compare(rule, state, key, ev);
  }

  #compare(
    rule: CompiledAggregateRule,
    state: AggregateState,
    key: string,
    trigger: RuleEvent | undefined,
  ): Alert[] | undefined {
    const a = rule.rule.aggregate;
    const value = aggregateWindow(state, a.function);
    const holds = compareAggregate(a.operator, value, a.limit);
    const fire = holds && !state.firing;
    state.firing = holds;
    if (!fire || windowSize(state) === 0) return undefined;
    return [this.#alerts.threshold(rule, key, value, windowEntries(state), trigger)];
  }
}
