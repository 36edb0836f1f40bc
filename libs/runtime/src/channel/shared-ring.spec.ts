import fc from 'fast-check';
import type { DataFrame } from './data-frame';
import { RingInputChannel, RingOutputChannel } from './ring-channel';
import { Doorbell, SharedRing } from './shared-ring';

/** Bytes of message `n` of length `length`: recognizable, so that a misplaced or torn message shows. */
function pattern(n: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (n * 31 + i) & 0xff;
  return bytes;
}

describe('SharedRing', () => {
  it('delivers messages whole and in order, never holds more than its capacity, and refuses only when full', () => {
    // Operations: write a message of some length, read the next one, or release everything read so far.
    const op = fc.oneof(
      fc.record({ t: fc.constant('write' as const), length: fc.integer({ min: 0, max: 508 }) }),
      fc.constant({ t: 'read' as const }),
      fc.constant({ t: 'release' as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 50, maxLength: 400 }), (ops) => {
        const buffer = SharedRing.allocate(1024);
        const writer = new SharedRing(buffer);
        const reader = new SharedRing(buffer);
        const written: number[] = []; // lengths by message number
        let next = 0;
        let readUpTo = 0;
        let lastEnd: number | undefined;
        for (const o of ops) {
          if (o.t === 'write') {
            const before = writer.used;
            const ok = writer.tryWrite(pattern(written.length, o.length), o.length);
            const need = 4 + ((o.length + 3) & ~3);
            if (ok) written.push(o.length);
            // The room skipped by a wrap is shorter than the message, so a refusal means less than twice the
            // message's room was free: never on an empty ring.
            else expect(before).toBeGreaterThan(writer.capacity - 2 * need);
          } else if (o.t === 'read') {
            const m = reader.next();
            if (next === written.length) {
              expect(m).toBeUndefined();
              continue;
            }
            expect(m).toBeDefined();
            expect(m!.length).toBe(written[next]);
            expect([...reader.bytes.subarray(m!.offset, m!.offset + m!.length)]).toEqual([
              ...pattern(next, written[next]!),
            ]);
            lastEnd = m!.end;
            next++;
          } else if (lastEnd !== undefined) {
            reader.release(lastEnd);
            readUpTo = next;
          }
          expect(writer.used).toBeLessThanOrEqual(writer.capacity);
          expect(readUpTo).toBeLessThanOrEqual(next);
        }
      }),
    );
  });

  it('keeps released room released when an earlier message is released late', () => {
    const buffer = SharedRing.allocate(1024);
    const writer = new SharedRing(buffer);
    const reader = new SharedRing(buffer);
    writer.tryWrite(pattern(0, 100), 100);
    writer.tryWrite(pattern(1, 100), 100);
    const first = reader.next()!;
    const second = reader.next()!;
    reader.release(second.end);
    reader.release(first.end);
    expect(writer.used).toBe(0);
  });
});

function frameOf(ids: number[], payload = ''): DataFrame {
  return { r: ids.flatMap((id) => [`k${id}`, id % 128, id, { id, payload }]) };
}

describe('ring channels', () => {
  it('carry any sequence of frames in order, fragments included, while the receiver holds some of them', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            count: fc.integer({ min: 0, max: 20 }),
            // Up to 3 KiB per value: frames larger than the 2 KiB ring travel as fragments.
            payload: fc.nat({ max: 3000 }),
            hold: fc.boolean(),
          }),
          { maxLength: 40 },
        ),
        (frames) => {
          const buffer = SharedRing.allocate(2048);
          const bells = [new Doorbell(Doorbell.allocate()), new Doorbell(Doorbell.allocate())];
          const out = new RingOutputChannel(new SharedRing(buffer), bells[1]!, 1000);
          const received: DataFrame[] = [];
          const held: (() => void)[] = [];
          let holdNext = false;
          const input = new RingInputChannel(new SharedRing(buffer), bells[0]!, (frame, release) => {
            received.push(frame);
            if (holdNext) held.push(release);
            else release();
          });
          let id = 0;
          const sent: DataFrame[] = [];
          for (const f of frames) {
            const frame = frameOf(
              Array.from({ length: f.count }, () => id++),
              'x'.repeat(f.payload),
            );
            if (f.count % 3 === 0) frame.w = id;
            sent.push(frame);
            out.send(frame);
            holdNext = f.hold;
            input.poll();
            // Held frames are let go in order, some time later, as barrier alignment would.
            if (held.length > 2) held.splice(0, 2).forEach((r) => r());
            out.flush();
          }
          for (let i = 0; i < 1000 && received.length < sent.length; i++) {
            held.splice(0).forEach((r) => r());
            out.flush();
            input.poll();
          }
          expect(received).toEqual(sent);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('back-pressures a sender whose receiver holds its frames, and not the channel to another receiver', () => {
    const bells = [0, 1, 2].map(() => new Doorbell(Doorbell.allocate()));
    const toSlow = SharedRing.allocate(4096);
    const toFast = SharedRing.allocate(4096);
    const slowOut = new RingOutputChannel(new SharedRing(toSlow), bells[1]!, 2);
    const fastOut = new RingOutputChannel(new SharedRing(toFast), bells[2]!, 2);
    const held: (() => void)[] = [];
    let slowFrames = 0;
    let fastFrames = 0;
    const slowIn = new RingInputChannel(new SharedRing(toSlow), bells[0]!, (_f, release) => {
      slowFrames++;
      held.push(release);
    });
    const fastIn = new RingInputChannel(new SharedRing(toFast), bells[0]!, (_f, release) => {
      fastFrames++;
      release();
    });
    const frame = frameOf([1, 2, 3, 4, 5, 6, 7, 8], 'y'.repeat(40));
    for (let i = 0; i < 200; i++) {
      if (!slowOut.backlogged) slowOut.send(frame);
      fastOut.send(frame);
      slowIn.poll();
      fastIn.poll();
    }
    // The slow receiver holds at most a ring's worth; its sender stopped with a full backlog.
    expect(slowOut.backlogged).toBe(true);
    expect(slowFrames).toBeLessThan(20);
    expect(new SharedRing(toSlow).used).toBeLessThanOrEqual(4096);
    // The other channel of the same sender never waited.
    expect(fastFrames).toBe(200);
    expect(fastOut.backlogged).toBe(false);
    // Released frames give the room back and the backlog drains.
    const before = slowFrames;
    held.splice(0).forEach((r) => r());
    slowOut.flush();
    slowIn.poll();
    expect(slowFrames).toBe(before + 2);
    expect(slowOut.backlogged).toBe(false);
  });

  it('lets a waiter through once rung, and holds it until the timeout otherwise', () => {
    const bell = new Doorbell(Doorbell.allocate());
    const seen = bell.value;
    let t0 = performance.now();
    bell.waitSync(seen, 20);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
    bell.ring();
    t0 = performance.now();
    bell.waitSync(seen, 10_000);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(bell.value).toBe(seen + 1);
  });
});
