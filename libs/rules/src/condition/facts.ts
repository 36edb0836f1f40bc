import { getPath, parsePath, pathGetter, type PathSegments } from './json-path';

/** An event as the rules see it: the event object, its event time and its id. */
export interface RuleEvent {
  readonly event: Readonly<Record<string, unknown>>;
  readonly timestamp: number;
  readonly id: string;
}

/** The events already matched by the steps of a sequence (Flink CEP's iterative-condition context). */
export interface StepContext {
  getEventsForPattern(name: string): readonly RuleEvent[];
}

/** What a fact computes from: the current event and, in a sequence step, the events matched so far. */
export type FactFn = (event: RuleEvent, ctx: StepContext | undefined) => unknown;

/** A custom fact, registered by name: `{ "fact": "travelSpeedKmh", "params": { "from": "first" } }`. */
export interface FactDefinition {
  readonly name: string;
  /**
   * Computes the fact value. Must be synchronous, pure and cheap: it runs on the hot path. `params` are the condition's
   * `params` (JSON).
   */
  readonly calculate: (params: Readonly<Record<string, unknown>>, input: FactInput) => unknown;
  /** Optional check of `params` at validation time; return a reason string to reject the rule. */
  readonly validateParams?: (params: Readonly<Record<string, unknown>>) => string | undefined;
}

/** The input of a custom fact. */
export interface FactInput {
  readonly event: RuleEvent;
  /** Events matched so far by a step; empty outside sequences or when the step matched nothing yet. */
  stepEvents(name: string): readonly RuleEvent[];
}

/** The aggregations the `step` fact offers over a step's matched events. */
export const STEP_AGGREGATIONS = ['count', 'sum', 'avg', 'min', 'max', 'first', 'last', 'distinctCount'] as const;
/** One of {@link STEP_AGGREGATIONS}. */
export type StepAggregation = (typeof STEP_AGGREGATIONS)[number];

/** Names of the facts every rule can use. */
export const BUILT_IN_FACTS = ['event', 'time', 'steps', 'step'] as const;

const NO_EVENTS: readonly RuleEvent[] = [];

/**
 * The `step` fact: an aggregation over a field of the events a step matched so far (multiplied by `params.scale`
 * when given and the result is a number). Numeric aggregations use only
 * finite numbers and are undefined when there are none (count is 0); `first`/`last` return the field (or the event)
 * of the first/last matched event; `distinctCount` counts distinct primitive values.
 */
export function aggregateStep(
  events: readonly RuleEvent[],
  agg: StepAggregation,
  field: PathSegments | undefined,
): unknown {
  const value = (e: RuleEvent): unknown => (field === undefined ? e.event : getPath(e.event, field));
  switch (agg) {
    case 'count':
      return events.length;
    case 'first':
      return events.length === 0 ? undefined : value(events[0]);
    case 'last':
      return events.length === 0 ? undefined : value(events[events.length - 1]);
    case 'distinctCount': {
      const seen = new Set<unknown>();
      for (const e of events) {
        const v = value(e);
        if (v === null || typeof v !== 'object') seen.add(v);
      }
      return seen.size;
    }
    default: {
      let n = 0;
      let sum = 0;
      let min = Infinity;
      let max = -Infinity;
      for (const e of events) {
        const v = value(e);
        if (typeof v !== 'number' || !Number.isFinite(v)) continue;
        n++;
        sum += v;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      if (agg === 'sum') return sum;
      if (n === 0) return undefined;
      return agg === 'avg' ? sum / n : agg === 'min' ? min : max;
    }
  }
}

/** The custom facts a rule set may use, by name. */
export class FactRegistry {
  readonly #facts = new Map<string, FactDefinition>();

  constructor(custom: readonly FactDefinition[] = []) {
    for (const f of custom) {
      if ((BUILT_IN_FACTS as readonly string[]).includes(f.name)) {
        throw new Error(`fact "${f.name}" is built in and cannot be replaced`);
      }
      this.#facts.set(f.name, f);
    }
  }

  /** Whether `name` is a built-in or registered fact. */
  has(name: string): boolean {
    return (BUILT_IN_FACTS as readonly string[]).includes(name) || this.#facts.has(name);
  }

  /** The custom fact definition, if any. */
  custom(name: string): FactDefinition | undefined {
    return this.#facts.get(name);
  }

  /** The registered custom facts. */
  get customFacts(): readonly FactDefinition[] {
    return [...this.#facts.values()];
  }

  /**
   * Compiles `fact` + `params` + `path` to a synchronous function with json-rules-engine's path rule: the path applies
   * only when the fact value is a non-null object; otherwise the fact value itself is the answer.
   */
  compile(
    fact: string,
    params: Readonly<Record<string, unknown>> | undefined,
    path: string | undefined,
    stepNames: readonly string[] = [],
  ): FactFn {
    const segments = path ? parsePath(path) : undefined;
    if (path && segments === undefined) throw new Error(`path "${path}" is outside the supported JSONPath subset`);
    if (fact === 'steps') return stepsFact(segments, stepNames);
    const base = this.#compileBase(fact, params ?? {});
    if (segments === undefined || segments.length === 0) return base;
    const get = pathGetter(segments);
    if (fact === 'event') return (event) => get(event.event); // events are objects: the path always applies
    return (event, ctx) => {
      const v = base(event, ctx);
      return v !== null && typeof v === 'object' ? get(v) : v;
    };
  }

  #compileBase(fact: string, params: Readonly<Record<string, unknown>>): FactFn {
    switch (fact) {
      case 'event':
        return (e) => e.event;
      case 'time':
        return (e) => e.timestamp;
      case 'step': {
        const name = String(params.name);
        const agg = params.agg as StepAggregation;
        const field = typeof params.field === 'string' ? parsePath(toPath(params.field)) : undefined;
        const scale = typeof params.scale === 'number' ? params.scale : undefined;
        if (scale === undefined) {
          return (_e, ctx) => aggregateStep(ctx === undefined ? NO_EVENTS : ctx.getEventsForPattern(name), agg, field);
        }
        // `scale` is the one piece of arithmetic: "above 10 times the average" without code in rules.
        return (_e, ctx) => {
          const v = aggregateStep(ctx === undefined ? NO_EVENTS : ctx.getEventsForPattern(name), agg, field);
          return typeof v === 'number' ? v * scale : v;
        };
      }
      default: {
        const def = this.#facts.get(fact);
        if (def === undefined) throw new Error(`unknown fact "${fact}"`);
        return (event, ctx) =>
          def.calculate(params, {
            event,
            stepEvents: (name) => (ctx === undefined ? NO_EVENTS : ctx.getEventsForPattern(name)),
          });
      }
    }
  }
}

function toPath(field: string): string {
  return field.startsWith('$') ? field : `$.${field}`;
}

/**
 * The `steps` fact is `{ <step name>: [events matched by that step] }` (only steps that matched something). Rather
 * than build that object per evaluation, a path is walked straight into the CEP context; the answer is the same as
 * JSONPath over the built object.
 */
function stepsFact(segments: PathSegments | undefined, stepNames: readonly string[]): FactFn {
  if (segments === undefined || segments.length === 0) {
    return (_e, ctx) => (ctx === undefined ? {} : buildStepsObject(ctx, stepNames));
  }
  const [name, second, ...rest] = segments;
  const index = second !== undefined && /^[0-9]+$/.test(second) ? Number(second) : -1;
  return (_e, ctx) => {
    const events = ctx === undefined ? NO_EVENTS : ctx.getEventsForPattern(name);
    if (events.length === 0) return undefined;
    if (second === undefined) return events.map((e) => e.event);
    if (second === 'length') return getPath(events.length, rest);
    return index >= 0 && index < events.length ? getPath(events[index].event, rest) : undefined;
  };
}

// Only reachable with `"fact": "steps"` and no path, a rare and slow form.
function buildStepsObject(ctx: StepContext, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) {
    const events = ctx.getEventsForPattern(n);
    if (events.length > 0) out[n] = events.map((e) => e.event);
  }
  return out;
}
