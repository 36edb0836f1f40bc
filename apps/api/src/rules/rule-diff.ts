/** One changed field between two rule documents: a JSON Pointer and both values (absent = undefined). */
export interface FieldChange {
  path: string;
  before?: unknown;
  after?: unknown;
}

/** Field-level differences between two JSON documents, for the audit log. Arrays are compared index by index. */
export function diffDocuments(before: unknown, after: unknown, path = ''): FieldChange[] {
  if (isContainer(before) && isContainer(after) && Array.isArray(before) === Array.isArray(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    const changes: FieldChange[] = [];
    for (const key of [...keys].sort(naturalOrder)) {
      const b = (before as Record<string, unknown>)[key];
      const a = (after as Record<string, unknown>)[key];
      changes.push(...diffDocuments(b, a, `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`));
    }
    return changes;
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const change: FieldChange = { path: path || '/' };
  if (before !== undefined) change.before = before;
  if (after !== undefined) change.after = after;
  return [change];
}

function isContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  return value !== null && typeof value === 'object';
}

function naturalOrder(a: string, b: string): number {
  return /^\d+$/.test(a) && /^\d+$/.test(b) ? Number(a) - Number(b) : a.localeCompare(b);
}
