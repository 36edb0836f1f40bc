import fc from 'fast-check';
import { JSONPath } from 'jsonpath-plus';
import { getPath, parsePath } from './json-path';

describe('json path subset', () => {
  it('parses the subset and refuses the rest', () => {
    expect(parsePath('$')).toEqual([]);
    expect(parsePath("$.a[0]['b c'].d_1")).toEqual(['a', '0', 'b c', 'd_1']);
    for (const bad of ['a.b', '$..a', '$.a[*]', '$.a[-1]', '$.a[?(@.x)]', '$.a[0:2]', '$.', "$['a'", '$.1a', '$[01]']) {
      expect(parsePath(bad)).toBeUndefined();
    }
  });

  it('resolves exactly as jsonpath-plus (wrap: false) does on generated JSON', () => {
    const key = fc.constantFrom('a', 'b', '0', '1', 'length', 'b c', 'toString');
    const leaf = fc.oneof(
      fc.integer({ min: -1, max: 2 }),
      fc.constantFrom('', 'xy', 'abc'),
      fc.boolean(),
      fc.constant(null),
    );
    const { json } = fc.letrec<{ json: unknown }>((tie) => ({
      json: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('json'), { maxLength: 3 }),
        fc.dictionary(key, tie('json'), { maxKeys: 3 }),
      ),
    }));
    const segment = fc.oneof(
      fc.constantFrom('a', 'b', 'length', 'toString').map((k) => `.${k}`),
      fc.constantFrom(0, 1, 2).map((i) => `[${i}]`),
      fc.constantFrom('a', 'b c', '0').map((k) => `['${k}']`),
    );
    const path = fc.array(segment, { maxLength: 4 }).map((s) => `$${s.join('')}`);
    fc.assert(
      fc.property(
        json.map((j) => JSON.parse(JSON.stringify({ root: j })).root as unknown),
        path,
        (root, p) => {
          if (root === null || typeof root !== 'object') return; // json-rules-engine applies paths to objects only
          const segments = parsePath(p);
          expect(segments).toBeDefined();
          expect(getPath(root, segments ?? [])).toEqual(JSONPath({ path: p, json: root as object, wrap: false }));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
