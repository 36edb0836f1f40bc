import type { DecodeFailureReason, EmittedAlert, RuleStatusReport } from '@cepheus/kafka';

/** Where a record of the events stream came from: enough to find the original (topic/file, partition, offset). */
export interface EventOrigin {
  /** The source split: `topic/partition` for Kafka, the file path for files. */
  readonly split: string;
  readonly offset: string;
}

/** Why an event went to the dead-letter output. */
export type DeadLetterReason = DecodeFailureReason | 'LATE_EVENT' | 'PROCESSING_ERROR';

/** An events-stream record that could not be used, with why. */
export interface DeadLetter {
  readonly kind: 'dead-letter';
  readonly reason: DeadLetterReason;
  readonly message: string;
  readonly origin: EventOrigin;
  /** The record's value as text, cut to a bounded length so that a dead letter always fits the DLQ topic. */
  readonly value: string | null;
}

/** One copy of an event for one grouping key that the rules in force need (see `RuleSet.route`). */
export interface RoutedEvent {
  readonly kind: 'event';
  /** The grouping key, e.g. `cardId=4111`: the record's key in the keyed stage. */
  readonly key: string;
  /** The rules that want the event at this key, when it was routed. */
  readonly ruleIds: readonly string[];
  readonly id: string;
  readonly timestamp: number;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly origin: EventOrigin;
  /** The first copy of the event: the one that reports it late, so that a late event is reported once. */
  readonly primary: boolean;
}

/** What the keyed stage receives. */
export type KeyedRecord = RoutedEvent | DeadLetter;

/** What the rule job writes: alerts, dead letters, and (from instance 0) what it did with each rule record. */
export type RuleJobOutput =
  | { readonly type: 'alert'; readonly alert: EmittedAlert }
  | { readonly type: 'dead-letter'; readonly deadLetter: DeadLetter }
  | { readonly type: 'rule-status'; readonly report: RuleStatusReport };

/** Dead letters of every source go to this key: one instance reports them all, in order. */
export const DEAD_LETTER_KEY = '\u0000dead-letters';

/** Interns rule-id lists read back from bytes: the evaluator caches its plans by list identity. */
export class RuleIdLists {
  readonly #lists = new Map<string, readonly string[]>();

  of(joined: string): readonly string[] {
    let list = this.#lists.get(joined);
    if (list === undefined) {
      // Lists come from the routing of the rules in force: few distinct ones, unless the rules churn for long.
      if (this.#lists.size > 100_000) this.#lists.clear();
      list = joined === '' ? [] : joined.split('\u0000');
      this.#lists.set(joined, list);
    }
    return list;
  }
}
