import type { RoutedKey } from './rule-set';

/** The parts of a route a {@link RoutedKeyMap} reads. */
export type RoutedKeyRef = Pick<RoutedKey, 'key' | 'groupBy' | 'values'>;

/**
 * Values per routing key (keyed state, a runtime's per-key bookkeeping), looked up from a route without hashing its
 * key text. A route's `key` is built per event (`cardId=` + the value, a string V8 must flatten, hash and compare with
 * the stored key's characters on every lookup), and one table holds the keys of every grouping. Here a single-field
 * grouping has its own table by the value's text: the event's own string, often already hashed, in a table of that
 * grouping's keys only (a thousand merchants stay in cache beside a hundred thousand cards). Groupings over several
 * fields go by key text. Two routes with the same `key` always find the same entry (a number and its decimal string
 * make the same key, and the same entry).
 */
export class RoutedKeyMap<T> {
  /** Single-field groupings: field -> the value as text (unescaped) -> entry. */
  readonly #byValue = new Map<string, Map<string, T>>();
  /** Everything else, by key text. */
  readonly #byKey = new Map<string, T>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(route: RoutedKeyRef): T | undefined {
    const values = route.values;
    if (values.length === 1) {
      const table = this.#byValue.get(route.groupBy[0]);
      if (table !== undefined) {
        const v = values[0];
        return table.get(typeof v === 'string' ? v : String(v));
      }
      if (byValueField(route.groupBy[0])) return undefined;
    }
    return this.#byKey.get(route.key);
  }

  set(route: RoutedKeyRef, value: T): void {
    const values = route.values;
    const table = values.length === 1 ? this.#tableOf(route.groupBy[0]) : undefined;
    if (table === undefined) {
      this.#put(this.#byKey, route.key, value);
      return;
    }
    const v = values[0];
    this.#put(table, typeof v === 'string' ? v : String(v), value);
  }

  /** The entry of a key text (what a runtime's timers and snapshots hold). */
  getKey(key: string): T | undefined {
    const split = splitKey(key);
    return split === undefined ? this.#byKey.get(key) : this.#byValue.get(split.field)?.get(split.value);
  }

  /** Sets by key text (a key restored from a snapshot, before any event has routed to it). */
  setKey(key: string, value: T): void {
    const split = splitKey(key);
    if (split === undefined) this.#put(this.#byKey, key, value);
    else this.#put(this.#tableOf(split.field) as Map<string, T>, split.value, value);
  }

  /** Deletes by key text. */
  delete(key: string): boolean {
    const split = splitKey(key);
    const deleted =
      split === undefined ? this.#byKey.delete(key) : this.#byValue.get(split.field)?.delete(split.value) === true;
    if (deleted) this.#size--;
    return deleted;
  }

  /** The table of a single-field grouping, made on first use; undefined for a field whose keys go by key text. */
  #tableOf(field: string): Map<string, T> | undefined {
    let table = this.#byValue.get(field);
    if (table === undefined && byValueField(field)) this.#byValue.set(field, (table = new Map()));
    return table;
  }

  #put(table: Map<string, T>, key: string, value: T): void {
    const before = table.size;
    table.set(key, value);
    this.#size += table.size - before;
  }

  clear(): void {
    this.#byValue.clear();
    this.#byKey.clear();
    this.#size = 0;
  }
}

/** A single-field key's field and (unescaped) value; undefined for a key of several fields. */
function splitKey(key: string): { field: string; value: string } | undefined {
  const eq = key.indexOf('=');
  const field = key.slice(0, eq);
  const text = key.slice(eq + 1);
  // Escaped values hold no `&` or `=`: either in the rest means several fields (or a field name with one).
  if (eq <= 0 || !byValueField(field) || text.includes('&') || text.includes('=')) return undefined;
  return { field, value: text.includes('%') ? decodeURIComponent(text) : text };
}

/** Whether a single-field grouping's keys can be split back into field and value (its name has no `=` or `&`). */
function byValueField(field: string): boolean {
  return !field.includes('=') && !field.includes('&');
}
