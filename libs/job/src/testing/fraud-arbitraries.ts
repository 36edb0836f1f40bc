/**
 * fast-check arbitraries for differential tests of aggregate rules: card payments whose keys collide a lot and whose
 * timestamps tie often, aggregate rule sets tuned to fire often, and a bounded disorder of a stream.
 */
import fc from 'fast-check';
import {
  seededRandom,
  type AggregateRule,
  type ConditionNode,
  type LeafCondition,
  type Severity,
  type TopLevelCondition,
} from '@cepheus/rules';

/** A card payment. A type alias, not an interface, so that it is a `Record<string, unknown>` for the reference. */
export type Payment = {
  id: string;
  timestamp: number;
  cardId: string;
  deviceId: string;
  merchantId: string;
  /** Integer minor units, so that sums are exact in doubles. */
  amount: number;
  country: string;
};

/** Event time of the first possible payment (2023-11-14T22:13:20Z). */
export const PAYMENT_EPOCH = 1_700_000_000_000;
/** Default span of a payment stream: ten minutes, a few times the longest generated window. */
export const PAYMENT_SPAN_MS = 600_000;
export const CARD_IDS = ['4111', '4242', '5555', '3782'] as const;
export const DEVICE_IDS = ['d-1', 'd-2', 'd-3'] as const;
/** Two merchant ids need URI-encoding in keys (`merchantId=m%3D2`, `merchantId=m%264`). */
export const MERCHANT_IDS = ['m-1', 'm=2', 'm-3', 'm&4'] as const;
export const COUNTRIES = ['FR', 'DE', 'US', 'GB'] as const;
/** Round amounts, most payments take one, so that `equal` limits and sums of a few payments meet them. */
export const ROUND_AMOUNTS = [500, 1000, 2500, 5000, 12000] as const;

/** The groupings of generated rules. */
export const GROUPINGS = ['cardId', 'deviceId', 'merchantId'] as const;
export type Grouping = (typeof GROUPINGS)[number];

export interface PaymentStreamOptions {
  minLength?: number;
  /** Default 60. */
  maxLength?: number;
  /** Timestamps fall in `[PAYMENT_EPOCH, PAYMENT_EPOCH + spanMs]`. Default {@link PAYMENT_SPAN_MS}. */
  spanMs?: number;
}

/**
 * Payments over a few cards, devices and merchants, in event-time order (ties by id). Most timestamps are whole
 * seconds and many fall on the same 30-second marks, so events tie with each other and with the eviction moments of
 * windows of whole seconds; a few carry milliseconds. Ids `p<n>` are numbered in generation order, not time order,
 * so ties are broken by ids in no particular relation to the order of generation (and `"p10" < "p9"`).
 */
export function paymentStream(options: PaymentStreamOptions = {}): fc.Arbitrary<Payment[]> {
  const spanMs = options.spanMs ?? PAYMENT_SPAN_MS;
  const offset = fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: Math.floor(spanMs / 1000) }).map((s) => s * 1000) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: Math.floor(spanMs / 30_000) }).map((n) => n * 30_000) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: spanMs }) },
  );
  const amount = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...ROUND_AMOUNTS) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }) },
  );
  const draft = fc.record({
    offset,
    cardId: fc.constantFrom(...CARD_IDS),
    deviceId: fc.constantFrom(...DEVICE_IDS),
    merchantId: fc.constantFrom(...MERCHANT_IDS),
    amount,
    country: fc.constantFrom(...COUNTRIES),
  });
  // size 'max': lengths spread over the whole range, where fast-check's default keeps arrays to about ten elements,
  // too few payments per key for windows to fill.
  return fc
    .array(draft, { minLength: options.minLength ?? 0, maxLength: options.maxLength ?? 60, size: 'max' })
    .map((drafts) =>
      drafts
        .map(({ offset: ms, ...fields }, index): Payment => ({
          id: `p${index}`,
          timestamp: PAYMENT_EPOCH + ms,
          ...fields,
        }))
        .sort((a, b) => a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    );
}

export interface AggregateRuleSetOptions {
  /** Default 2. */
  minRules?: number;
  /** Default 6. */
  maxRules?: number;
  /** At least one rule grouped by each of cardId, deviceId and merchantId (needs maxRules >= 3). */
  everyGrouping?: boolean;
  /** `effectiveFrom` values are drawn in `[PAYMENT_EPOCH, PAYMENT_EPOCH + spanMs / 2]`. Default {@link PAYMENT_SPAN_MS}. */
  spanMs?: number;
}

const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];
const FUNCTIONS = ['count', 'sum', 'avg', 'min', 'max', 'distinctCount'] as const;
const COMPARISONS = [
  'greaterThan',
  'greaterThanInclusive',
  'lessThan',
  'lessThanInclusive',
  'equal',
  'notEqual',
] as const;
/** 1 s to 5 min, strings and plain milliseconds; 1500 ms puts eviction moments between whole seconds. */
const WINDOWS = ['1s', '5s', '30s', '1m', '2m', '5m', 1500, 45_000, 90_000] as const;
const TEMPLATES = [
  '{{function}} {{value}} on {{key}} within {{window}}',
  '{{count}} payments on {{key}}: {{value}} {{operator}} {{limit}}',
  'rule {{ruleId}} v{{version}} ({{severity}}) on {{key}}',
] as const;

/** Leaves over payment fields, within the subset that the reference's condition interpreter reads. */
const filterLeaf: fc.Arbitrary<LeafCondition> = fc.oneof(
  fc.record({
    fact: fc.constant('event'),
    path: fc.constant('$.amount'),
    operator: fc.constantFrom(...COMPARISONS),
    value: fc.constantFrom<number>(...ROUND_AMOUNTS),
  }),
  fc.record({
    fact: fc.constant('event'),
    path: fc.constant('$.country'),
    operator: fc.constantFrom('in', 'notIn'),
    value: fc.subarray([...COUNTRIES], { minLength: 1 }),
  }),
  fc.record({
    fact: fc.constant('event'),
    path: fc.constantFrom('$.country', '$.merchantId'),
    operator: fc.constantFrom('equal', 'notEqual'),
    value: fc.constantFrom<string>(...COUNTRIES, ...MERCHANT_IDS),
  }),
);

const filterChild: fc.Arbitrary<ConditionNode> = fc.oneof(
  { weight: 3, arbitrary: filterLeaf },
  { weight: 1, arbitrary: filterLeaf.map((leaf) => ({ not: leaf })) },
  { weight: 1, arbitrary: fc.array(filterLeaf, { maxLength: 2 }).map((all) => ({ all })) },
  { weight: 1, arbitrary: fc.array(filterLeaf, { minLength: 1, maxLength: 2 }).map((any) => ({ any })) },
);

/** Filters: mostly conjunctions (the common shape), some disjunctions and negations, empty `all`/`any` included. */
const filter: fc.Arbitrary<TopLevelCondition> = fc.oneof(
  { weight: 3, arbitrary: fc.array(filterChild, { maxLength: 3 }).map((all) => ({ all })) },
  { weight: 1, arbitrary: fc.array(filterChild, { maxLength: 3 }).map((any) => ({ any })) },
  { weight: 1, arbitrary: filterChild.map((not) => ({ not })) },
);

type AggregateSpec = AggregateRule['aggregate'];

type AggregateCore = Pick<AggregateSpec, 'function' | 'field' | 'limit'>;

/** Function, field and limit together, the limit in the range where the function's values fall. */
function aggregateCore(grouping: Grouping): fc.Arbitrary<AggregateCore> {
  return fc.constantFrom(...FUNCTIONS).chain((fn): fc.Arbitrary<AggregateCore> => {
    switch (fn) {
      case 'count':
        return fc.integer({ min: 0, max: 5 }).map((limit) => ({ function: fn, limit }));
      case 'distinctCount':
        // Distinct cards per device or merchant, devices per card, countries anywhere: never the grouping field.
        return fc
          .record({
            field: fc.constantFrom(...[...GROUPINGS, 'country'].filter((field) => field !== grouping)),
            limit: fc.integer({ min: 0, max: 3 }),
          })
          .map(({ field, limit }) => ({ function: fn, field, limit }));
      case 'sum':
        return fc
          .record({
            field: fc.constantFrom('amount', '$.amount'),
            limit: fc.constantFrom(0, 1000, 2500, 5000, 10_000, 25_000, 50_000),
          })
          .map(({ field, limit }) => ({ function: fn, field, limit }));
      default:
        return fc
          .record({
            field: fc.constantFrom('amount', '$.amount'),
            limit: fc.constantFrom<number>(...ROUND_AMOUNTS),
          })
          .map(({ field, limit }) => ({ function: fn, field, limit }));
    }
  });
}

function aggregateRule(grouping: Grouping, spanMs: number): fc.Arbitrary<Omit<AggregateRule, 'id'>> {
  return fc
    .record({
      version: fc.integer({ min: 1, max: 3 }),
      severity: fc.constantFrom(...SEVERITIES),
      template: fc.constantFrom(...TEMPLATES),
      // A quarter of the rules start during the stream's first half; the others see every payment.
      effectiveFrom: fc.oneof(
        { weight: 3, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.integer({ min: PAYMENT_EPOCH, max: PAYMENT_EPOCH + Math.floor(spanMs / 2) }) },
      ),
      core: aggregateCore(grouping),
      filter: fc.option(filter, { nil: undefined, freq: 2 }), // half the rules have a filter
      window: fc.constantFrom(...WINDOWS),
      operator: fc.constantFrom(...COMPARISONS),
    })
    .map(({ version, severity, template, effectiveFrom, core, filter: ruleFilter, window, operator }) => ({
      version,
      status: 'active' as const,
      ...(effectiveFrom === undefined ? {} : { effectiveFrom }),
      severity,
      groupBy: [grouping],
      alert: { template },
      type: 'aggregate' as const,
      aggregate: {
        ...(ruleFilter === undefined ? {} : { filter: ruleFilter }),
        function: core.function,
        ...(core.field === undefined ? {} : { field: core.field }),
        window,
        operator,
        limit: core.limit,
      },
    }));
}

/**
 * 2 to 6 active aggregate rules (documents that `validateRule` accepts) grouped by cardId, deviceId or merchantId,
 * with ids `agg-<n>`. With `everyGrouping`, the first three rules take the three groupings.
 */
export function aggregateRuleSet(options: AggregateRuleSetOptions = {}): fc.Arbitrary<AggregateRule[]> {
  const minRules = options.minRules ?? 2;
  const maxRules = options.maxRules ?? 6;
  const spanMs = options.spanMs ?? PAYMENT_SPAN_MS;
  const fixed: readonly Grouping[] = options.everyGrouping === true ? GROUPINGS : [];
  if (maxRules < Math.max(minRules, fixed.length, 1)) {
    throw new Error(`aggregateRuleSet: maxRules ${maxRules} is below minRules or the groupings asked for`);
  }
  return fc
    .array(fc.constantFrom(...GROUPINGS), {
      minLength: Math.max(0, minRules - fixed.length),
      maxLength: maxRules - fixed.length,
    })
    .chain((extra) => fc.tuple(...[...fixed, ...extra].map((grouping) => aggregateRule(grouping, spanMs))))
    .map((rules) => rules.map((rule, index): AggregateRule => ({ id: `agg-${index}`, ...rule })));
}

/**
 * A deterministic permutation of `events` (same seed, same permutation) in which no event comes after an event whose
 * time exceeds its own by more than `boundMs`: for every i < j, `time(out[i]) - time(out[j]) <= boundMs`. So with a
 * watermark of (max time seen) - boundMs - 1, no event is ever at or behind the watermark when it arrives.
 *
 * How: repeatedly pick, uniformly, one of the remaining events whose time is at most (earliest remaining time) +
 * boundMs. Picking such an event never strands a remaining event more than boundMs behind it, and picking anything
 * later would. Ties keep no particular order.
 */
export function disorderWithinBound<E extends Readonly<Record<string, unknown>>>(
  events: readonly E[],
  boundMs: number,
  seed: number,
  eventTime: (event: E) => number = (event) => event.timestamp as number,
): E[] {
  if (!(boundMs >= 0)) throw new Error(`disorderWithinBound: bound ${boundMs} is not a non-negative number`);
  const random = seededRandom(seed);
  // Remaining events in time order (ties in input order, so the result depends only on the input and the seed).
  const remaining = events
    .map((event, index) => ({ event, index, time: eventTime(event) }))
    .sort((a, b) => a.time - b.time || a.index - b.index);
  const out: E[] = [];
  while (remaining.length > 0) {
    const limit = remaining[0].time + boundMs;
    let eligible = 1;
    while (eligible < remaining.length && remaining[eligible].time <= limit) eligible += 1;
    const [picked] = remaining.splice(Math.floor(random() * eligible), 1);
    out.push(picked.event);
  }
  return out;
}
