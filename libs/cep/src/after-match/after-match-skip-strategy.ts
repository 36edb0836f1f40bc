/** The five after-match skip strategies of Flink CEP (and of SQL's `AFTER MATCH SKIP`). */
export type AfterMatchSkipKind = 'noSkip' | 'skipToNext' | 'skipPastLastEvent' | 'skipToFirst' | 'skipToLast';

/**
 * Decides which partial matches survive once a match is emitted. Ported in idea from Flink's
 * `nfa/aftermatch/AfterMatchSkipStrategy.java`: a strategy reduces a match to a pruning bound, and every partial
 * (or completed but not yet emitted) match that started before the bound is discarded.
 *
 * Unlike Flink, a skip-to strategy whose step has no event in the match prunes nothing (Flink's default too; Flink's
 * optional `throwExceptionOnMiss` is not offered because a rule engine must not fail on data).
 */
export class AfterMatchSkipStrategy {
  private constructor(
    /** Which strategy. */
    readonly kind: AfterMatchSkipKind,
    /** The step named by `skipToFirst` / `skipToLast`. */
    readonly patternName: string | undefined,
  ) {}

  /** Every match is emitted; nothing is discarded. */
  static noSkip(): AfterMatchSkipStrategy {
    return new AfterMatchSkipStrategy('noSkip', undefined);
  }

  /** Discards the partial matches that started with (or before) the first event of the emitted match. */
  static skipToNext(): AfterMatchSkipStrategy {
    return new AfterMatchSkipStrategy('skipToNext', undefined);
  }

  /** Discards every partial match that started before the emitted match ended. */
  static skipPastLastEvent(): AfterMatchSkipStrategy {
    return new AfterMatchSkipStrategy('skipPastLastEvent', undefined);
  }

  /** Discards the partial matches that started before the first event matched by step `name`. */
  static skipToFirst(name: string): AfterMatchSkipStrategy {
    return new AfterMatchSkipStrategy('skipToFirst', name);
  }

  /** Discards the partial matches that started before the last event matched by step `name`. */
  static skipToLast(name: string): AfterMatchSkipStrategy {
    return new AfterMatchSkipStrategy('skipToLast', name);
  }

  /** True for every strategy but `noSkip`: only those need matches emitted in order of their first event. */
  get prunes(): boolean {
    return this.kind !== 'noSkip';
  }

  /**
   * The smallest start-event sequence number a partial match may have and survive `match`.
   * @param seqs sequence numbers of the match's events, in order
   * @param names the step name of each of those events
   */
  keepFrom(seqs: readonly number[], names: readonly string[]): number {
    switch (this.kind) {
      case 'noSkip':
        return Number.NEGATIVE_INFINITY;
      case 'skipToNext':
        return seqs[0] + 1;
      case 'skipPastLastEvent':
        return seqs[seqs.length - 1] + 1;
      case 'skipToFirst': {
        const i = names.indexOf(this.patternName as string);
        return i < 0 ? Number.NEGATIVE_INFINITY : seqs[i];
      }
      case 'skipToLast': {
        const i = names.lastIndexOf(this.patternName as string);
        return i < 0 ? Number.NEGATIVE_INFINITY : seqs[i];
      }
    }
  }

  /** A readable form for logs and error messages. */
  toString(): string {
    return this.patternName === undefined ? this.kind : `${this.kind}(${this.patternName})`;
  }
}
