import type { AfterMatchSkipStrategy } from '../after-match/after-match-skip-strategy';
import type { Condition } from '../pattern/condition';

/**
 * A way into a step: the step index (or `final`) and the contiguity (0 strict, 1 relaxed, 2 any) that rules the gap
 * between the previous matched event and the step's first event.
 */
export interface CompiledEdge {
  readonly to: number;
  readonly cont: 0 | 1 | 2;
  /** Optional steps with greedy guards this way passes over: closed when one of their guards accepts the event. */
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
  /**
   * Take conditions of the greedy steps right before this one (Flink's `updateWithGreedyCondition`): while waiting
   * for its first event, this step neither takes, ignores nor passes over an event one of them accepts.
   */
  readonly guards: readonly Condition<E>[];
  /** This step's own guard when it is greedy (the guard it puts on the states after it, a notNext's included). */
  readonly ownGuard: Condition<E> | undefined;
  /** The guard on this greedy step's direct way to the end, which passes over an optional group after it. */
  readonly finalGuard: Condition<E> | undefined;
  /** Gap limit (`within(ms, 'previousAndCurrent')`) while waiting for this step's first event; Infinity when none. */
  readonly gap: number;
  /** The gap limit of the step after this one, which a match that completed this step waits for. */
  readonly gapAfter: number;
  /** NOT conditions on the gap after this step's last event, up to the next matched event. */
  readonly notNext: readonly Condition<E>[];
  readonly notFollowedBy: readonly Condition<E>[];
  /** Steps that may take the next event once this one is complete, optional steps already passed through. */
  readonly proceed: readonly CompiledEdge[];
  /** The match is complete once this step is (every later step is optional). */
  readonly reachesFinal: boolean;
  /**
   * The ways to the end when `reachesFinal`, each as the guarded optional steps it passes over: a take completes
   * the match only along a way whose guards reject the taken event (Flink's findFinalStateAfterProceed evaluates
   * those PROCEED edges on that event).
   */
  readonly finalVias: readonly (readonly number[])[];
  /** A notNext between this step and the (optional) rest: a take completes the match only if it rejects the event. */
  readonly completionNotNext: readonly Condition<E>[];
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
  /** Gap limit on a NOT step at the end (`within(ms, 'previousAndCurrent')` on it): the pending match's window. */
  readonly tailGap: number;
  /** Conditions of greedy steps right before a NOT at the end: the pending match neither completes nor waits on them. */
  readonly tailGuards: readonly Condition<E>[];
  readonly skip: AfterMatchSkipStrategy;
  /** Every positive step name, in definition order. */
  readonly names: readonly string[];
}
