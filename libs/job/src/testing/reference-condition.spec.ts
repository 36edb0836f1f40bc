import { compileReferenceCondition } from './reference-condition';

/** A one-leaf `all` filter on `$.<field>`. */
function leaf(field: string, operator: string, value: unknown) {
  return compileReferenceCondition({ all: [{ fact: 'event', path: `$.${field}`, operator, value }] });
}

describe('compileReferenceCondition (json-rules-engine semantics, small subset)', () => {
  it('equal / notEqual are strict; a missing field equals nothing', () => {
    expect(leaf('a', 'equal', 2)({ a: 2 })).toBe(true);
    expect(leaf('a', 'equal', 2)({ a: '2' })).toBe(false);
    expect(leaf('a', 'notEqual', 2)({ a: '2' })).toBe(true);
    expect(leaf('a', 'equal', null)({})).toBe(false);
    expect(leaf('a', 'notEqual', 'x')({})).toBe(true);
  });

  it('in / notIn search an array with strict equality', () => {
    expect(leaf('c', 'in', ['FR', 'DE'])({ c: 'FR' })).toBe(true);
    expect(leaf('c', 'in', ['1'])({ c: 1 })).toBe(false);
    expect(leaf('c', 'notIn', ['FR'])({ c: 'US' })).toBe(true);
    expect(leaf('c', 'notIn', ['FR'])({})).toBe(true);
    expect(leaf('c', 'in', [])({ c: 'FR' })).toBe(false);
  });

  it('numeric operators validate with parseFloat, then compare with JavaScript coercion', () => {
    expect(leaf('n', 'greaterThan', 10)({ n: 11 })).toBe(true);
    expect(leaf('n', 'greaterThan', 10)({ n: '12' })).toBe(true);
    expect(leaf('n', 'lessThan', 10)({ n: [3] })).toBe(true); // "3" passes parseFloat; [3] < 10
    expect(leaf('n', 'lessThan', 10)({ n: null })).toBe(false); // fails the validator although null < 10
    expect(leaf('n', 'lessThan', 10)({ n: '' })).toBe(false);
    expect(leaf('n', 'lessThan', 10)({ n: true })).toBe(false);
    expect(leaf('n', 'lessThan', 10)({})).toBe(false);
    expect(leaf('n', 'lessThanInclusive', 10)({ n: 10 })).toBe(true);
    expect(leaf('n', 'greaterThanInclusive', 10)({ n: 9.5 })).toBe(false);
    expect(leaf('n', 'greaterThan', 10)({ n: '12abc' })).toBe(false); // passes the validator, "12abc" > 10 is false
  });

  it('only own properties are read', () => {
    expect(leaf('toString', 'notEqual', null)({})).toBe(true);
    expect(leaf('toString', 'in', [undefined as unknown])({})).toBe(true);
  });

  it('all / any hold when empty; not negates', () => {
    expect(compileReferenceCondition({ all: [] })({})).toBe(true);
    expect(compileReferenceCondition({ any: [] })({})).toBe(true);
    const amountOver = { fact: 'event', path: '$.amount', operator: 'greaterThan', value: 1000 };
    const country = { fact: 'event', path: '$.country', operator: 'in', value: ['FR', 'DE'] };
    const condition = compileReferenceCondition({
      name: 'root',
      all: [
        { fact: 'event', path: '$.type', operator: 'equal', value: 'payment' },
        { any: [amountOver, { not: country }] },
      ],
    });
    expect(condition({ type: 'payment', amount: 5, country: 'US' })).toBe(true);
    expect(condition({ type: 'payment', amount: 5, country: 'FR' })).toBe(false);
    expect(condition({ type: 'payment', amount: 5000, country: 'FR' })).toBe(true);
    expect(condition({ type: 'refund', amount: 5000, country: 'US' })).toBe(false);
    expect(compileReferenceCondition({ not: amountOver })({ amount: 1 })).toBe(true);
  });

  it('refuses everything outside the subset', () => {
    const refused = [
      { fact: 'event', path: '$.a', operator: 'equal', value: 1 }, // a leaf at the root
      { all: [{ fact: 'time', operator: 'greaterThan', value: 1 }] },
      { all: [{ fact: 'event', path: '$.a.b', operator: 'equal', value: 1 }] },
      { all: [{ fact: 'event', path: "$['a']", operator: 'equal', value: 1 }] },
      { all: [{ fact: 'event', operator: 'equal', value: 1 }] },
      { all: [{ fact: 'event', path: '$.a', operator: 'contains', value: 1 }] },
      { all: [{ fact: 'event', path: '$.a', operator: 'not:equal', value: 1 }] },
      { all: [{ fact: 'event', path: '$.a', operator: 'in', value: 'FR,DE' }] },
      { all: [{ fact: 'event', path: '$.a', operator: 'equal', value: { fact: 'event', path: '$.b' } }] },
      { all: [{ fact: 'event', path: '$.a', operator: 'equal', value: 1, params: {} }] },
      { all: [{ condition: 'shared' }] },
      { all: [], any: [] },
      { all: {} },
    ];
    for (const condition of refused) {
      expect(() => compileReferenceCondition(condition)).toThrow(/reference condition/);
    }
  });
});
