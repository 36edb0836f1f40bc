import type { AfterMatchSkipStrategy } from '../after-match/after-match-skip-strategy';
import type { Condition } from '../pattern/condition';

/**
 * A way into a step: the step index (or `final`) and the contiguity (0 strict, 1 relaxed, 2 any) that rules the gap
 * between the previous matched event and the step's first event.
 */
export interface CompiledEdge {
  readonly to: number;
  readonly cont: 0 | 1 | 2;
  /** Greedy optional steps this way passes over: allowed only when the event would not be taken by them. */
  readonly via: readonly number[];
}

/** A step of the automaton: one positive pattern step (a quantified group contributes one copy per iteration). */
export interface CompiledStep<E> {
  readonly index: number;
  readonly name: string;
  readonly condition: Condition<E>;
  readonly until: Condition<E> | undefined;
  readonly min: number;
  readonly max: number;
  /** The step may take no event (optional): a path may pass through it. */
  readonly skippable: boolean;
  /** Contiguity between the step's own events. */
  readonly inner: 0 | 1 | 2;
  readonly greedy: boolean;
  /** NOT conditions on the gap after this step's last event, up to the next matched event. */
  readonly notNext: readonly Condition<E>[];
  readonly notFollowedBy: readonly Condition<E>[];
  /** Steps that may take the next event once this one is complete, optional steps already passed through. */
  readonly proceed: readonly CompiledEdge[];
  /** The match is complete once this step is (every later step is optional). */
  readonly reachesFinal: boolean;
}

/**
 * The product of the compiler: immutable, shared by every key. Plays the part of Flink's `NFAFactory` output.
 */
export interface CompiledPattern<E> {
  readonly steps: readonly CompiledStep<E>[];
  /** Index used for "the pattern is complete" (a pending NOT-at-end partial match sits here). */
  readonly final: number;
  /** Steps that may take a match's first event. */
  readonly entry: readonly number[];
  readonly window: number | undefined;
  /** NOT steps at the end of the pattern. */
  readonly tailNotNext: readonly Condition<E>[];
  readonly tailNotFollowedBy: readonly Condition<E>[];
  readonly skip: AfterMatchSkipStrategy;
  /** Every positive step name, in definition order. */
  readonly names: readonly string[];
}
