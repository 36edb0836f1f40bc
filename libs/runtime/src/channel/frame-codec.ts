import { ByteReader, ByteWriter } from '../codec/byte-codec';
import type { FrameReader, FrameWriter } from '../codec/frame-fields';
import { KEYED_RECORD_WIDTH, type DataFrame } from './data-frame';

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
  const w = new ByteWriter(64 + (frame.r.length / KEYED_RECORD_WIDTH) * 48);
  writeKeyedFrame(w, frame, codec);
  // Copy to an exact-size buffer: transferring the oversized one would move its slack too.
  return w.buf.slice(0, w.pos);
}

/**
 * Encodes keyed frames into one reused buffer (no allocation per frame once it has grown to the frame size), for a
 * channel that copies the bytes on, such as a shared ring.
 */
export class KeyedFrameEncoder {
  readonly #writer = new ByteWriter(64 * 1024);

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
    return readKeyedFrame(new ByteReader(this.#view, this.#bytes, offset), this.codec);
  }
}

function writeKeyedFrame(w: ByteWriter, frame: DataFrame, codec: RecordCodec<unknown>): void {
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
  return readKeyedFrame(new ByteReader(new DataView(buf), Buffer.from(buf), 0), codec);
}

function readKeyedFrame(rd: ByteReader, codec: RecordCodec<unknown>): DataFrame {
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
