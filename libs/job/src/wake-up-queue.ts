/**
 * Keys by the event time at which they next need `advanceTime` (a window eviction, a `within` deadline). A binary
 * min-heap with lazy deletion: a key's entry counts only while it equals the key's current wake-up time, so that
 * moving the watermark touches the keys that are due, not every key of the partition.
 */
export class WakeUpQueue {
  private readonly times: number[] = [];
  private readonly keys: string[] = [];
  private readonly current = new Map<string, number>();

  get size(): number {
    return this.current.size;
  }

  /** Sets (or clears, with undefined) the wake-up time of a key. */
  set(key: string, time: number | undefined): void {
    if (time === undefined) {
      this.current.delete(key);
      return;
    }
    if (this.current.get(key) === time) return;
    this.current.set(key, time);
    this.push(time, key);
  }

  /** The wake-up time of a key, undefined when it has none. */
  get(key: string): number | undefined {
    return this.current.get(key);
  }

  /** Removes and returns the keys due at `time`, earliest first. */
  popDue(time: number): string[] {
    const due: string[] = [];
    while (this.times.length > 0 && this.times[0] <= time) {
      const [t, key] = this.pop();
      if (this.current.get(key) === t) {
        this.current.delete(key);
        due.push(key);
      }
    }
    return due;
  }

  private push(time: number, key: string): void {
    let i = this.times.length;
    this.times.push(time);
    this.keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.times[parent] <= this.times[i]) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private pop(): [number, string] {
    const top: [number, string] = [this.times[0], this.keys[0]];
    const lastTime = this.times.pop() as number;
    const lastKey = this.keys.pop() as string;
    if (this.times.length > 0) {
      this.times[0] = lastTime;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.times.length && this.times[l] < this.times[m]) m = l;
        if (r < this.times.length && this.times[r] < this.times[m]) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }

  private swap(a: number, b: number): void {
    [this.times[a], this.times[b]] = [this.times[b], this.times[a]];
    [this.keys[a], this.keys[b]] = [this.keys[b], this.keys[a]];
  }
}
