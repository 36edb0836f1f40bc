import { CepheusError } from '@cepheus/common';
/** The five after-match skip strategies of Flink CEP (and of SQL's `AFTER MATCH SKIP`). */
export type AfterMatchSkipKind = 'noSkip' | 'skipToNext' | 'skipPastLastEvent' | 'skipToFirst' | 'skipToLast';

/**
 * Decides which partial matches survive once a match is emitted. Ported in idea from Flink's
 * `nfa/aftermatch/AfterMatchSkipStrategy.java`: a strategy reduces a match to a pruning bound, and every partial
 * (or completed but not yet emitted) match that started before the bound is discarded.
 *
 * A skip-to strategy whose step has no event in the match prunes nothing (Flink's default), unless
 * `throwExceptionOnMiss()` was called: then such a match makes `process`/`advanceTime` throw, as Flink fails the job.
 */
export class AfterMatchSkipStrategy {
  private constructor(
    /** Which strategy. */
    readonly kind: AfterMatchSkipKind,
    /** The step named by `skipToFirst` / `skipToLast`. */
    readonly patternName: string | undefined,
    /** Set by `throwExceptionOnMiss()`: a match without an event of the skip-to step throws. */
    readonly throwsOnMiss = false,
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

  /**
   * Makes a `skipToFirst`/`skipToLast` strategy throw when a match has no event of its step (Flink's
   * `SkipToElementStrategy#throwExceptionOnMiss`), instead of pruning nothing. The error (`CepheusError`, code
   * `JOB_FAILED`, `details.reason` `CEP_SKIP_TARGET_MISSING`) comes out of the `process` or `advanceTime` call that
   * emits the match; the match is not emitted and the key's state must be discarded (Flink fails the job).
   */
  throwExceptionOnMiss(): AfterMatchSkipStrategy {
    if (this.kind !== 'skipToFirst' && this.kind !== 'skipToLast') {
      throw new CepheusError('CEP_MALFORMED_PATTERN', `throwExceptionOnMiss() applies to skipToFirst/skipToLast only.`);
    }
    return new AfterMatchSkipStrategy(this.kind, this.patternName, true);
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
      case 'skipToFirst':
      case 'skipToLast': {
        const name = this.patternName as string;
        const i = this.kind === 'skipToFirst' ? names.indexOf(name) : names.lastIndexOf(name);
        if (i >= 0) {
          // Flink refuses too, with throwExceptionOnMiss: skipping to the match's own first event would find it again.
          if (this.throwsOnMiss && seqs[i] === seqs[0]) {
            throw new CepheusError('JOB_FAILED', `Could not skip to ${name}: it is the first event of the match.`, {
              details: { reason: 'CEP_SKIP_TO_FIRST_EVENT', strategy: this.toString() },
            });
          }
          return seqs[i];
        }
        if (this.throwsOnMiss) {
          throw new CepheusError('JOB_FAILED', `Could not skip to ${name}: the match has no event of that step.`, {
            details: { reason: 'CEP_SKIP_TARGET_MISSING', strategy: this.toString() },
          });
        }
        return Number.NEGATIVE_INFINITY;
      }
    }
  }

  /** A readable form for logs and error messages. */
  toString(): string {
    if (this.patternName === undefined) return this.kind;
    return `${this.kind}(${this.patternName})${this.throwsOnMiss ? '.throwExceptionOnMiss()' : ''}`;
  }
}
