import type { OperatorDefinition } from './operators';

/**
 * Custom operators Cepheus ships besides json-rules-engine's built-ins. They are ordinary registered operators:
 * a rule set opts in by passing them to `OperatorRegistry`, and json-rules-engine gets the very same definitions in
 * the property tests.
 */
export const EXTRA_OPERATORS: readonly OperatorDefinition[] = [
  {
    name: 'startsWith',
    evaluate: (a, b) => typeof a === 'string' && typeof b === 'string' && a.startsWith(b),
  },
  {
    name: 'endsWith',
    evaluate: (a, b) => typeof a === 'string' && typeof b === 'string' && a.endsWith(b),
  },
  {
    // Inclusive range `[low, high]`; a non-number fact or a malformed range is simply false.
    name: 'between',
    evaluate: (a, b) =>
      typeof a === 'number' &&
      Array.isArray(b) &&
      b.length === 2 &&
      typeof b[0] === 'number' &&
      typeof b[1] === 'number' &&
      a >= b[0] &&
      a <= b[1],
  },
  {
    // A validator, like the built-in numeric operators: strings such as "12" pass it and are then coerced by `%`.
    name: 'multipleOf',
    evaluate: (a, b) => typeof b === 'number' && b !== 0 && (a as number) % b === 0,
    factValueValidator: (a) => Number.parseFloat(a as string).toString() !== 'NaN',
  },
];
