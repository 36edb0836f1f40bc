/** What a {@link WakeUpQueue} orders: anything that carries its own wake-up time. */
export interface WakeUpItem {
  /** The item's time in its queue, Infinity when it has none. Written by the queue only. */
  wakeUp: number;
}

/**
 * Items (a partition's keys) by the event time at which they next need `advanceTime` (a window eviction, a `within`
 * deadline). A binary min-heap with lazy deletion: a heap entry counts only while it equals its item's `wakeUp`, so
 * that moving the watermark touches the items that are due, not every key of the partition. The time lives on the item
 * rather than in a table by key text: the processor holds each key's entry already, so neither setting a wake-up nor
 * taking a due key out needs a probe by key string among a partition's keys.
 */
export class WakeUpQueue<T extends WakeUpItem> {
  private readonly times: number[] = [];
  private readonly items: T[] = [];
  private pending = 0;

  /** Items with a wake-up time. */
  get size(): number {
    return this.pending;
  }

  /** Sets (or clears, with undefined or Infinity) the wake-up time of an item. */
  set(item: T, time: number | undefined): void {
    const next = time ?? Infinity;
    const before = item.wakeUp;
    if (before === next) return;
    item.wakeUp = next;
    if (next === Infinity) {
      this.pending--;
      return;
    }
    if (before === Infinity) this.pending++;
    this.push(next, item);
  }

  /** Removes and returns the items due at `time`, earliest first; their `wakeUp` is Infinity again. */
  popDue(time: number): T[] {
    const due: T[] = [];
    const times = this.times;
    while (times.length > 0 && times[0] <= time) {
      const t = times[0];
      const item = this.items[0];
      this.removeTop();
      if (item.wakeUp === t) {
        item.wakeUp = Infinity;
        this.pending--;
        due.push(item);
      }
    }
    return due;
  }

  // Sifts move a hole instead of swapping pairs: half the writes, on arrays too large for the cache.
  private push(time: number, item: T): void {
    const times = this.times;
    const items = this.items;
    let i = times.length;
    times.push(time);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const parentTime = times[parent];
      if (parentTime <= time) break;
      times[i] = parentTime;
      items[i] = items[parent];
      i = parent;
    }
    times[i] = time;
    items[i] = item;
  }

  private removeTop(): void {
    const times = this.times;
    const items = this.items;
    const lastTime = times.pop() as number;
    const lastItem = items.pop() as T;
    const n = times.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && times[r] < times[l] ? r : l;
      if (times[m] >= lastTime) break;
      times[i] = times[m];
      items[i] = items[m];
      i = m;
    }
    times[i] = lastTime;
    items[i] = lastItem;
  }
}
