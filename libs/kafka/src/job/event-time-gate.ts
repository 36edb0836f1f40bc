/** What an event-time gate keeps across checkpoints. */
export interface EventTimeGateState<E> {
  watermark: number;
  maxTimestamp: number;
  buffer: E[];
}

const NO_TIME = Number.MIN_SAFE_INTEGER;

/**
 * Per-partition event time, as a Flink source with bounded out-of-orderness sees it: the watermark is the largest
 * event time seen minus the allowed disorder; events wait until the watermark reaches them and are released in
 * event-time order (equal times keep arrival order, so a replay releases the same sequence); an event behind the
 * watermark is late. The CEP library requires this order (its documented contract).
 */
export class EventTimeGate<E extends { timestamp: number }> {
  watermark = NO_TIME;
  maxTimestamp = NO_TIME;
  private buffer: E[] = [];

  constructor(private readonly outOfOrdernessMs: number) {}

  /** Takes an event; returns the events now released (maybe empty), or undefined when the event is late. */
  offer(event: E): E[] | undefined {
    if (event.timestamp < this.watermark) return undefined;
    if (event.timestamp > this.maxTimestamp) this.maxTimestamp = event.timestamp;
    const watermark = Math.max(this.watermark, this.maxTimestamp - this.outOfOrdernessMs);
    if (event.timestamp <= watermark && this.buffer.length === 0) {
      // The common in-order case: nothing waits, the event goes straight through.
      this.watermark = watermark;
      return [event];
    }
    this.buffer.push(event);
    return this.advanceTo(watermark);
  }

  /** Moves the watermark to `time` (e.g. the end of a bounded stream) and releases what it passes. */
  advanceTo(time: number): E[] {
    if (time < this.watermark) return [];
    this.watermark = time;
    if (this.buffer.length === 0) return [];
    const ready: E[] = [];
    const waiting: E[] = [];
    for (const event of this.buffer) (event.timestamp <= time ? ready : waiting).push(event);
    this.buffer = waiting;
    return ready.sort((a, b) => a.timestamp - b.timestamp);
  }

  snapshot(): EventTimeGateState<E> {
    return { watermark: this.watermark, maxTimestamp: this.maxTimestamp, buffer: [...this.buffer] };
  }

  restore(state: EventTimeGateState<E>): void {
    this.watermark = state.watermark;
    this.maxTimestamp = state.maxTimestamp;
    this.buffer = [...state.buffer];
  }
}
