/**
 * A single-producer, single-consumer ring of variable-length messages in a SharedArrayBuffer: the channel between two
 * worker threads without a `postMessage` per frame (PERF-FACTS: ~1.2M events/s through a shared ring of binary
 * records against ~356k through MessagePort batches).
 *
 * Flow control is credit-based in Flink's sense, with bytes as the credit: the writer may only fill space the reader
 * has released, and the reader releases a message's space when the message has been processed, not when it has been
 * read. So the data in flight on one channel is bounded by the ring's capacity, and every pair of instances has its own
 * ring: a slow receiver holds back only the senders that feed it.
 *
 * Layout: the write position (`head`) and the release position (`tail`) as free-running int32 counters on separate
 * cache lines, then `capacity` bytes of data. A message is a little-endian u32 header (length, plus a flag for "a
 * fragment of a larger frame follows") and its bytes padded to 4. A message that does not fit before the end of the
 * data area is preceded by a wrap marker and written at offset 0; the skipped bytes count as used until released.
 */
export class SharedRing {
  /** Largest message the ring accepts: at most half the capacity, so that an empty ring always has room for it. */
  readonly maxMessage: number;
  readonly #ctrl: Int32Array;
  readonly #view: DataView;
  readonly #data: Uint8Array;
  readonly #capacity: number;
  readonly #mask: number;
  /** Writer side: next write position (only the writer moves head). */
  #head: number;
  /** Reader side: position after the last message read (may run ahead of the released tail). */
  #read: number;
  /** Reader side: the tail last stored. */
  #released: number;

  /** A fresh buffer for a ring of `capacity` bytes (rounded up to a power of two, at least 1 KiB). */
  static allocate(capacity: number): SharedArrayBuffer {
    let size = 1024;
    while (size < capacity) size *= 2;
    return new SharedArrayBuffer(DATA_OFFSET + size);
  }

  constructor(buffer: SharedArrayBuffer) {
    const capacity = buffer.byteLength - DATA_OFFSET;
    if (capacity < 1024 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`a ring needs a power-of-two data area of at least 1 KiB, got ${capacity} bytes`);
    }
    this.#ctrl = new Int32Array(buffer, 0, DATA_OFFSET / 4);
    this.#view = new DataView(buffer, DATA_OFFSET, capacity);
    this.#data = new Uint8Array(buffer, DATA_OFFSET, capacity);
    this.#capacity = capacity;
    this.#mask = capacity - 1;
    this.maxMessage = capacity / 2 - HEADER;
    this.#head = Atomics.load(this.#ctrl, HEAD);
    this.#read = Atomics.load(this.#ctrl, TAIL);
    this.#released = this.#read;
  }

  /** The data area, for reading a message where it lies (valid until the message is released). */
  get bytes(): Uint8Array {
    return this.#data;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Bytes written and not yet released (what the receiver holds or has not read). */
  get used(): number {
    return (Atomics.load(this.#ctrl, HEAD) - Atomics.load(this.#ctrl, TAIL)) | 0;
  }

  /**
   * Writer: appends `length` bytes of `source` as one message, or returns false when the released space does not hold
   * it yet (the caller keeps it and tries again after the reader has released something).
   */
  tryWrite(source: Uint8Array, length: number, more = false): boolean {
    if (length > this.maxMessage) throw new RangeError(`message of ${length} bytes exceeds ${this.maxMessage}`);
    const need = HEADER + ((length + 3) & ~3);
    let head = this.#head;
    const free = this.#capacity - ((head - Atomics.load(this.#ctrl, TAIL)) | 0);
    let offset = head & this.#mask;
    const toEnd = this.#capacity - offset;
    const skip = need > toEnd ? toEnd : 0;
    if (skip + need > free) return false;
    if (skip > 0) {
      // Positions are multiples of 4, so at least a header's room is left before the end for the marker.
      this.#view.setUint32(offset, WRAP, true);
      head = (head + skip) | 0;
      offset = 0;
    }
    this.#view.setUint32(offset, more ? (length | MORE) >>> 0 : length, true);
    this.#data.set(length === source.length ? source : source.subarray(0, length), offset + HEADER);
    this.#head = (head + need) | 0;
    // The store publishes the bytes written above: a reader that loads this head sees them (seq-cst atomics).
    Atomics.store(this.#ctrl, HEAD, this.#head);
    return true;
  }

  /**
   * Reader: the next unread message (its bytes are `bytes[offset, offset + length)`), or undefined when none is
   * there. `end` is the position to pass to {@link release} once the message has been processed.
   */
  next(): RingMessage | undefined {
    let read = this.#read;
    if (read === Atomics.load(this.#ctrl, HEAD)) return undefined;
    let offset = read & this.#mask;
    let header = this.#view.getUint32(offset, true);
    if (header === WRAP) {
      read = (read + this.#capacity - offset) | 0;
      offset = 0;
      header = this.#view.getUint32(0, true);
    }
    const length = header & LENGTH_MASK;
    this.#read = (read + HEADER + ((length + 3) & ~3)) | 0;
    return { offset: offset + HEADER, length, more: (header & MORE) !== 0, end: this.#read };
  }

  /**
   * Reader: gives back the room of every message up to `end`. Room is only ever given back, never taken again: a
   * release behind an earlier one (a fragment released on arrival before a frame still held) changes nothing.
   */
  release(end: number): void {
    if (((end - this.#released) | 0) <= 0) return;
    this.#released = end;
    Atomics.store(this.#ctrl, TAIL, end);
  }
}

/** A message in a {@link SharedRing}, as seen by the reader. */
export interface RingMessage {
  offset: number;
  length: number;
  /** This message is a fragment; the frame continues in the next message(s). */
  more: boolean;
  end: number;
}

/**
 * A counter a worker thread sleeps on (`Atomics.wait`) and others bump when they have written a frame for it or
 * released room it may be waiting for: one wake-up word per worker instead of a message per frame.
 */
export class Doorbell {
  readonly #word: Int32Array;

  static allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(8);
  }

  constructor(buffer: SharedArrayBuffer) {
    this.#word = new Int32Array(buffer, 0, 1);
  }

  /** The current count: read it before looking for work, and wait on it after finding none. */
  get value(): number {
    return Atomics.load(this.#word, 0);
  }

  ring(): void {
    Atomics.add(this.#word, 0, 1);
    Atomics.notify(this.#word, 0);
  }

  /**
   * Blocks the calling thread until the count differs from `seen` (returns at once if it already does) or `timeoutMs`
   * has passed. A blocking wait rather than `Atomics.waitAsync`: a futex wakes the thread as soon as a peer rings,
   * where an asynchronous waiter measured ~3 ms per 1 ms wait on a busy machine, which starved the pipeline. Keep the
   * timeout short: the thread's event loop (coordinator messages) waits meanwhile.
   */
  waitSync(seen: number, timeoutMs: number): void {
    Atomics.wait(this.#word, 0, seen, timeoutMs);
  }
}

const HEAD = 0;
/** Index of the tail in the control words: 64 bytes after the head, so that writer and reader do not share a line. */
const TAIL = 16;
const DATA_OFFSET = 128;
const HEADER = 4;
const WRAP = 0xffffffff;
const MORE = 0x40000000;
const LENGTH_MASK = 0x3fffffff;
