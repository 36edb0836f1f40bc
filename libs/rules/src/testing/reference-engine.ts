import {
  Engine,
  Operator,
  OperatorDecorator,
  type RuleProperties,
  type TopLevelCondition as JreCondition,
} from 'json-rules-engine';
import { aggregateStep, type FactDefinition, type RuleEvent, type StepAggregation } from '../condition/facts';
import { parsePath } from '../condition/json-path';
import { isBuiltInOperatorName, type OperatorRegistry } from '../condition/operators';
import type { TopLevelCondition } from '../model/rule';

/**
 * json-rules-engine set up with Cepheus's facts and the same custom operators, as the reference the compiled
 * conditions are held to. `event`, `time` and `steps` are runtime facts; `step` and custom facts are dynamic facts.
 */
export class ReferenceEngine {
  readonly #operators: OperatorRegistry;
  readonly #facts: readonly FactDefinition[];

  constructor(operators: OperatorRegistry, facts: readonly FactDefinition[] = []) {
    this.#operators = operators;
    this.#facts = facts;
  }

  /** Builds an engine holding one rule with `condition`. Reuse it for many `run`s. */
  engineFor(condition: TopLevelCondition): Engine {
    const engine = new Engine([], { allowUndefinedFacts: false });
    for (const [name, op] of this.#operators.operators) {
      if (!isBuiltInOperatorName(name)) {
        engine.addOperator(new Operator(name, op.evaluate, op.factValueValidator));
      }
    }
    for (const [name, d] of this.#operators.decorators) {
      if (!['someFact', 'someValue', 'everyFact', 'everyValue', 'swap', 'not'].includes(name)) {
        engine.addOperatorDecorator(new OperatorDecorator(name, d.evaluate, d.factValueValidator));
      }
    }
    // An independent (array-method) reading of the `step` fact's documented semantics; only first/last/count/
    // distinctCount delegate, the numeric ones are recomputed here.
    engine.addFact('step', async (params, almanac) => {
      const steps = await almanac.factValue<Record<string, RuleEvent[]>>('__stepEvents');
      const events = steps[String(params.name)] ?? [];
      const agg = params.agg as StepAggregation;
      const scaled = (v: unknown): unknown =>
        typeof params.scale === 'number' && typeof v === 'number' ? v * params.scale : v;
      const field =
        typeof params.field === 'string'
          ? parsePath(params.field.startsWith('$') ? params.field : `$.${params.field}`)
          : undefined;
      if (agg === 'sum' || agg === 'avg' || agg === 'min' || agg === 'max') {
        const nums = events
          .map((e) => aggregateStep([e], 'first', field))
          .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
        if (agg === 'sum') return scaled(nums.reduce((s, v) => s + v, 0));
        if (nums.length === 0) return undefined;
        if (agg === 'avg') return scaled(nums.reduce((s, v) => s + v, 0) / nums.length);
        return scaled(agg === 'min' ? Math.min(...nums) : Math.max(...nums));
      }
      return scaled(aggregateStep(events, agg, field));
    });
    for (const f of this.#facts) {
      engine.addFact(f.name, async (params, almanac) => {
        const event = await almanac.factValue<RuleEvent>('__ruleEvent');
        const steps = await almanac.factValue<Record<string, RuleEvent[]>>('__stepEvents');
        return f.calculate(params, { event, stepEvents: (n) => steps[n] ?? [] });
      });
    }
    const rule: RuleProperties = {
      conditions: structuredClone(condition) as unknown as JreCondition,
      event: { type: 'match' },
    };
    engine.addRule(rule);
    return engine;
  }

  /** Runs `engine` on one event: true/false, or 'error' when json-rules-engine rejects. */
  async run(
    engine: Engine,
    event: RuleEvent,
    stepEvents: Record<string, RuleEvent[]> = {},
  ): Promise<boolean | 'error'> {
    const steps: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(stepEvents)) if (v.length > 0) steps[k] = v.map((e) => e.event);
    try {
      const result = await engine.run({
        event: event.event,
        time: event.timestamp,
        steps,
        __ruleEvent: event,
        __stepEvents: stepEvents,
      });
      return result.events.length > 0;
    } catch {
      return 'error';
    }
  }
}
