import { createHash } from 'node:crypto';
import type { CompiledAggregateRule, CompiledRule, CompiledSequenceRule } from '../compile/compile-rule';
import type { ConditionTrace } from '../condition/compile-condition';
import type { RuleEvent, StepContext } from '../condition/facts';
import { fieldToPath, parsePath, pathGetter, type PathSegments } from '../condition/json-path';
import type { WindowValue } from '../aggregate/sliding-window';
import { formatDuration } from '../model/duration';
import { alertIdOf, type Alert, type AlertEvent, type StepExplanation } from './alert';
import type { CompiledTemplate } from './template';

/** A complete or timed-out sequence: step name -> the events it took. */
export type Match = Record<string, RuleEvent[]>;

/** The default id of an event: its `id` field when it is a string or number, else a sha1 of its JSON. */
export function defaultEventId(event: Readonly<Record<string, unknown>>): string {
  const id = event.id;
  if (typeof id === 'string') return id;
  if (typeof id === 'number') return String(id);
  return createHash('sha1').update(JSON.stringify(event)).digest('hex').slice(0, 16);
}

/** Display form of a routing key: the values, comma separated (`cardId=4111&x=y` -> `4111, y`). */
export function keyDisplay(key: string): string {
  return key
    .split('&')
    .map((p) => decodeURIComponent(p.slice(p.indexOf('=') + 1)))
    .join(', ');
}

interface RuleExtras {
  version: number;
  /** Event fields the rule reads, for `AlertEvent.fields`. */
  fields: { path: string; get: (event: unknown) => unknown }[];
}

/**
 * Builds the alerts of compiled rules, whatever keeps their state: a threshold alert from the events in an aggregate's
 * window, match and timeout alerts from a sequence's matches. Keeps, per rule version, the readers of the event fields
 * an alert shows.
 */
export class RuleAlerts {
  readonly #extras = new Map<string, RuleExtras>();

  /** The alert of an aggregate whose comparison just started to hold over the window's events `live`. */
  threshold(
    rule: CompiledAggregateRule,
    key: string,
    value: number | undefined,
    live: { readonly t: readonly number[]; readonly v: readonly WindowValue[]; readonly ids: readonly string[] },
    trigger: RuleEvent | undefined,
  ): Alert {
    const a = rule.rule.aggregate;
    const fieldName = a.field;
    const events: AlertEvent[] = live.ids.map((id, i) => ({
      id,
      timestamp: live.t[i],
      fields: fieldName === undefined || a.function === 'count' ? {} : { [fieldName]: live.v[i] },
    }));
    const first = live.t[0];
    const last = live.t[live.t.length - 1];
    const vars = (name: string): unknown => {
      switch (name) {
        case 'count':
          return live.t.length;
        case 'value':
          return value;
        case 'limit':
          return a.limit;
        case 'function':
          return a.function;
        case 'field':
          return a.field;
        case 'operator':
          return a.operator;
        case 'window':
          return formatDuration(rule.windowMs);
        default:
          return commonVar(name, rule, key, first, last);
      }
    };
    const filter =
      trigger !== undefined && rule.filter !== undefined ? rule.filter.explain(trigger, undefined) : undefined;
    return {
      alertId: alertIdOf(rule.id, rule.version, key, 'threshold', live.ids),
      ruleId: rule.id,
      ruleVersion: rule.version,
      kind: 'threshold',
      severity: rule.rule.severity,
      key,
      message: rule.template.render(vars),
      firstEventTime: first,
      lastEventTime: last,
      events,
      explanation: {
        kind: 'aggregate',
        function: a.function,
        ...(a.field === undefined ? {} : { field: a.field }),
        window: rule.windowMs,
        value: value as number,
        operator: a.operator,
        limit: a.limit,
        ...(filter === undefined ? {} : { filter }),
      },
    };
  }

  /** Match alerts for `matches`, and timeout alerts for `timedOut` when the rule asks for them. */
  sequence(
    rule: CompiledSequenceRule,
    key: string,
    matches: readonly Match[],
    timedOut: readonly { match: Match; timeoutTimestamp: number }[],
  ): Alert[] | undefined {
    if (matches.length === 0 && (timedOut.length === 0 || rule.timeoutTemplate === undefined)) return undefined;
    const out: Alert[] = [];
    for (const m of matches) out.push(this.#sequenceAlert(rule, key, m, undefined));
    const spec = rule.rule.sequence.timeoutAlert;
    if (spec !== undefined) {
      for (const t of timedOut) {
        if (spec.minStep !== undefined && (t.match[spec.minStep]?.length ?? 0) === 0) continue;
        out.push(this.#sequenceAlert(rule, key, t.match, t.timeoutTimestamp));
      }
    }
    return out;
  }

  #sequenceAlert(rule: CompiledSequenceRule, key: string, match: Match, timedOutAt: number | undefined): Alert {
    const extras = this.#extrasOf(rule);
    const events: AlertEvent[] = [];
    const steps: StepExplanation[] = [];
    const ids: string[] = [];
    rule.steps.forEach((step, stepIndex) => {
      const taken = match[step.name] ?? [];
      taken.forEach((e, j) => {
        ids.push(e.id);
        const fields: Record<string, unknown> = {};
        for (const f of extras.fields) {
          const v = f.get(e.event);
          if (v !== undefined) fields[f.path] = v;
        }
        events.push({ id: e.id, timestamp: e.timestamp, step: step.name, fields });
        steps.push({ step: step.name, eventId: e.id, condition: explainStep(rule, stepIndex, j, match, e) });
      });
    });
    const times = events.map((e) => e.timestamp);
    const first = Math.min(...times);
    const last = Math.max(...times);
    const timeout = timedOutAt !== undefined;
    const firstOf = (name: string): RuleEvent | undefined => match[name]?.[0];
    const ordered = rule.steps.flatMap((s) => match[s.name] ?? []);
    const vars = (name: string): unknown => {
      switch (name) {
        case 'count':
          return events.length;
        case 'window':
          return rule.withinMs === undefined ? undefined : formatDuration(rule.withinMs);
        default: {
          const dot = name.indexOf('.');
          if (dot > 0) {
            const head = name.slice(0, dot);
            const e = head === 'first' ? ordered[0] : head === 'last' ? ordered[ordered.length - 1] : firstOf(head);
            return e === undefined ? undefined : fieldOf(e.event, name.slice(dot + 1));
          }
          return commonVar(name, rule, key, first, last);
        }
      }
    };
    const template = timeout ? (rule.timeoutTemplate as CompiledTemplate) : rule.template;
    return {
      alertId: alertIdOf(rule.id, rule.version, key, timeout ? 'timeout' : 'match', ids),
      ruleId: rule.id,
      ruleVersion: rule.version,
      kind: timeout ? 'timeout' : 'match',
      severity: timeout ? (rule.rule.sequence.timeoutAlert?.severity ?? rule.rule.severity) : rule.rule.severity,
      key,
      message: template.render(vars),
      firstEventTime: first,
      lastEventTime: last,
      events,
      explanation: timeout
        ? {
            kind: 'timeout',
            steps,
            within: rule.withinMs as number,
            timedOutAt,
            missing: rule.steps.filter((s) => (match[s.name]?.length ?? 0) === 0).map((s) => s.name),
          }
        : { kind: 'sequence', steps, ...(rule.withinMs === undefined ? {} : { within: rule.withinMs }) },
    };
  }

  #extrasOf(rule: CompiledRule): RuleExtras {
    let x = this.#extras.get(rule.id);
    if (x === undefined || x.version !== rule.version) {
      const paths = new Set<string>(rule.groupBy.map(fieldToPath));
      if (rule.kind === 'sequence') {
        for (const s of rule.steps) {
          for (const p of s.condition.eventPaths) paths.add(p);
          for (const p of s.until?.eventPaths ?? []) paths.add(p);
        }
      }
      paths.delete('$');
      x = {
        version: rule.version,
        fields: [...paths].map((p) => ({ path: p.slice(2), get: pathGetter(parsePath(p) as PathSegments) })),
      };
      this.#extras.set(rule.id, x);
    }
    return x;
  }
}

function fieldOf(event: unknown, field: string): unknown {
  const segments = parsePath(fieldToPath(field));
  return segments === undefined ? undefined : pathGetter(segments)(event);
}

function commonVar(name: string, rule: CompiledRule, key: string, first: number, last: number): unknown {
  switch (name) {
    case 'key':
      return keyDisplay(key);
    case 'ruleId':
      return rule.id;
    case 'version':
      return rule.version;
    case 'severity':
      return rule.rule.severity;
    case 'firstTime':
      return new Date(first).toISOString();
    case 'lastTime':
      return new Date(last).toISOString();
    default:
      return undefined;
  }
}

/**
 * Re-evaluates a step's condition for the j-th event it took, with the context it had then: the events of the earlier
 * steps and the step's own earlier events.
 */
function explainStep(
  rule: CompiledSequenceRule,
  stepIndex: number,
  j: number,
  match: Match,
  e: RuleEvent,
): ConditionTrace {
  const own = rule.steps[stepIndex].name;
  const earlier = new Set(rule.steps.slice(0, stepIndex).map((s) => s.name));
  const ctx: StepContext = {
    getEventsForPattern: (name) =>
      name === own ? (match[own] ?? []).slice(0, j) : earlier.has(name) ? (match[name] ?? []) : [],
  };
  return rule.steps[stepIndex].condition.explain(e, ctx);
}
