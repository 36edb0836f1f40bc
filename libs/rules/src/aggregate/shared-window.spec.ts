import fc from 'fast-check';
import type { WindowValue } from './sliding-window';
import { ByteReader, ByteWriter } from '@cepheus/common';
import type { AggregateFunction } from '../model/rule';
import {
  addMember,
  admit,
  allocateSlot,
  compactWindow,
  createSharedWindow,
  evictSlot,
  findSlot,
  freeSlot,
  insertEvent,
  internName,
  readSharedWindow,
  restoreSharedWindow,
  slotAggregate,
  slotMembers,
  snapshotSharedWindow,
  writeSharedWindow,
  type SharedWindow,
  type SharedWindowSnapshot,
} from './shared-window';

const FUNCTIONS: AggregateFunction[] = ['count', 'sum', 'avg', 'min', 'max', 'distinctCount'];

function brute(fn: AggregateFunction, values: number[]): number | undefined {
  if (fn === 'count') return values.length;
  if (fn === 'distinctCount') return new Set(values).size;
  if (fn === 'sum') return values.reduce((a, b) => a + b, 0);
  if (values.length === 0) return undefined;
  if (fn === 'avg') return values.reduce((a, b) => a + b, 0) / values.length;
  return fn === 'min' ? Math.min(...values) : Math.max(...values);
}

describe('shared window', () => {
  it('gives every slot the aggregate of its own sliding window, with events shared and out of order', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dt: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 6 }) }, fc.integer({ min: -20, max: -1 })),
            x: fc.integer({ min: -4, max: 4 }),
            // Which of the two slots take the event.
            who: fc.constantFrom(1, 2, 3),
          }),
          { minLength: 1, maxLength: 200, size: 'max' },
        ),
        fc.constantFrom(...FUNCTIONS),
        fc.constantFrom(...FUNCTIONS),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 199 }),
        (events, fnA, fnB, windowA, windowB, snapshotAt) => {
          let w: SharedWindow = createSharedWindow();
          const slots = [
            { fn: fnA, windowMs: windowA, s: allocateSlot(w, internName('a'), internName('sa'), fnA, 'x') },
            { fn: fnB, windowMs: windowB, s: allocateSlot(w, internName('b'), internName('sb'), fnB, 'x') },
          ];
          const model = slots.map(() => ({ latest: -Infinity, accepted: [] as [number, number][] }));
          let time = 100;
          events.forEach(({ dt, x, who }, i) => {
            time = Math.max(0, time + dt);
            let index = -1;
            slots.forEach((slot, k) => {
              if ((who & (1 << k)) === 0) return;
              const m = model[k];
              const ok = admit(w, slot.s, slot.windowMs, time);
              expect(ok).toBe(time > m.latest - slot.windowMs);
              m.latest = Math.max(m.latest, time);
              if (!ok) return;
              m.accepted.push([time, x]);
              if (index < 0) index = insertEvent(w, time, `e${i}`);
              addMember(w, slot.s, index, x);
              evictSlot(w, slot.s, slot.windowMs, time);
            });
            compactWindow(w, false);
            if (i === snapshotAt) {
              // The binary form reads back as exactly the JSON-safe form; either restores the window.
              const out = new ByteWriter(64);
              writeSharedWindow(w, out);
              const reader = new ByteReader(out.take());
              const binary = readSharedWindow(reader);
              expect(reader.done).toBe(true);
              expect(binary).toEqual(snapshotSharedWindow(w));
              const data = snapshotAt % 2 === 0 ? binary : JSON.parse(JSON.stringify(snapshotSharedWindow(w)));
              w = restoreSharedWindow(data as SharedWindowSnapshot, () => ({ field: 'x' }));
            }
            slots.forEach((slot, k) => {
              const m = model[k];
              const live = m.accepted.filter(([t]) => t > m.latest - slot.windowMs);
              // Members in time order, equal times in arrival order, as a per-rule window keeps them.
              const ordered = [...live].sort((p, q) => p[0] - q[0]);
              expect(slotMembers(w, slot.s).t).toEqual(ordered.map(([t]) => t));
              const expected = brute(
                slot.fn,
                ordered.map(([, v]) => v),
              );
              // Integer values: sums are exact whatever the order of additions.
              expect(slotAggregate(w, slot.s, slot.fn)).toBe(expected);
            });
          });
        },
      ),
      { numRuns: 150 },
    );
  });

  it("finds each rule's slot by scan or by index as slots are allocated and freed", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ free: fc.boolean(), rule: fc.integer({ min: 0, max: 59 }), hint: fc.nat(70) }), {
          maxLength: 300,
        }),
        (ops) => {
          const w = createSharedWindow();
          const model = new Map<number, number>();
          const code = (r: number): number => internName(`slot-index-rule-${r}`);
          let time = 0;
          for (const { free, rule, hint } of ops) {
            const s = findSlot(w, code(rule), hint);
            expect(s).toBe(model.get(rule) ?? -1);
            if (free && s >= 0) {
              freeSlot(w, s);
              model.delete(rule);
            } else if (s < 0) {
              const t = allocateSlot(w, code(rule), internName('shape'), 'sum', 'x');
              expect([...model.values()]).not.toContain(t);
              model.set(rule, t);
              // Members too, so that freeing and widening move real data.
              admit(w, t, 10, ++time);
              addMember(w, t, insertEvent(w, time, `e${time}`), rule);
            }
            for (const [r, slot] of model) expect(findSlot(w, code(r), 0)).toBe(slot);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('counts distinct values as a Map does (0 and -0 together, NaN once), by scan and by counts alike', () => {
    const values: WindowValue[] = [0, -0, NaN, NaN, 'a', 'a', null, '0'];
    const w = createSharedWindow();
    const s = allocateSlot(w, internName('distinct'), internName('shape'), 'distinctCount', 'x');
    values.forEach((x, i) => {
      expect(admit(w, s, 1000, i)).toBe(true);
      addMember(w, s, insertEvent(w, i, `e${i}`), x);
      // Below eight members the aggregate is a scan of them; from the eighth on it is the kept counts.
      expect(slotAggregate(w, s, 'distinctCount')).toBe(new Map(values.slice(0, i + 1).map((v) => [v, 1])).size);
    });
  });
});
