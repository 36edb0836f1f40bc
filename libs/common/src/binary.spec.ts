import fc from 'fast-check';
import { ByteReader, ByteWriter } from './binary';

type Op =
  | { kind: 'u8'; value: number }
  | { kind: 'u32'; value: number }
  | { kind: 'varuint'; value: number }
  | { kind: 'f64'; value: number }
  | { kind: 'str'; value: string }
  | { kind: 'bytes'; value: Uint8Array };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('u8' as const), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('u32' as const), value: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ kind: fc.constant('varuint' as const), value: fc.oneof(fc.nat(300), fc.maxSafeNat()) }),
  fc.record({ kind: fc.constant('f64' as const), value: fc.double() }),
  // Short strings take the one-byte length path, long ones (and any non-ASCII text) the measured one.
  fc.record({
    kind: fc.constant('str' as const),
    value: fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ minLength: 40, maxLength: 300 })),
  }),
  fc.record({ kind: fc.constant('bytes' as const), value: fc.uint8Array({ maxLength: 100 }) }),
);

function write(out: ByteWriter, o: Op): void {
  switch (o.kind) {
    case 'u32': {
      const at = out.reserveU32();
      out.patchU32(at, o.value);
      return;
    }
    case 'bytes':
      out.varuint(o.value.length);
      out.bytes(o.value);
      return;
    default:
      (out[o.kind] as (value: number | string) => void).call(out, o.value);
  }
}

function read(r: ByteReader, o: Op): unknown {
  switch (o.kind) {
    case 'bytes':
      return new Uint8Array(r.bytes(r.varuint()));
    default:
      return r[o.kind]();
  }
}

describe('ByteWriter / ByteReader', () => {
  it('read back what was written, whatever the values and however the buffer grew', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 128 }), (ops, initial) => {
        const out = new ByteWriter(initial);
        for (const o of ops) write(out, o);
        const r = new ByteReader(out.take());
        for (const o of ops) expect(read(r, o)).toEqual(o.value);
        expect(r.done).toBe(true);
      }),
    );
  });

  it('refuses to read past the end', () => {
    const out = new ByteWriter();
    out.str('hello');
    const bytes = out.take();
    expect(() => new ByteReader(bytes.subarray(0, 3)).str()).toThrow(RangeError);
    expect(() => new ByteReader(Buffer.from([0x80, 0x80])).varuint()).toThrow(/truncated/);
    expect(() => new ByteReader(Buffer.alloc(3)).f64()).toThrow(RangeError);
  });

  it('keeps bytes as latin1 strings and writes them back unchanged', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (data) => {
        const out = new ByteWriter(16);
        out.u8(7);
        out.bytes(data);
        const kept = out.latin1Since(1);
        const again = new ByteWriter(16);
        again.latin1(kept);
        expect(new Uint8Array(again.view())).toEqual(data);
      }),
    );
  });

  it('reset writes over the same buffer, and gives back a buffer far larger than its last use', () => {
    // Sizes above Node's 4 KiB pool threshold, so that every buffer has an ArrayBuffer of its own.
    const out = new ByteWriter(8192);
    out.bytes(new Uint8Array(40_000).fill(1));
    const before = out.view();
    out.reset();
    // 40,000 bytes used of 64 KiB: kept.
    out.u8(2);
    expect(out.view().buffer).toBe(before.buffer);
    expect(out.view()).toEqual(Buffer.from([2]));
    // 1 byte used of 64 KiB: the next reset shrinks it.
    out.reset();
    out.u8(3);
    expect(out.view().buffer).not.toBe(before.buffer);
    expect(out.view()).toEqual(Buffer.from([3]));
  });

  it('take hands out what was written and starts a fresh buffer', () => {
    const out = new ByteWriter(64);
    out.u8(1);
    const first = out.take();
    out.u8(2);
    expect(first).toEqual(Buffer.from([1]));
    expect(out.take()).toEqual(Buffer.from([2]));
    expect(out.length).toBe(0);
  });
});
