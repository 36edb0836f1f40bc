/**
 * The subset of JSONPath that rules may use in `path`: `$`, then `.name`, `['quoted name']` or `[index]` segments.
 * Wildcards, filters, slices and recursive descent are refused at validation, because they return several values and
 * jsonpath-plus (which json-rules-engine uses) then changes the shape of its answer; within the subset our getter
 * gives exactly jsonpath-plus's answer (property-tested in json-path.spec.ts).
 */

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const INDEX = /^\[(0|[1-9][0-9]{0,8})\]/;
const QUOTED = /^\['([A-Za-z0-9_ -]+)'\]/;

/** A parsed path: the property names and indexes to walk, in order. */
export type PathSegments = readonly string[];

/** Parses a path of the supported subset; returns undefined when the path is outside it. */
export function parsePath(path: string): PathSegments | undefined {
  if (!path.startsWith('$')) return undefined;
  const segments: string[] = [];
  let rest = path.slice(1);
  while (rest.length > 0) {
    let m: RegExpExecArray | null;
    if (rest.startsWith('.') && (m = NAME.exec(rest.slice(1))) !== null) {
      segments.push(m[0]);
      rest = rest.slice(1 + m[0].length);
    } else if ((m = INDEX.exec(rest)) !== null || (m = QUOTED.exec(rest)) !== null) {
      segments.push(m[1]);
      rest = rest.slice(m[0].length);
    } else {
      return undefined;
    }
  }
  return segments;
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Walks `segments` from `root`. A step only follows an own property of a truthy value, as jsonpath-plus's `_trace`
 * does: so `$.s.length` works on a non-empty string and an array, `$.o.toString` finds nothing, and a step from `0`,
 * `''`, `false` or `null` finds nothing.
 */
export function getPath(root: unknown, segments: PathSegments): unknown {
  let cur: unknown = root;
  for (let i = 0; i < segments.length; i++) {
    if (!cur || !hasOwn.call(cur, segments[i])) return undefined;
    cur = (cur as Record<string, unknown>)[segments[i]];
  }
  return cur;
}

/** Builds a getter for one parsed path, specialised for the common short paths. */
export function pathGetter(segments: PathSegments): (root: unknown) => unknown {
  if (segments.length === 0) return (root) => root;
  if (segments.length === 1) {
    const a = segments[0];
    return (root) => (root && hasOwn.call(root, a) ? (root as Record<string, unknown>)[a] : undefined);
  }
  if (segments.length === 2) {
    const [a, b] = segments;
    return (root) => {
      if (!root || !hasOwn.call(root, a)) return undefined;
      const x = (root as Record<string, unknown>)[a];
      return x && hasOwn.call(x, b) ? (x as Record<string, unknown>)[b] : undefined;
    };
  }
  return (root) => getPath(root, segments);
}

/** Accepts a plain top-level field name (`payerId`) or a path (`$.payer.id`); returns the path form. */
export function fieldToPath(field: string): string {
  return field.startsWith('$') ? field : `$.${field}`;
}
