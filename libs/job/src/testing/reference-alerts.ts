/**
 * Brute-force reference for the alerts that aggregate rules must raise, for differential tests of the engine.
 *
 * Independence: this file is written from the specification in its own doc comments and from docs/rules.md
 * ("Aggregate rules", "Alerts", "Routing (dynamic keys)"), never from the evaluator, the shared window or the
 * partition processor. From `@cepheus/rules` it takes only what defines the contract rather than the algorithm:
 * `parseRule` (reads rule documents), the rule types, `durationMs` and `alertIdOf` (the alert-id hash).
 *
 * Nothing here is incremental: every evaluation recomputes its window and aggregate from the sorted events, so the
 * reference is slow (quadratic per key) and obvious.
 */
import { alertIdOf, durationMs, parseRule, type AggregateRule } from '@cepheus/rules';
import { compileReferenceCondition, ownField, type EventPredicate } from './reference-condition';

/** One alert an aggregate rule must raise. */
export interface ReferenceAlert {
  alertId: string;
  ruleId: string;
  ruleVersion: number;
  key: string;
  kind: 'threshold';
  /** The evaluation moment: the time of the event that entered the window, or an eviction moment. */
  time: number;
  /** The window's members: time ascending, ties in (time, id) order. */
  eventIds: string[];
  value: number;
}

/** How the reference reads events. */
export interface ReferenceAlertOptions {
  /** Event time in ms. Default: the event's `timestamp`, which must be a finite number. */
  eventTime?: (event: Readonly<Record<string, unknown>>) => number;
  /** Event id. Default: `String(event.id)`, the id being a string or a number. */
  eventId?: (event: Readonly<Record<string, unknown>>) => string;
}

type AggregateFunction = AggregateRule['aggregate']['function'];
type Comparison = AggregateRule['aggregate']['operator'];

/** What the reference needs of one rule, read once. */
interface ReferenceRule {
  id: string;
  version: number;
  groupBy: readonly string[];
  /** `-Infinity` when the rule has no `effectiveFrom`. */
  effectiveFrom: number;
  windowMs: number;
  fn: AggregateFunction;
  /** Top-level field name of `aggregate.field` (`amount` for `amount` or `$.amount`); undefined for count. */
  field: string | undefined;
  operator: Comparison;
  limit: number;
  filter: EventPredicate | undefined;
}

interface TimedEvent {
  event: Readonly<Record<string, unknown>>;
  time: number;
  id: string;
}

/** A window member: the event's time, id and the value it brings to the function. */
interface Member {
  time: number;
  id: string;
  /** The finite number for sum/avg/min/max, a type-tagged token for distinctCount, unused for count. */
  value: number | string;
}

const TOP_LEVEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TOP_LEVEL_PATH = /^\$\.([A-Za-z_][A-Za-z0-9_]*)$/;

function defaultEventTime(event: Readonly<Record<string, unknown>>): number {
  return event.timestamp as number; // checked by the caller, whatever eventTime returns
}

function defaultEventId(event: Readonly<Record<string, unknown>>): string {
  const id = event.id;
  if (typeof id !== 'string' && typeof id !== 'number') {
    throw new Error(`referenceAlerts: event without a string or number id: ${JSON.stringify(event)}`);
  }
  return String(id);
}

/** Reads one rule document, refusing what the specification does not cover. */
function readRule(document: unknown): ReferenceRule {
  const rule = parseRule(document); // throws RULE_INVALID with the validation errors
  if (rule.type !== 'aggregate') throw new Error(`referenceAlerts: rule ${rule.id} is not an aggregate rule`);
  if (rule.status !== 'active') throw new Error(`referenceAlerts: rule ${rule.id} is ${rule.status}, not active`);
  for (const field of rule.groupBy) {
    // Paths in groupBy would raise the question of how they appear in the key text; the spec keeps to names.
    if (!TOP_LEVEL_NAME.test(field)) throw new Error(`referenceAlerts: rule ${rule.id} groups by a path (${field})`);
  }
  const { aggregate } = rule;
  let field: string | undefined;
  if (aggregate.function !== 'count') {
    const text = aggregate.field ?? '';
    const name = TOP_LEVEL_NAME.test(text) ? text : TOP_LEVEL_PATH.exec(text)?.[1];
    if (name === undefined)
      throw new Error(`referenceAlerts: rule ${rule.id} aggregates ${text}, not a top-level field`);
    field = name;
  }
  return {
    id: rule.id,
    version: rule.version,
    groupBy: rule.groupBy,
    effectiveFrom: rule.effectiveFrom ?? -Infinity,
    windowMs: durationMs(aggregate.window),
    fn: aggregate.function,
    field,
    operator: aggregate.operator,
    limit: aggregate.limit,
    filter: aggregate.filter === undefined ? undefined : compileReferenceCondition(aggregate.filter, `rule ${rule.id}`),
  };
}

/** One `field=value` part of a key: `String(value)`, URI-encoded when it holds `%`, `&` or `=`. */
function keyValueText(value: string | number | boolean): string {
  const text = String(value);
  return /[%&=]/.test(text) ? encodeURIComponent(text) : text;
}

/**
 * The routing key of the event for the rule (`cardId=4111`, `deviceId=d-7&merchantId=m%3D1`), or undefined when a
 * groupBy field has no string, number or boolean value. Note that 4111 and "4111" give the same key.
 */
export function referenceKeyOf(
  groupBy: readonly string[],
  event: Readonly<Record<string, unknown>>,
): string | undefined {
  const parts: string[] = [];
  for (const field of groupBy) {
    const value = ownField(event, field);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return undefined;
    parts.push(`${field}=${keyValueText(value)}`);
  }
  return parts.join('&');
}

/**
 * The value the event brings to the rule's function, or undefined when the event is not a member (filter fails or
 * the value is not of the function's kind).
 */
function memberValue(rule: ReferenceRule, event: Readonly<Record<string, unknown>>): number | string | undefined {
  if (rule.filter !== undefined && !rule.filter(event)) return undefined;
  if (rule.field === undefined) return 0; // count: every event that passed the filter
  const value = ownField(event, rule.field);
  if (rule.fn === 'distinctCount') {
    // Distinct by type and value: "1" and 1 are two values. `String` merges 0 and -0 (as a Set would) and gives
    // every NaN one token; JSON events carry neither -0 nor NaN, so the choice does not show in practice.
    if (value === null) return 'null';
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      return `${typeof value}:${String(value)}`;
    }
    return undefined;
  }
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The function's value over the window; undefined for avg/min/max of an empty window. */
function aggregateOf(fn: AggregateFunction, window: readonly Member[]): number | undefined {
  switch (fn) {
    case 'count':
      return window.length;
    case 'distinctCount':
      return new Set(window.map((member) => member.value)).size;
    case 'sum':
    case 'avg': {
      // Plain addition in window order. It is exact as long as the values are integers and every partial sum stays
      // within 2^53, which the generated amounts (integer minor units) guarantee; with fractional values the
      // engine's compensated sum could differ from this in the last bits.
      let sum = 0;
      for (const member of window) sum += member.value as number;
      if (fn === 'sum') return sum;
      return window.length === 0 ? undefined : sum / window.length;
    }
    case 'min':
    case 'max': {
      if (window.length === 0) return undefined;
      let best = window[0].value as number;
      for (const member of window) {
        const value = member.value as number;
        if (fn === 'min' ? value < best : value > best) best = value;
      }
      return best;
    }
  }
}

function compare(value: number, operator: Comparison, limit: number): boolean {
  switch (operator) {
    case 'greaterThan':
      return value > limit;
    case 'greaterThanInclusive':
      return value >= limit;
    case 'lessThan':
      return value < limit;
    case 'lessThanInclusive':
      return value <= limit;
    case 'equal':
      return value === limit;
    case 'notEqual':
      return value !== limit;
  }
}

/** The alerts of one rule at one key, from the key's routed events in (time, id) order. */
function alertsOfKey(rule: ReferenceRule, key: string, routed: readonly TimedEvent[]): ReferenceAlert[] {
  const members: Member[] = [];
  for (const { event, time, id } of routed) {
    const value = memberValue(rule, event);
    if (value !== undefined) members.push({ time, id, value });
  }
  // A member is in the window at T while `T - window < t <= T`. It is written `t + window > T` everywhere, the
  // same expression as the eviction moment `t + window`, so that the two agree even for fractional times.
  const inWindowAt = (member: Member, moment: number) => member.time + rule.windowMs > moment;

  const evictionMoments = new Set(members.map((member) => member.time + rule.windowMs));
  const moments = [...new Set([...evictionMoments, ...members.map((member) => member.time)])].sort((a, b) => a - b);

  const alerts: ReferenceAlert[] = [];
  let firing = false;
  const evaluate = (moment: number, window: readonly Member[]) => {
    const value = aggregateOf(rule.fn, window);
    const holds = value !== undefined && compare(value, rule.operator, rule.limit);
    if (holds && !firing && window.length > 0) {
      const eventIds = window.map((member) => member.id);
      alerts.push({
        alertId: alertIdOf(rule.id, rule.version, key, 'threshold', eventIds),
        ruleId: rule.id,
        ruleVersion: rule.version,
        key,
        kind: 'threshold',
        time: moment,
        eventIds,
        value: value as number,
      });
    }
    // Set even when the window is empty: an empty window that holds (count < 2, sum <= 0) leaves the rule firing,
    // so the next member does not alert if the comparison still holds.
    firing = holds;
  };

  let processed = 0; // members[0, processed) have been added
  for (const moment of moments) {
    if (evictionMoments.has(moment)) {
      // Before the events at this moment: the members processed so far are exactly those with t < moment, and at
      // least one of them (t = moment - window) has just left.
      evaluate(
        moment,
        members.slice(0, processed).filter((member) => inWindowAt(member, moment)),
      );
    }
    while (processed < members.length && members[processed].time === moment) {
      processed += 1;
      evaluate(
        moment,
        members.slice(0, processed).filter((member) => inWindowAt(member, moment)),
      );
    }
  }
  return alerts;
}

/**
 * The alerts that the aggregate `rules` (documents: `type: "aggregate"`, status active, one version per id) must
 * raise over `events`, sorted by alertId. The input order of the events does not matter: each (rule, key) reads its
 * events in (time, id) order, as if the engine had buffered everything until an infinite watermark (eviction moments
 * after the last event are evaluated too).
 *
 * Throws when a rule is invalid or outside the covered subset, when an event's time is not a finite number, and
 * when two events share an id (their order, and so the alerts, would depend on the input order).
 */
export function referenceAlerts(
  rules: readonly unknown[],
  events: readonly Readonly<Record<string, unknown>>[],
  options: ReferenceAlertOptions = {},
): ReferenceAlert[] {
  const eventTime = options.eventTime ?? defaultEventTime;
  const eventId = options.eventId ?? defaultEventId;

  const readRules = rules.map(readRule);
  const ruleIds = new Set<string>();
  for (const rule of readRules) {
    if (ruleIds.has(rule.id)) throw new Error(`referenceAlerts: rule ${rule.id} appears twice (one version each)`);
    ruleIds.add(rule.id);
  }

  const timed: TimedEvent[] = events.map((event) => {
    const time = eventTime(event);
    if (typeof time !== 'number' || !Number.isFinite(time)) {
      throw new Error(`referenceAlerts: event time is not a finite number: ${JSON.stringify(event)}`);
    }
    return { event, time, id: eventId(event) };
  });
  const seenIds = new Set<string>();
  for (const { id } of timed) {
    if (seenIds.has(id)) throw new Error(`referenceAlerts: two events have the id ${JSON.stringify(id)}`);
    seenIds.add(id);
  }
  // Time ascending, then id by plain string comparison (`"p10" < "p9"`), not localeCompare.
  timed.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  const alerts: ReferenceAlert[] = [];
  for (const rule of readRules) {
    const byKey = new Map<string, TimedEvent[]>();
    for (const entry of timed) {
      if (entry.time < rule.effectiveFrom) continue;
      const key = referenceKeyOf(rule.groupBy, entry.event);
      if (key === undefined) continue;
      const list = byKey.get(key);
      if (list === undefined) byKey.set(key, [entry]);
      else list.push(entry);
    }
    for (const [key, routed] of byKey) alerts.push(...alertsOfKey(rule, key, routed));
  }
  // alertIds differ between alerts (a (rule, key)'s windows are distinct intervals of its members), the rest only
  // keeps the order total should two hashes ever collide.
  return alerts.sort(
    (a, b) =>
      compareText(a.alertId, b.alertId) ||
      compareText(a.ruleId, b.ruleId) ||
      compareText(a.key, b.key) ||
      a.time - b.time,
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
