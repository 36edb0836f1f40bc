import fc from 'fast-check';
import { aggregateRuleSet, disorderWithinBound, paymentStream, referenceAlerts } from '@cepheus/job/testing';
import { runRuleJob } from './run-rule-job';

/*
 * The rule job against an independent brute-force reference (libs/job/src/testing, written from the specification in
 * docs/rules.md, "When a rule fires", without reading the evaluator): random payments keyed by card, random aggregate
 * rules grouped by card, device and merchant, the events spread over several inputs in an arrival order that is
 * disordered within the bound, at several parallelisms. Every run must give exactly the reference's alert ids.
 */
describe('the rule job gives the alerts of the brute-force reference', () => {
  it('whatever the arrival order within the bound, the number of inputs and the parallelism', async () => {
    const BOUND_MS = 20_000;
    await fc.assert(
      fc.asyncProperty(
        paymentStream({ minLength: 1, maxLength: 80 }),
        aggregateRuleSet({ everyGrouping: true }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        async (payments, rules, seed, inputs, parallelism) => {
          const expected = referenceAlerts(rules, payments).map((a) => a.alertId);
          const arrival = disorderWithinBound(payments, BOUND_MS, seed);
          const lines = new Map<string, string[]>();
          arrival.forEach((p) => {
            // Each payment goes to an input chosen by its card, as a Kafka producer keyed by card would place it.
            const input = `input-${Number(p.cardId) % inputs}`;
            lines.set(input, [...(lines.get(input) ?? []), JSON.stringify(p)]);
          });
          const run = await runRuleJob(rules, lines, { parallelism, outOfOrdernessMs: BOUND_MS });
          expect(run.deadLetters).toEqual([]);
          expect(run.rules.every((r) => r.status === 'applied')).toBe(true);
          expect(run.alerts.map((a) => a.id).sort()).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  }, 300_000);
});
