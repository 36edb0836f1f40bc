/** How a source derives watermarks from record timestamps. */
export interface WatermarkStrategy {
  /** Records may arrive this much out of order (Flink's `forBoundedOutOfOrderness`). @defaultValue 0 */
  outOfOrdernessMs?: number;
  /**
   * A split that has had no record for this long (processing time) stops holding the watermark back
   * (Flink's `withIdleness`). @defaultValue undefined (never idle)
   */
  idleTimeoutMs?: number;
}

/** Watermark of a stream with no data yet (finite, so that it survives JSON in channel frames). */
export const MIN_WATERMARK = -Number.MAX_SAFE_INTEGER;
/** Watermark at the end of a bounded input: fires every event-time timer. */
export const MAX_WATERMARK = Number.MAX_SAFE_INTEGER;

interface SplitClock {
  maxTimestamp: number;
  lastRecordAt: number;
  finished: boolean;
}

/**
 * Per-split watermarks of one source subtask, combined as the minimum over active splits (Flink's
 * `WatermarkOutputMultiplexer`): idle and finished splits are left out; if every split is idle the subtask is idle.
 */
export class WatermarkTracker {
  readonly #bound: number;
  readonly #idleMs: number;
  readonly #splits = new Map<string, SplitClock>();

  constructor(strategy: WatermarkStrategy = {}) {
    this.#bound = strategy.outOfOrdernessMs ?? 0;
    this.#idleMs = strategy.idleTimeoutMs ?? Infinity;
  }

  addSplit(split: string, now: number): void {
    if (!this.#splits.has(split)) {
      this.#splits.set(split, { maxTimestamp: MIN_WATERMARK, lastRecordAt: now, finished: false });
    }
  }

  onRecord(split: string, timestamp: number, now: number): void {
    let s = this.#splits.get(split);
    if (!s) this.#splits.set(split, (s = { maxTimestamp: MIN_WATERMARK, lastRecordAt: now, finished: false }));
    if (timestamp > s.maxTimestamp) s.maxTimestamp = timestamp;
    s.lastRecordAt = now;
  }

  finishSplit(split: string): void {
    const s = this.#splits.get(split);
    if (s) s.finished = true;
  }

  /** The combined watermark, or `undefined` when every unfinished split is idle (the subtask is idle). */
  current(now: number): number | undefined {
    let min = MAX_WATERMARK;
    let active = 0;
    let unfinished = 0;
    for (const s of this.#splits.values()) {
      if (s.finished) continue;
      unfinished++;
      if (now - s.lastRecordAt >= this.#idleMs) continue;
      active++;
      // Flink: a watermark t says "no more records with timestamp <= t", hence the - 1.
      const wm = s.maxTimestamp === MIN_WATERMARK ? MIN_WATERMARK : s.maxTimestamp - this.#bound - 1;
      if (wm < min) min = wm;
    }
    if (unfinished === 0) return MAX_WATERMARK;
    return active === 0 ? undefined : min;
  }
}
