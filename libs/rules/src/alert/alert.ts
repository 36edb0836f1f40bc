import { createHash } from 'node:crypto';
import type { ConditionTrace } from '../condition/compile-condition';
import type { AggregateComparison, AggregateFunction, Severity } from '../model/rule';

/** One event of an alert: its id and time, the step it matched (sequences) and the fields the rule read. */
export interface AlertEvent {
  id: string;
  timestamp: number;
  step?: string;
  fields: Record<string, unknown>;
}

/** Why a sequence step accepted an event: its condition with the values it saw. */
export interface StepExplanation {
  step: string;
  eventId: string;
  condition: ConditionTrace;
}

/** Why an alert fired. */
export type AlertExplanation =
  | { kind: 'sequence'; steps: StepExplanation[]; within?: number }
  | {
      kind: 'timeout';
      steps: StepExplanation[];
      within: number;
      timedOutAt: number;
      /** Steps that never matched before the window closed. */
      missing: string[];
    }
  | {
      kind: 'aggregate';
      function: AggregateFunction;
      field?: string;
      window: number;
      value: number;
      operator: AggregateComparison;
      limit: number;
      /** The filter as evaluated on the event that made the comparison hold (absent when it was time passing). */
      filter?: ConditionTrace;
    };

/** An alert, as written to the alerts topic. JSON-safe. */
export interface Alert {
  /** Deterministic: the same rule version, key and events always give the same id (idempotent sinks dedupe on it). */
  alertId: string;
  ruleId: string;
  ruleVersion: number;
  kind: 'match' | 'timeout' | 'threshold';
  severity: Severity;
  /** The routing key, e.g. `cardId=4111`. */
  key: string;
  message: string;
  firstEventTime: number;
  lastEventTime: number;
  events: AlertEvent[];
  explanation: AlertExplanation;
}

/** sha256 over rule id, version, key, alert kind and the matched event ids; 32 hex characters. */
export function alertIdOf(
  ruleId: string,
  version: number,
  key: string,
  kind: Alert['kind'],
  eventIds: readonly string[],
): string {
  return createHash('sha256')
    .update(JSON.stringify([ruleId, version, key, kind, eventIds]))
    .digest('hex')
    .slice(0, 32);
}
