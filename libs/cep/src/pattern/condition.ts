/**
 * What a condition may read besides the event: the events already accepted by the partial match it is evaluated for.
 * Flink calls this `IterativeCondition.Context`; it is what makes "amount greater than the sum of the earlier ones"
 * expressible.
 */
export interface ConditionContext<E> {
  /** The events already matched for the step `name` in this partial match, oldest first (empty when none). */
  getEventsForPattern(name: string): readonly E[];
}

/**
 * A step's predicate. A simple condition ignores `ctx`; an iterative one reads it. Conditions must be pure and
 * synchronous: the NFA evaluates them on every branch, in any order, possibly more than once per event.
 */
export type Condition<E> = (event: E, ctx: ConditionContext<E>) => boolean;

/** How a step's first event relates to the previous matched event (Flink's `Quantifier.ConsumingStrategy`). */
export type Contiguity = 'strict' | 'relaxed' | 'any';

/** Contiguity codes used inside compiled patterns and partial matches (small integers keep state compact). */
export const CONTIGUITY_CODE: Readonly<Record<Contiguity, 0 | 1 | 2>> = { strict: 0, relaxed: 1, any: 2 };
