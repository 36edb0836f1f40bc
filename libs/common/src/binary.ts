/**
 * Binary encoding of checkpoint state: little-endian doubles, unsigned LEB128 varints and length-prefixed UTF-8
 * strings, written into Node buffers. State snapshots are written on the thread that processes events; building an
 * object tree per key and `JSON.stringify`-ing it cost ~15-30 µs a key and most of the garbage of a checkpoint,
 * where writing the numbers straight into a buffer costs a few hundred nanoseconds and allocates nothing per key.
 */

/** Appends to a growable buffer; `take` hands out what was written and starts a new one (no copy). */
export class ByteWriter {
  #buf: Buffer;
  #pos = 0;

  readonly #initial: number;

  constructor(initialBytes = 64 * 1024) {
    this.#initial = Math.max(64, initialBytes);
    this.#buf = Buffer.allocUnsafe(this.#initial);
  }

  /** Bytes written since the last `take`. */
  get length(): number {
    return this.#pos;
  }

  #reserve(bytes: number): void {
    if (this.#pos + bytes <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + bytes) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }

  u8(value: number): void {
    this.#reserve(1);
    this.#buf[this.#pos++] = value;
  }

  /** Room for a u32 written later with `patchU32` (a length known once what follows is written); returns its offset. */
  reserveU32(): number {
    this.#reserve(4);
    this.#pos += 4;
    return this.#pos - 4;
  }

  patchU32(at: number, value: number): void {
    this.#buf.writeUInt32LE(value, at);
  }

  /** An unsigned integer below 2^53, 7 bits a byte. */
  varuint(value: number): void {
    this.#reserve(8);
    const buf = this.#buf;
    let pos = this.#pos;
    while (value >= 0x80) {
      buf[pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    buf[pos++] = value;
    this.#pos = pos;
  }

  f64(value: number): void {
    this.#reserve(8);
    this.#pos = this.#buf.writeDoubleLE(value, this.#pos);
  }

  /** A string as its UTF-8 byte length (varint) and bytes. */
  str(value: string): void {
    // At most 3 bytes per UTF-16 unit; the length byte is written after the bytes, when it is known.
    const max = value.length * 3;
    this.#reserve(max + 8);
    const buf = this.#buf;
    if (max < 0x80) {
      const n = buf.write(value, this.#pos + 1, 'utf8');
      buf[this.#pos] = n;
      this.#pos += 1 + n;
      return;
    }
    const n = Buffer.byteLength(value, 'utf8');
    this.varuint(n);
    this.#pos += this.#buf.write(value, this.#pos, 'utf8');
  }

  bytes(value: Uint8Array): void {
    this.#reserve(value.byteLength);
    this.#buf.set(value, this.#pos);
    this.#pos += value.byteLength;
  }

  /** Bytes held as a latin1 string (one char per byte, see `latin1Since`). */
  latin1(value: string): void {
    this.#reserve(value.length);
    this.#pos += this.#buf.write(value, this.#pos, 'latin1');
  }

  /**
   * The bytes from `start` to the end as a latin1 string: a compact copy that lives on the JS heap (one byte per char)
   * and is written back with `latin1`.
   */
  latin1Since(start: number): string {
    return this.#buf.toString('latin1', start, this.#pos);
  }

  /**
   * What was written since the last `take` or `reset`, as a view of the current buffer: valid until the next write or
   * `reset` (a later write may move the bytes to a larger buffer).
   */
  view(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }

  /**
   * Starts over in the same buffer. Buffers touched once cost nothing to write again, while fresh memory costs a page
   * fault per 4 KiB (on the VMs we measured, ~5 ms per MiB: 70x the write itself); a writer kept per partition and
   * reset at each checkpoint writes its snapshots into memory it already has.
   */
  reset(): void {
    // A buffer much larger than its last use (a full snapshot among incremental ones) is not kept for good.
    if (this.#buf.length > 4 * Math.max(this.#pos, this.#initial)) {
      this.#buf = Buffer.allocUnsafe(Math.max(this.#initial, 2 * this.#pos));
    }
    this.#pos = 0;
  }

  /** What was written, as a view of the current buffer; later writes go to a fresh one. */
  take(): Buffer {
    const out = this.#buf.subarray(0, this.#pos);
    this.#buf = Buffer.allocUnsafe(this.#initial);
    this.#pos = 0;
    return out;
  }
}

/** Reads what a {@link ByteWriter} wrote; throws a RangeError past the end. */
export class ByteReader {
  readonly #buf: Buffer;
  #pos: number;
  readonly #end: number;

  constructor(data: Uint8Array, start = 0, end = data.byteLength) {
    this.#buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.#pos = start;
    this.#end = end;
  }

  get done(): boolean {
    return this.#pos >= this.#end;
  }

  get position(): number {
    return this.#pos;
  }

  #need(bytes: number): void {
    if (this.#pos + bytes > this.#end) {
      throw new RangeError(`truncated data: ${bytes} more bytes wanted at ${this.#pos} of ${this.#end}`);
    }
  }

  u8(): number {
    this.#need(1);
    return this.#buf[this.#pos++];
  }

  u32(): number {
    this.#need(4);
    const value = this.#buf.readUInt32LE(this.#pos);
    this.#pos += 4;
    return value;
  }

  varuint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.u8();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
    throw new RangeError(`varint longer than 8 bytes at ${this.#pos}`);
  }

  f64(): number {
    this.#need(8);
    const value = this.#buf.readDoubleLE(this.#pos);
    this.#pos += 8;
    return value;
  }

  str(): string {
    const n = this.varuint();
    this.#need(n);
    const value = this.#buf.toString('utf8', this.#pos, this.#pos + n);
    this.#pos += n;
    return value;
  }

  /** The next `n` bytes, as a view. */
  bytes(n: number): Buffer {
    this.#need(n);
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }
}
