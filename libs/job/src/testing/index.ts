// Test helpers of @cepheus/job: an independent brute-force reference for aggregate alerts and fast-check
// arbitraries, for differential tests of the rule job and the evaluator.
export { referenceAlerts, referenceKeyOf } from './reference-alerts';
export type { ReferenceAlert, ReferenceAlertOptions } from './reference-alerts';
export { compileReferenceCondition } from './reference-condition';
export type { EventPredicate } from './reference-condition';
export {
  aggregateRuleSet,
  CARD_IDS,
  COUNTRIES,
  DEVICE_IDS,
  disorderWithinBound,
  GROUPINGS,
  MERCHANT_IDS,
  PAYMENT_EPOCH,
  PAYMENT_SPAN_MS,
  paymentStream,
  ROUND_AMOUNTS,
} from './fraud-arbitraries';
export type { AggregateRuleSetOptions, Grouping, Payment, PaymentStreamOptions } from './fraud-arbitraries';
