import type { SimpleLeaf, SimpleOperator } from './compile-condition';
import { pathGetter, type PathSegments } from './json-path';
import { numberValidator } from './operators';

/*
 * Operator codes, in the order of json-rules-engine's definitions. Each case below is the built-in operator's
 * validator and callback (operators.ts) written out, so that the answer, coercions and exceptions included, is the
 * same.
 */
const CODES: Readonly<Record<SimpleOperator, number>> = {
  equal: 0,
  notEqual: 1,
  in: 2,
  notIn: 3,
  contains: 4,
  doesNotContain: 5,
  lessThan: 6,
  lessThanInclusive: 7,
  greaterThan: 8,
  greaterThanInclusive: 9,
};

interface IndexOf {
  indexOf(searchElement: unknown): number;
}

/** Whether a simple leaf holds for the event field value `v` (the leaf's compiled test, without its closures). */
export function simpleLeafHolds(code: number, v: unknown, value: unknown): boolean {
  switch (code) {
    case 0:
      return v === value;
    case 1:
      return v !== value;
    case 2:
      return (value as IndexOf).indexOf(v) > -1;
    case 3:
      return (value as IndexOf).indexOf(v) === -1;
    case 4:
      return Array.isArray(v) && (v as IndexOf).indexOf(value) > -1;
    case 5:
      return Array.isArray(v) && (v as IndexOf).indexOf(value) === -1;
    case 6:
      return numberValidator(v) && (v as number) < (value as number);
    case 7:
      return numberValidator(v) && (v as number) <= (value as number);
    case 8:
      return numberValidator(v) && (v as number) > (value as number);
    default:
      return numberValidator(v) && (v as number) >= (value as number);
  }
}

/** The code of a simple leaf's operator, for {@link simpleLeafHolds}. */
export function simpleOperatorCode(operator: SimpleOperator): number {
  return CODES[operator];
}

/**
 * The simple-leaf conjunctions of many rules as flat arrays, over a table of the event fields they read. Within one
 * `begin` (one event for one key) each field is read at most once, however many rules test it: with 100 rules an
 * event meets ~20 filters reading the same two or three fields, and running each through its own closures (a getter,
 * an operator, a validator per leaf, each a cold object with 1,000 rules) was a quarter of the evaluator's time.
 * Fields are assumed to read the same within one `begin`, as event data (JSON) does.
 */
export class LeafProgram {
  readonly #fieldOf = new Map<string, number>();
  readonly #getters: ((root: unknown) => unknown)[] = [];
  readonly #values: unknown[] = [];
  /** Per field, the `begin` count at which `#values` was read. */
  readonly #readAt: number[] = [];
  #turn = 0;
  #event: unknown = undefined;
  readonly #field: number[] = [];
  readonly #code: number[] = [];
  readonly #operand: unknown[] = [];

  /** The index of the event field at `path`, for {@link read}. */
  field(path: PathSegments): number {
    const key = JSON.stringify(path);
    let f = this.#fieldOf.get(key);
    if (f === undefined) {
      f = this.#getters.length;
      this.#getters.push(pathGetter(path));
      this.#values.push(undefined);
      this.#readAt.push(-1);
      this.#fieldOf.set(key, f);
    }
    return f;
  }

  /** Stores a conjunction; returns its start (its end is start + leaves.length). */
  add(leaves: readonly SimpleLeaf[]): number {
    const start = this.#field.length;
    for (const leaf of leaves) {
      this.#field.push(this.field(leaf.path));
      this.#code.push(simpleOperatorCode(leaf.operator));
      this.#operand.push(leaf.value);
    }
    return start;
  }

  /** Starts reading fields of `event` afresh. */
  begin(event: unknown): void {
    this.#turn++;
    this.#event = event;
  }

  /** The value of field `f` in the current event. */
  read(f: number): unknown {
    if (this.#readAt[f] === this.#turn) return this.#values[f];
    const v = this.#getters[f](this.#event);
    this.#values[f] = v;
    this.#readAt[f] = this.#turn;
    return v;
  }

  /** Whether the leaves `[start, end)` all hold for the current event (may throw as the operators do). */
  holds(start: number, end: number): boolean {
    for (let j = start; j < end; j++) {
      if (!simpleLeafHolds(this.#code[j], this.read(this.#field[j]), this.#operand[j])) return false;
    }
    return true;
  }
}
