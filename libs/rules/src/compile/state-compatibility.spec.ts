import type { AggregateRule, Rule, SequenceRule } from '../model/rule';
import { canKeepState, stateShapeOf } from './state-compatibility';

const agg: AggregateRule = {
  id: 'r',
  version: 1,
  status: 'active',
  severity: 'low',
  groupBy: ['cardId'],
  alert: { template: 'x' },
  type: 'aggregate',
  aggregate: { function: 'sum', field: 'amount', window: '30m', operator: 'greaterThan', limit: 10 },
};
const seq: SequenceRule = {
  ...agg,
  type: 'sequence',
  sequence: { steps: [{ name: 'a', condition: { all: [] } }], within: '1m' },
} as unknown as SequenceRule;
const v2 = <T extends Rule>(r: T, change: (r: T) => void): T => {
  const copy = structuredClone(r);
  copy.version = 2;
  change(copy);
  return copy;
};

describe('canKeepState', () => {
  it.each<[string, Rule, Rule, boolean]>([
    [
      'aggregate: new limit, window length, filter, severity',
      agg,
      v2(agg, (r) =>
        Object.assign(r.aggregate, { limit: 99, window: '2h', filter: { all: [] } }, { severity: 'high' }),
      ),
      true,
    ],
    ['aggregate: sum -> max over the same field', agg, v2(agg, (r) => (r.aggregate.function = 'max')), true],
    ['aggregate: another groupBy', agg, v2(agg, (r) => (r.groupBy = ['deviceId'])), false],
    ['aggregate: another field', agg, v2(agg, (r) => (r.aggregate.field = 'fee')), false],
    ['aggregate: sum -> distinctCount', agg, v2(agg, (r) => (r.aggregate.function = 'distinctCount')), false],
    ['aggregate -> deleted', agg, v2(agg, (r) => (r.status = 'deleted')), false],
    ['sequence: new template', seq, v2(seq, (r) => (r.alert.template = 'y')), true],
    ['sequence: paused', seq, v2(seq, (r) => (r.status = 'paused')), true],
    ['sequence: new within', seq, v2(seq, (r) => (r.sequence.within = '2m')), false],
    ['sequence: a step changed', seq, v2(seq, (r) => (r.sequence.steps[0].optional = true)), false],
    ['aggregate -> sequence', agg, { ...seq, version: 2 }, false],
  ])('%s', (_title, before, after, keep) => {
    const answer = canKeepState(before, after);
    expect(answer.keep).toBe(keep);
    expect(answer.reason.length).toBeGreaterThan(10);
    if (after.status !== 'deleted') expect(stateShapeOf(before) === stateShapeOf(after)).toBe(keep);
  });
});
