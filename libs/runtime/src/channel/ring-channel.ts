import type { DataFrame } from './data-frame';
import { KeyedFrameDecoder, KeyedFrameEncoder, type RecordCodec } from './frame-codec';
import type { Doorbell, SharedRing } from './shared-ring';

/**
 * Sending end of a keyed channel over a {@link SharedRing}. A frame is encoded once into a reused buffer and copied
 * into the ring when the receiver has released room for it (its credit); otherwise it waits in a small backlog, and a
 * full backlog tells the source to stop reading (back-pressure), as {@link OutputChannel} does over a MessagePort.
 * A frame larger than half the ring travels as several fragments.
 */
export class RingOutputChannel {
  readonly #encoder: KeyedFrameEncoder;
  /** Messages waiting for room: encoded bytes (copies) and whether a fragment of the same frame follows. */
  readonly #backlog: { bytes: Uint8Array; more: boolean }[] = [];
  /** Frames (not fragments) in the backlog. */
  #backlogFrames = 0;
  #sent = 0;

  constructor(
    private readonly ring: SharedRing,
    /** Rung after every write, so that a sleeping receiver wakes up. */
    private readonly receiver: Doorbell,
    /** Frames that may wait for room before the producer is told to stop. */
    private readonly maxBacklog = 2,
    codec?: RecordCodec<unknown>,
  ) {
    this.#encoder = new KeyedFrameEncoder(codec);
  }

  /** Writes a frame into the ring, or queues it behind the frames already waiting. */
  send(frame: DataFrame): void {
    const bytes = this.#encoder.encode(frame);
    const max = this.ring.maxMessage;
    if (bytes.length <= max && this.#backlog.length === 0 && this.ring.tryWrite(bytes, bytes.length)) {
      this.#sent++;
      this.receiver.ring();
      return;
    }
    for (let start = 0; start === 0 || start < bytes.length; start += max) {
      const end = Math.min(bytes.length, start + max);
      this.#backlog.push({ bytes: bytes.slice(start, end), more: end < bytes.length });
    }
    this.#backlogFrames++;
    this.flush();
  }

  /** Moves waiting messages into the ring as far as its free room allows; true when the backlog is empty. */
  flush(): boolean {
    let wrote = false;
    while (this.#backlog.length > 0) {
      const m = this.#backlog[0]!;
      if (!this.ring.tryWrite(m.bytes, m.bytes.length, m.more)) break;
      this.#backlog.shift();
      wrote = true;
      if (!m.more) {
        this.#backlogFrames--;
        this.#sent++;
      }
    }
    if (wrote) this.receiver.ring();
    return this.#backlog.length === 0;
  }

  /** True when the producer should stop: the backlog is full. */
  get backlogged(): boolean {
    return this.#backlogFrames >= this.maxBacklog;
  }

  get framesSent(): number {
    return this.#sent;
  }
}

/**
 * Receiving end of a keyed channel over a {@link SharedRing}: {@link poll} decodes the frames that have arrived
 * straight from the ring and delivers each with a `release` that gives its room back to the sender once the frame is
 * processed. A frame held back (barrier alignment) keeps its room, so the sender can run ahead by at most the ring's
 * capacity.
 */
export class RingInputChannel {
  readonly #decoder: KeyedFrameDecoder;
  #received = 0;
  /** Fragments of a frame that has not fully arrived. */
  #fragments: Uint8Array[] = [];

  constructor(
    private readonly ring: SharedRing,
    /** Rung after every release, so that a sender waiting for room wakes up. */
    private readonly sender: Doorbell,
    private readonly deliver: (frame: DataFrame, release: () => void) => void,
    private readonly codec?: RecordCodec<unknown>,
  ) {
    this.#decoder = new KeyedFrameDecoder(ring.bytes, codec);
  }

  /** Delivers every frame that has arrived; returns how many. */
  poll(): number {
    let n = 0;
    for (let m = this.ring.next(); m; m = this.ring.next()) {
      if (m.more || this.#fragments.length > 0) {
        // Fragments are copied out and their room released at once: a frame larger than the ring could never
        // arrive otherwise. The copy bounds what the receiver holds to one frame.
        this.#fragments.push(this.ring.bytes.slice(m.offset, m.offset + m.length));
        this.#release(m.end);
        if (m.more) continue;
        const whole = Buffer.concat(this.#fragments);
        this.#fragments = [];
        this.#received++;
        n++;
        this.deliver(new KeyedFrameDecoder(whole, this.codec).decode(0), noop);
        continue;
      }
      const frame = this.#decoder.decode(m.offset);
      const end = m.end;
      let released = false;
      this.#received++;
      n++;
      this.deliver(frame, () => {
        if (released) return;
        released = true;
        this.#release(end);
      });
    }
    return n;
  }

  #release(end: number): void {
    this.ring.release(end);
    this.sender.ring();
  }

  get framesReceived(): number {
    return this.#received;
  }
}

function noop(): void {}
