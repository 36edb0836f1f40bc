import { CepheusError } from '@cepheus/common';
import { AfterMatchSkipStrategy } from '../after-match/after-match-skip-strategy';
import type { Condition, Contiguity } from './condition';

/**
 * How many events a step takes and how they relate to each other: Flink's `Quantifier` plus `Times`. A step may
 * take `min..max` events (`max` may be `Infinity`), or none at all when `optional`.
 */
export interface QuantifierSpec {
  readonly min: number;
  readonly max: number;
  readonly optional: boolean;
  /** Set by `oneOrMore` / `timesOrMore`. */
  readonly looping: boolean;
  /** Set by `times`. */
  readonly times: boolean;
  readonly greedy: boolean;
  /** Contiguity between the events a quantified step takes (`consecutive`, `allowCombinations`; relaxed otherwise). */
  readonly inner: Contiguity;
}

/**
 * What `within` measures (Flink's `WithinType`): `firstAndLast`, every event of a match within the window of its
 * first event; `previousAndCurrent`, every event within the window of the match's event before it (a gap limit).
 */
export type WithinType = 'firstAndLast' | 'previousAndCurrent';

/** What kind of element of a pattern sequence a node is. */
export type PatternElementKind = 'step' | 'notNext' | 'notFollowedBy' | 'group';

/** One element of a pattern sequence as data, for the compiler, the reference matcher and tools. */
export interface PatternElement<E> {
  readonly kind: PatternElementKind;
  /** Step name (absent for groups). */
  readonly name: string | undefined;
  /** Contiguity to the previous element; meaningless for the first element of a sequence. */
  readonly contiguity: Contiguity;
  /** The take condition (for NOT elements: the forbidden event); always-true when no `where` was given. */
  readonly condition: Condition<E>;
  /** `within(ms, 'previousAndCurrent')` on this element: the gap limit before its event. */
  readonly gap: number | undefined;
  /** Whether `where`/`or` was called at all (groups have no condition). */
  readonly hasCondition: boolean;
  readonly until: Condition<E> | undefined;
  readonly quantifier: QuantifierSpec;
  /** The sub-sequence of a group. */
  readonly elements: readonly PatternElement<E>[] | undefined;
}

const ALWAYS: Condition<unknown> = () => true;

const SINGLE: QuantifierSpec = {
  min: 1,
  max: 1,
  optional: false,
  looping: false,
  times: false,
  greedy: false,
  inner: 'relaxed',
};

function malformed(message: string): CepheusError {
  return new CepheusError('CEP_MALFORMED_PATTERN', message);
}

/**
 * A pattern sequence, built fluently with Flink's names:
 * `Pattern.begin<E>('first').where(c).next('second').where(c).within(ms)`.
 *
 * Like Flink's `pattern/Pattern.java`, a pattern only describes: every node knows its name, its link to the previous
 * node, its condition and quantifier. Nothing here sees an event; `NFA.compile` turns the description into an
 * automaton. Methods that qualify the current step (`where`, `times`, ...) change this node and return it;
 * methods that append a step (`next`, `followedBy`, ...) return a new node.
 *
 * Definition errors throw `CepheusError` with code `CEP_MALFORMED_PATTERN` as soon as they can be seen.
 */
export class Pattern<E> {
  private condition: Condition<E> | undefined;
  private untilCondition: Condition<E> | undefined;
  private quantifier: QuantifierSpec = SINGLE;
  private quantified = false;
  private innerSet = false;
  private windowMs: number | undefined;
  private gapMs: number | undefined;

  private constructor(
    private readonly kind: PatternElementKind,
    private readonly stepName: string | undefined,
    private readonly previous: Pattern<E> | undefined,
    private readonly contiguity: Contiguity,
    private readonly group: Pattern<E> | undefined,
    private readonly skip: AfterMatchSkipStrategy | undefined,
  ) {
    if (kind !== 'group') {
      if (typeof stepName !== 'string' || stepName.length === 0) throw malformed('A step needs a non-empty name.');
    }
  }

  /** Starts a pattern sequence with a step `name`; `skip` is the after-match skip strategy (no skip by default). */
  static begin<E>(name: string, skip?: AfterMatchSkipStrategy): Pattern<E>;
  /** Starts a pattern sequence with a group: the sub-pattern matches as a unit and may be quantified. */
  static begin<E>(group: Pattern<E>, skip?: AfterMatchSkipStrategy): Pattern<E>;
  static begin<E>(first: string | Pattern<E>, skip?: AfterMatchSkipStrategy): Pattern<E> {
    if (typeof first === 'string') return new Pattern<E>('step', first, undefined, 'strict', undefined, skip);
    return new Pattern<E>('group', undefined, undefined, 'strict', first, skip);
  }

  /** Adds a condition the event must also satisfy (AND with the existing one). */
  where(condition: Condition<E>): this {
    this.requireCondition('where');
    const prev = this.condition;
    this.condition = prev === undefined ? condition : (e, ctx) => prev(e, ctx) && condition(e, ctx);
    return this;
  }

  /** Adds an alternative condition (OR with the existing one). */
  or(condition: Condition<E>): this {
    this.requireCondition('or');
    const prev = this.condition;
    this.condition = prev === undefined ? condition : (e, ctx) => prev(e, ctx) || condition(e, ctx);
    return this;
  }

  /**
   * Stop condition of a looping step: an event satisfying it is never taken by the step, its first event included
   * (as in Flink 1.20); once such an event arrives after the loop's first event, the loop accepts no more events (it
   * may still end and hand over to the next step, which sees that event).
   */
  until(condition: Condition<E>): this {
    if (this.kind === 'group') throw malformed('until() cannot be applied to a group pattern.');
    if (!this.quantifier.looping)
      throw malformed(`until() applies to oneOrMore()/timesOrMore() only (step ${this.label}).`);
    if (this.untilCondition !== undefined) throw malformed(`until() is already set on step ${this.label}.`);
    this.untilCondition = condition;
    return this;
  }

  /** Appends a step whose first event must directly follow the previous matched event (strict contiguity). */
  next(name: string): Pattern<E>;
  /** Appends a group whose first event must directly follow the previous matched event. */
  next(group: Pattern<E>): Pattern<E>;
  next(target: string | Pattern<E>): Pattern<E> {
    return this.append(target, 'strict');
  }

  /** Appends a step; other events may come in between, the first matching one is taken (relaxed contiguity). */
  followedBy(name: string): Pattern<E>;
  followedBy(group: Pattern<E>): Pattern<E>;
  followedBy(target: string | Pattern<E>): Pattern<E> {
    return this.append(target, 'relaxed');
  }

  /** Appends a step; any later matching event may be taken, each giving its own match (non-deterministic relaxed). */
  followedByAny(name: string): Pattern<E>;
  followedByAny(group: Pattern<E>): Pattern<E>;
  followedByAny(target: string | Pattern<E>): Pattern<E> {
    return this.append(target, 'any');
  }

  /** Appends a negative step: the event right after the previous matched event must not satisfy its condition. */
  notNext(name: string): Pattern<E> {
    return this.appendNot('notNext', name);
  }

  /**
   * Appends a negative step: no event between the previous matched event and the next one may satisfy its
   * condition. At the end of a pattern it needs `within`: the match is emitted when the window closes.
   */
  notFollowedBy(name: string): Pattern<E> {
    return this.appendNot('notFollowedBy', name);
  }

  /** The step takes exactly `n` events. */
  times(n: number): this;
  /** The step takes between `from` and `to` events (both inclusive); `from` may be 0. */
  times(from: number, to: number): this;
  times(from: number, to?: number): this {
    this.requireQuantifiable('times');
    const max = to ?? from;
    if (!Number.isInteger(from) || !Number.isInteger(max) || from < 0 || max < 1 || max < from) {
      throw malformed(
        `times(${from}${to === undefined ? '' : `, ${to}`}) needs integers with 0 <= from <= to, to >= 1.`,
      );
    }
    if (to === undefined && from < 1) throw malformed('times(n) needs n >= 1.');
    const optional = this.quantifier.optional || from === 0;
    this.setQuantifier({ ...this.quantifier, min: Math.max(from, 1), max, times: true, optional });
    return this;
  }

  /** The step takes `n` or more events (relaxed contiguity between them unless told otherwise). */
  timesOrMore(n: number): this {
    this.requireQuantifiable('timesOrMore');
    if (!Number.isInteger(n) || n < 0) throw malformed(`timesOrMore(${n}) needs an integer n >= 0.`);
    const optional = this.quantifier.optional || n === 0;
    this.setQuantifier({ ...this.quantifier, min: Math.max(n, 1), max: Infinity, looping: true, optional });
    return this;
  }

  /** The step takes one or more events. */
  oneOrMore(): this {
    return this.timesOrMore(1);
  }

  /** The step may also take no event at all. */
  optional(): this {
    this.requireNotNegative('optional');
    // Flink's Pattern#optional refuses the same: the greedy step would have to decide for the optional one.
    if (this.previous?.quantifier.greedy === true) {
      throw malformed(
        `optional() on ${this.label}: an optional step cannot follow the greedy step ${this.previous.label}.`,
      );
    }
    if (this.quantifier.optional) throw malformed(`optional() is already set on ${this.label}.`);
    this.quantifier = { ...this.quantifier, optional: true };
    return this;
  }

  /**
   * "Repeat as many as possible", as Flink does it: the step after this one never takes, skips or passes over an event
   * that satisfies this step's condition (its `until` aside: an event that satisfies `until` ends the loop and goes
   * to the next step as usual). That holds however the match reached the next step, also after the loop reached its
   * maximum count, and also when the two conditions do not overlap. Greedy has no effect on `times(n)` (nothing to
   * choose) and at the end of a pattern (no step after it). Refused, as in Flink: on a single step, on a group, with
   * `allowCombinations()`.
   */
  greedy(): this {
    this.requireNotNegative('greedy');
    if (this.kind === 'group') throw malformed('greedy() is not supported on group patterns (as in Flink).');
    if (!this.quantified) throw malformed(`greedy() needs a quantifier first (step ${this.label}).`);
    if (this.quantifier.inner === 'any') {
      throw malformed(`greedy() cannot be combined with allowCombinations() (step ${this.label}), as in Flink.`);
    }
    this.quantifier = { ...this.quantifier, greedy: true };
    return this;
  }

  /** Strict contiguity between the events of a quantified step (as in `next`). */
  consecutive(): this {
    return this.setInner('strict', 'consecutive');
  }

  /** Non-deterministic relaxed contiguity between the events of a quantified step (as in `followedByAny`). */
  allowCombinations(): this {
    if (this.quantifier.greedy) {
      throw malformed(`allowCombinations() cannot be combined with greedy() (step ${this.label}), as in Flink.`);
    }
    return this.setInner('any', 'allowCombinations');
  }

  /**
   * A time limit, Flink's `within(Duration, WithinType)`. `firstAndLast` (the default): every event of a match lies
   * within `ms` of its first event; the smallest such window of the sequence wins. `previousAndCurrent`: a gap limit
   * on this step, which must take a single event: its event comes less than `ms` after the match's event before it
   * (a partial match waiting for it longer times out, `timeoutTimestamp` = that event's timestamp + `ms`). As in
   * Flink, a gap limit may not be larger than the pattern's `firstAndLast` window.
   */
  within(ms: number, type: WithinType = 'firstAndLast'): this {
    if (!Number.isFinite(ms) || ms <= 0) throw malformed(`within(${ms}) needs a positive, finite number of ms.`);
    if (type === 'firstAndLast') this.windowMs = ms;
    else if (type === 'previousAndCurrent') this.gapMs = ms;
    else throw malformed(`Unknown within type ${String(type)}.`);
    return this;
  }

  /** The smallest `within` over the sequence (groups included), or undefined. */
  getWindow(): number | undefined {
    let w: number | undefined;
    for (const p of Pattern.chain(this)) {
      const own = p.group === undefined ? p.windowMs : minDefined(p.windowMs, p.group.getWindow());
      w = minDefined(w, own);
    }
    return w;
  }

  /** The skip strategy given to `begin`, if any. */
  getSkipStrategy(): AfterMatchSkipStrategy | undefined {
    return Pattern.chain(this)[0].skip;
  }

  /** The sequence as data, first element first. */
  toElements(): PatternElement<E>[] {
    return Pattern.chain(this).map((p) => p.toElement());
  }

  /** The nodes of the sequence ending at `last`, first node first. */
  private static chain<E>(last: Pattern<E>): Pattern<E>[] {
    const out: Pattern<E>[] = [];
    for (let p: Pattern<E> | undefined = last; p !== undefined; p = p.previous) out.push(p);
    return out.reverse();
  }

  private toElement(): PatternElement<E> {
    return {
      kind: this.kind,
      name: this.stepName,
      contiguity: this.contiguity,
      condition: this.condition ?? (ALWAYS as Condition<E>),
      hasCondition: this.condition !== undefined,
      until: this.untilCondition,
      gap: this.gapMs,
      quantifier: this.quantifier,
      elements: this.group?.toElements(),
    };
  }

  private get label(): string {
    return this.stepName ?? '(group)';
  }

  private append(target: string | Pattern<E>, contiguity: Contiguity): Pattern<E> {
    if (typeof target === 'string') return new Pattern<E>('step', target, this, contiguity, undefined, undefined);
    if (!(target instanceof Pattern)) throw malformed('A group must be a Pattern.');
    return new Pattern<E>('group', undefined, this, contiguity, target, undefined);
  }

  private appendNot(kind: 'notNext' | 'notFollowedBy', name: string): Pattern<E> {
    // Flink's Pattern.notFollowedBy refuses the same shape: the optional path would make the NOT ambiguous.
    if (this.quantifier.optional) {
      throw malformed(`A NOT step cannot follow the optional step ${this.label}; write two patterns instead.`);
    }
    if (this.kind === 'notNext' || this.kind === 'notFollowedBy') {
      throw malformed(`Two NOT steps in a row (${this.label}, ${name}) are not supported; combine their conditions.`);
    }
    return new Pattern<E>(kind, name, this, kind === 'notNext' ? 'strict' : 'relaxed', undefined, undefined);
  }

  private requireCondition(method: string): void {
    if (this.kind === 'group') throw malformed(`${method}() cannot be applied to a group pattern.`);
  }

  private requireNotNegative(method: string): void {
    if (this.kind === 'notNext' || this.kind === 'notFollowedBy') {
      throw malformed(`${method}() cannot be applied to the NOT step ${this.label}.`);
    }
  }

  private requireQuantifiable(method: string): void {
    this.requireNotNegative(method);
    if (this.quantified) throw malformed(`A quantifier is already set on ${this.label}; ${method}() cannot follow it.`);
  }

  private setQuantifier(q: QuantifierSpec): void {
    this.quantifier = q;
    this.quantified = true;
  }

  private setInner(inner: Contiguity, method: string): this {
    this.requireNotNegative(method);
    if (!this.quantified) throw malformed(`${method}() needs times()/oneOrMore()/timesOrMore() first (${this.label}).`);
    if (this.innerSet) throw malformed(`consecutive()/allowCombinations() is already set on ${this.label}.`);
    this.innerSet = true;
    this.quantifier = { ...this.quantifier, inner };
    return this;
  }
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
