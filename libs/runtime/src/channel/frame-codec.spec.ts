import fc from 'fast-check';
import type { DataFrame } from './data-frame';
import { decodeKeyedFrame, encodeKeyedFrame, type RecordCodec } from './frame-codec';

const record = fc.tuple(
  fc.string({ unit: 'grapheme' }),
  fc.integer({ min: 0, max: 32767 }),
  fc.double({ noNaN: true }),
  fc.jsonValue(),
);

describe('keyed frame codec', () => {
  it('round-trips records (any unicode key, any JSON value) and control fields', () => {
    fc.assert(
      fc.property(
        fc.array(record, { maxLength: 30 }),
        fc.option(fc.integer()),
        fc.option(
          fc.tuple(fc.integer({ min: 1, max: 1e9 }), fc.constantFrom('checkpoint' as const, 'savepoint' as const)),
        ),
        fc.boolean(),
        fc.boolean(),
        (records, w, b, end, idle) => {
          const frame: DataFrame = { r: records.flat() };
          if (w !== null) frame.w = w;
          if (b !== null) frame.b = b;
          if (end) frame.end = true;
          if (idle) frame.idle = true;
          const back = decodeKeyedFrame(encodeKeyedFrame(frame));
          // Keys, key groups and timestamps are binary and exact (even -0); values travel as JSON.
          const expected = {
            ...frame,
            r: records.flatMap(([k, kg, ts, v]) => [k, kg, ts, JSON.parse(JSON.stringify(v))]),
          };
          expect(back).toEqual(expected);
        },
      ),
    );
  });

  it('uses a record codec when given one', () => {
    const codec: RecordCodec<{ id: string; amount: number }> = {
      write: (v, out) => {
        out.string(v.id);
        out.f64(v.amount);
        out.u32(7);
      },
      read: (input) => {
        const v = { id: input.string(), amount: input.f64() };
        expect(input.u32()).toBe(7);
        return v;
      },
    };
    const frame: DataFrame = {
      r: ['κ', 3, 10, { id: 'ü-1', amount: 2.5 }, 'b', 4, 11, { id: 'x'.repeat(40), amount: -1 }],
    };
    const c = codec as RecordCodec<unknown>;
    expect(decodeKeyedFrame(encodeKeyedFrame(frame, c), c)).toEqual(frame);
  });
});
