import { KEYED_RECORD_WIDTH, type DataFrame } from './data-frame';

/** Writes the fields of a record value into a channel frame (see {@link RecordCodec}). */
export interface FrameWriter {
  f64(value: number): void;
  u32(value: number): void;
  string(value: string): void;
}

/** Reads back what a {@link FrameWriter} wrote, in the same order. */
export interface FrameReader {
  f64(): number;
  u32(): number;
  string(): string;
}

/**
 * Binary form of the records of one keyed stream, for the channels between worker threads. Without a codec a value
 * crosses as JSON text; a codec writes its fields directly (about ten times cheaper for small records, PERF-FACTS:
 * crossing threads must cost less than the keyed work itself). Flink's `TypeSerializer` plays this part.
 */
export interface RecordCodec<T> {
  write(value: T, out: FrameWriter): void;
  read(input: FrameReader): T;
}

const KIND = ['checkpoint', 'savepoint'] as const;
const F_W = 1;
const F_IDLE = 2;
const F_BARRIER = 4;
const F_END = 8;
const utf16 = new TextDecoder('utf-16le');

class Writer implements FrameWriter {
  buf: ArrayBuffer;
  view: DataView;
  pos = 0;
  constructor(size: number) {
    this.buf = new ArrayBuffer(size);
    this.view = new DataView(this.buf);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.pos + n) size *= 2;
    const next = new ArrayBuffer(size);
    new Uint8Array(next).set(new Uint8Array(this.buf, 0, this.pos));
    this.buf = next;
    this.view = new DataView(next);
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
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
    const start = this.pos + 4;
    // Latin-1 (one byte per unit) when every unit fits, which is the common case for keys and ids; else UTF-16 code
    // units as they are (high bit of the length set). No encoding step, exact for every string.
    let p = start;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) break;
      view.setUint8(p++, c);
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

class Reader implements FrameReader {
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

const jsonCodec: RecordCodec<unknown> = {
  write: (v, out) => out.string(JSON.stringify(v) ?? 'null'),
  read: (input) => JSON.parse(input.string()) as unknown,
};

/**
 * Encodes a keyed frame into a fresh ArrayBuffer to be transferred (not copied) to the receiving thread. Layout:
 * flags u32, count u32, [watermark f64], [barrier id f64, kind u32], then per record key (string), key group u32,
 * timestamp f64 and the value through the codec.
 */
export function encodeKeyedFrame(frame: DataFrame, codec: RecordCodec<unknown> = jsonCodec): ArrayBuffer {
  const w = new Writer(64 + (frame.r.length / KEYED_RECORD_WIDTH) * 48);
  writeKeyedFrame(w, frame, codec);
  // Copy to an exact-size buffer: transferring the oversized one would move its slack too.
  return w.buf.slice(0, w.pos);
}

/**
 * Encodes keyed frames into one reused buffer (no allocation per frame once it has grown to the frame size), for a
 * channel that copies the bytes on, such as a shared ring.
 */
export class KeyedFrameEncoder {
  readonly #writer = new Writer(64 * 1024);

  constructor(private readonly codec: RecordCodec<unknown> = jsonCodec) {}

  /** The frame's bytes: valid until the next call. */
  encode(frame: DataFrame): Uint8Array {
    const w = this.#writer;
    w.pos = 0;
    writeKeyedFrame(w, frame, this.codec);
    return new Uint8Array(w.buf, 0, w.pos);
  }
}

/** Decodes keyed frames where they lie in one fixed buffer (a ring's data area), without copying them out first. */
export class KeyedFrameDecoder {
  readonly #view: DataView;
  readonly #bytes: Buffer;

  constructor(
    area: Uint8Array,
    private readonly codec: RecordCodec<unknown> = jsonCodec,
  ) {
    this.#view = new DataView(area.buffer, area.byteOffset, area.byteLength);
    this.#bytes = Buffer.from(area.buffer, area.byteOffset, area.byteLength);
  }

  decode(offset: number): DataFrame {
    return readKeyedFrame(new Reader(this.#view, this.#bytes, offset), this.codec);
  }
}

function writeKeyedFrame(w: Writer, frame: DataFrame, codec: RecordCodec<unknown>): void {
  const r = frame.r;
  const count = r.length / KEYED_RECORD_WIDTH;
  const flags =
    (frame.w !== undefined ? F_W : 0) | (frame.idle ? F_IDLE : 0) | (frame.b ? F_BARRIER : 0) | (frame.end ? F_END : 0);
  w.u32(flags);
  w.u32(count);
  if (frame.w !== undefined) w.f64(frame.w);
  if (frame.b) {
    w.f64(frame.b[0]);
    w.u32(frame.b[1] === 'savepoint' ? 1 : 0);
  }
  for (let i = 0; i < r.length; i += KEYED_RECORD_WIDTH) {
    w.string(r[i] as string);
    w.u32(r[i + 1] as number);
    w.f64(r[i + 2] as number);
    codec.write(r[i + 3], w);
  }
}

/** Decodes what {@link encodeKeyedFrame} wrote. */
export function decodeKeyedFrame(buf: ArrayBuffer, codec: RecordCodec<unknown> = jsonCodec): DataFrame {
  return readKeyedFrame(new Reader(new DataView(buf), Buffer.from(buf), 0), codec);
}

function readKeyedFrame(rd: Reader, codec: RecordCodec<unknown>): DataFrame {
  const flags = rd.u32();
  const count = rd.u32();
  const frame: DataFrame = { r: new Array<unknown>(count * KEYED_RECORD_WIDTH) };
  if (flags & F_W) frame.w = rd.f64();
  if (flags & F_BARRIER) frame.b = [rd.f64(), KIND[rd.u32()]!];
  if (flags & F_IDLE) frame.idle = true;
  if (flags & F_END) frame.end = true;
  const r = frame.r;
  for (let i = 0; i < r.length; i += KEYED_RECORD_WIDTH) {
    r[i] = rd.string();
    r[i + 1] = rd.u32();
    r[i + 2] = rd.f64();
    r[i + 3] = codec.read(rd);
  }
  return frame;
}
