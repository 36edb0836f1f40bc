import type { FrameReader, FrameWriter } from './frame-fields';

const utf16 = new TextDecoder('utf-16le');

/** Little-endian binary writer that grows its buffer; also the keyed-state checkpoint encoder's. */
export class ByteWriter implements FrameWriter {
  buf: ArrayBuffer;
  view: DataView;
  /** The same bytes as `view`: byte stores through a typed array are cheaper than through a DataView. */
  bytes: Uint8Array;
  pos = 0;
  constructor(size: number) {
    this.buf = new ArrayBuffer(size);
    this.view = new DataView(this.buf);
    this.bytes = new Uint8Array(this.buf);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.pos + n) size *= 2;
    const next = new ArrayBuffer(size);
    new Uint8Array(next).set(new Uint8Array(this.buf, 0, this.pos));
    this.buf = next;
    this.view = new DataView(next);
    this.bytes = new Uint8Array(next);
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
  u8(v: number): void {
    this.ensure(1);
    this.bytes[this.pos++] = v;
  }
  /** Raw bytes, as they are. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.bytes.set(bytes, this.pos);
    this.pos += bytes.length;
  }
  i32(v: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, v, true);
    this.pos += 4;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  string(s: string): void {
    const n = s.length;
    this.ensure(4 + 2 * n);
    const view = this.view;
    const bytes = this.bytes;
    const start = this.pos + 4;
    // Latin-1 (one byte per unit) when every unit fits, which is the common case for keys and ids; else UTF-16 code
    // units as they are (high bit of the length set). No encoding step, exact for every string.
    let p = start;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) break;
      bytes[p++] = c;
    }
    if (i === n) {
      view.setUint32(this.pos, n, true);
      this.pos = p;
      return;
    }
    p = start;
    for (i = 0; i < n; i++, p += 2) view.setUint16(p, s.charCodeAt(i), true);
    view.setUint32(this.pos, (n | 0x80000000) >>> 0, true);
    this.pos = p;
  }
}

/** Reads what a {@link ByteWriter} wrote. */
export class ByteReader implements FrameReader {
  constructor(
    readonly view: DataView,
    readonly bytes: Buffer,
    public pos: number,
  ) {}
  f64(): number {
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  u8(): number {
    return this.bytes[this.pos++]!;
  }
  i32(): number {
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u32(): number {
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  string(): string {
    const header = this.u32();
    const start = this.pos;
    if ((header & 0x80000000) === 0) {
      this.pos += header;
      if (header > 16) return this.bytes.toString('latin1', start, start + header);
      // Short strings (keys, ids): char by char beats a native call's fixed cost.
      const b = this.bytes;
      let s = '';
      for (let p = start; p < start + header; p++) s += String.fromCharCode(b[p]!);
      return s;
    }
    const n = header & 0x7fffffff;
    this.pos += 2 * n;
    // A copy: the bytes may lie in shared memory (a ring), which TextDecoder need not accept.
    return utf16.decode(Uint8Array.prototype.slice.call(this.bytes, start, start + 2 * n));
  }
}
