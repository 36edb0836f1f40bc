import fc from 'fast-check';
import { assignToKeyGroup, instanceForKeyGroup, keyGroupRangeForInstance, murmurHash } from './key-group';
import { KeyedStateBackend, decodeKeyGroupState } from './keyed-state-backend';
import { listState, mapState, valueState } from './state-descriptor';

describe('key groups', () => {
  it('covers [0, maxParallelism) with contiguous, disjoint ranges, consistent with instanceForKeyGroup', () => {
    for (const maxP of [1, 7, 128]) {
      for (let p = 1; p <= Math.min(maxP, 9); p++) {
        let next = 0;
        for (let i = 0; i < p; i++) {
          const r = keyGroupRangeForInstance(maxP, p, i);
          expect(r.start).toBe(next);
          for (let kg = r.start; kg <= r.end; kg++) expect(instanceForKeyGroup(maxP, p, kg)).toBe(i);
          next = r.end + 1;
        }
        expect(next).toBe(maxP);
      }
    }
  });

  it('spreads keys evenly and deterministically', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16000; i++) counts[assignToKeyGroup(`card-${i}`, 16)]!++;
    expect(Math.min(...counts) / Math.max(...counts)).toBeGreaterThan(0.8);
    expect(murmurHash('abc')).toBe(murmurHash('abc'));
    expect(murmurHash('abc')).not.toBe(murmurHash('abd'));
  });
});

describe('KeyedStateBackend', () => {
  const full = { start: 0, end: 15 };

  it('keeps value, list and map state per key', () => {
    const b = new KeyedStateBackend(16, full, () => 0);
    const v = b.getValueState(valueState<number>('v', { defaultValue: 5 }));
    const l = b.getListState(listState<string>('l'));
    const m = b.getMapState(mapState<number>('m'));
    b.setCurrentKey('a');
    expect(v.value()).toBe(5);
    v.update(1);
    l.add('x');
    l.add('y');
    m.put('k', 1);
    b.setCurrentKey('b');
    expect(v.value()).toBe(5);
    expect(l.get()).toEqual([]);
    expect(m.get('k')).toBeUndefined();
    b.setCurrentKey('a');
    expect([v.value(), l.get(), m.get('k'), m.has('k')]).toEqual([1, ['x', 'y'], 1, true]);
    m.remove('k');
    expect(b.keys('m')).toEqual([]);
  });

  it('expires entries after their TTL and leaves them out of snapshots', () => {
    let now = 1000;
    const b = new KeyedStateBackend(16, full, () => now);
    const v = b.getValueState(valueState<number>('v', { ttl: { ttlMs: 100 } }));
    b.setCurrentKey('a');
    v.update(1);
    b.setCurrentKey('b');
    v.update(2);
    now += 60;
    v.update(3); // refreshes b
    now += 60;
    const snap = b.snapshot();
    const entries = snap.keyGroups.flatMap((kg) => snap.keyGroupData(kg).v?.keys ?? []);
    expect(entries).toEqual(['b']);
    snap.release();
    b.setCurrentKey('a');
    expect(v.value()).toBeUndefined();
    b.setCurrentKey('b');
    expect(v.value()).toBe(3);
  });

  it('snapshots are copy-on-write: changes after the barrier, even in place, do not reach the snapshot', () => {
    const b = new KeyedStateBackend(16, full, () => 0);
    const v = b.getValueState(valueState<{ n: number }>('v'));
    const l = b.getListState(listState<number>('l'));
    b.setCurrentKey('a');
    v.update({ n: 1 });
    l.add(1);
    const snap = b.snapshot();
    const obj = v.value()!;
    obj.n = 99; // in-place mutation of the value read after the barrier
    v.update(obj);
    l.add(2);
    const kg = assignToKeyGroup('a', 16);
    const data = snap.keyGroupData(kg);
    expect(data.v!.values[0]).toEqual({ n: 1 });
    expect(data.l!.values[0]).toEqual([1]);
    snap.release();
    expect(v.value()).toEqual({ n: 99 });
    expect(l.get()).toEqual([1, 2]);
  });

  it('snapshots see the barrier-time state of every key: cleared, replaced and new keys after the barrier', () => {
    const b = new KeyedStateBackend(4, { start: 0, end: 3 }, () => 0);
    const v = b.getValueState(valueState<number>('v'));
    const m = b.getMapState(mapState<number>('m'));
    for (let i = 0; i < 40; i++) {
      b.setCurrentKey(`k${i}`);
      v.update(i);
      m.put('a', i);
    }
    const snap = b.snapshot();
    const first = snap.keyGroups[0]!;
    const before = snap.keyGroupData(first); // serialized before any change
    for (let i = 0; i < 40; i++) {
      b.setCurrentKey(`k${i}`);
      if (i % 3 === 0) v.clear();
      else v.update(-i);
      m.put('b', i);
      m.remove('a');
    }
    b.setCurrentKey('new-key');
    v.update(1000);
    const all = new Map<string, unknown>();
    const maps = new Map<string, unknown>();
    for (const kg of snap.keyGroups) {
      const data = kg === first ? before : snap.keyGroupData(kg);
      data.v?.keys.forEach((key, i) => all.set(key, data.v!.values[i]));
      data.m?.keys.forEach((key, i) => maps.set(key, data.m!.values[i]));
    }
    snap.release();
    expect(all.size).toBe(40);
    for (let i = 0; i < 40; i++) {
      expect(all.get(`k${i}`)).toBe(i);
      expect(maps.get(`k${i}`)).toEqual([['a', i]]);
    }
    // The live state moved on.
    b.setCurrentKey('k1');
    expect([v.value(), [...m.entries()]]).toEqual([-1, [['b', 1]]]);
    b.setCurrentKey('k3');
    expect(v.value()).toBeUndefined();
  });

  it('restores key groups into a backend with another range, and refuses keys it does not own', () => {
    const a = new KeyedStateBackend(16, full, () => 0);
    const v = a.getValueState(valueState<number>('v'));
    const m = a.getMapState(mapState<string>('m'));
    for (let i = 0; i < 50; i++) {
      a.setCurrentKey(`k${i}`);
      v.update(i);
      m.put('x', `v${i}`);
    }
    const snap = a.snapshot();
    const range = keyGroupRangeForInstance(16, 3, 1);
    const b = new KeyedStateBackend(16, range, () => 0);
    for (const kg of snap.keyGroups)
      if (kg >= range.start && kg <= range.end) b.restoreKeyGroup(kg, snap.keyGroupData(kg));
    const bv = b.getValueState(valueState<number>('v'));
    const bm = b.getMapState(mapState<string>('m'));
    let owned = 0;
    for (let i = 0; i < 50; i++) {
      const kg = assignToKeyGroup(`k${i}`, 16);
      if (kg < range.start || kg > range.end) {
        expect(() => b.setCurrentKey(`k${i}`)).toThrow();
        continue;
      }
      owned++;
      b.setCurrentKey(`k${i}`);
      expect(bv.value()).toBe(i);
      expect(bm.get('x')).toBe(`v${i}`);
    }
    expect(owned).toBeGreaterThan(5);
    expect(() => b.restoreKeyGroup(range.end + 1, {})).toThrow();
  });

  it('writes key groups in a binary form that restores every state, key, value and expiry exactly', () => {
    // Numbers of every kind (int32, -0, doubles, beyond int32) travel as numbers; other values as JSON.
    const number = fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.constant(-0), fc.constant(2 ** 40));
    const json = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);
    const entry = fc.record({
      key: fc.string({ unit: 'grapheme', maxLength: 12 }),
      value: fc.oneof(number, json),
      list: fc.array(json, { minLength: 1, maxLength: 3 }),
      map: fc.dictionary(fc.string({ maxLength: 4 }), json, { minKeys: 1, maxKeys: 3 }),
      ttl: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 40 }), (entries) => {
        const a = new KeyedStateBackend(8, { start: 0, end: 7 }, () => 500);
        const v = a.getValueState(valueState<unknown>('v'));
        const vt = a.getValueState(valueState<unknown>('vt', { ttl: { ttlMs: 1000 } }));
        const l = a.getListState(listState<unknown>('l'));
        const m = a.getMapState(mapState<unknown>('m'));
        for (const e of entries) {
          a.setCurrentKey(e.key);
          (e.ttl ? vt : v).update(e.value);
          l.update(e.list);
          for (const [k, x] of Object.entries(e.map)) m.put(k, x);
        }
        const columns = a.snapshot();
        const binary = a.snapshot();
        const b = new KeyedStateBackend(8, { start: 0, end: 7 }, () => 500);
        for (const kg of columns.keyGroups) {
          const bytes = binary.keyGroupBytes(kg);
          const expected = columns.keyGroupData(kg);
          // toEqual tells -0 from 0, so doubles must come back bit for bit.
          expect(decodeKeyGroupState(bytes)).toEqual(expected);
          b.restoreKeyGroupBytes(kg, bytes);
        }
        columns.release();
        binary.release();
        for (const name of ['v', 'vt', 'l', 'm']) expect(b.keys(name).sort()).toEqual(a.keys(name).sort());
        for (const [key] of a.keys('m')) {
          a.setCurrentKey(key);
          b.setCurrentKey(key);
          expect([...b.getMapState(mapState<unknown>('m')).entries()]).toEqual([...m.entries()]);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('every snapshot holds the state as of its barrier, whatever changes and serializations interleave', () => {
    type Op =
      | { t: 'set'; key: number; n: number }
      | { t: 'push'; key: number; n: number }
      | { t: 'clear'; key: number }
      | { t: 'snapshot' }
      | { t: 'serialize'; kg: number }
      | { t: 'release' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ t: fc.constant('set' as const), key: fc.nat(9), n: fc.integer() }),
      fc.record({ t: fc.constant('push' as const), key: fc.nat(9), n: fc.integer() }),
      fc.record({ t: fc.constant('clear' as const), key: fc.nat(9) }),
      fc.constant({ t: 'snapshot' as const }),
      fc.record({ t: fc.constant('serialize' as const), kg: fc.nat(3) }),
      fc.constant({ t: 'release' as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const b = new KeyedStateBackend(4, { start: 0, end: 3 }, () => 0);
        const v = b.getValueState(valueState<number>('v'));
        const l = b.getListState(listState<number>('l'));
        // The model: key -> [value, list].
        const model = new Map<string, [number | undefined, number[]]>();
        const open: { snap: ReturnType<KeyedStateBackend['snapshot']>; expected: string; got: Map<string, unknown> }[] =
          [];
        const dump = (m: Map<string, unknown>): string => JSON.stringify([...m].sort((x, y) => (x[0] < y[0] ? -1 : 1)));
        // Serializing a key group copies its values out, as the chunk writer encodes them to bytes at that moment.
        const collect = (s: (typeof open)[number], kg: number): void => {
          const data = structuredClone(s.snap.keyGroupData(kg));
          data.v?.keys.forEach((k, i) => s.got.set(`v:${k}`, data.v!.values[i]));
          data.l?.keys.forEach((k, i) => s.got.set(`l:${k}`, data.l!.values[i]));
        };
        const finish = (s: (typeof open)[number]): void => {
          for (let kg = 0; kg < 4; kg++) collect(s, kg);
          s.snap.release();
          expect(dump(s.got)).toBe(s.expected);
        };
        for (const o of ops) {
          if (o.t === 'snapshot') {
            const expected = new Map<string, unknown>();
            for (const [k, [n, list]] of model) {
              if (n !== undefined) expected.set(`v:${k}`, n);
              if (list.length > 0) expected.set(`l:${k}`, [...list]);
            }
            open.push({ snap: b.snapshot(), expected: dump(expected), got: new Map() });
          } else if (o.t === 'serialize') {
            for (const s of open) collect(s, o.kg);
          } else if (o.t === 'release') {
            const s = open.shift();
            if (s) finish(s);
          } else {
            const key = `k${o.key}`;
            b.setCurrentKey(key);
            const m = model.get(key) ?? [undefined, []];
            if (o.t === 'set') {
              v.update(o.n);
              m[0] = o.n;
            } else if (o.t === 'push') {
              l.add(o.n); // changes the stored list in place
              m[1] = [...m[1], o.n];
            } else {
              v.clear();
              l.clear();
              m[0] = undefined;
              m[1] = [];
            }
            model.set(key, m);
            expect(v.value()).toBe(m[0]);
            expect(l.get()).toEqual(m[1]);
          }
        }
        for (const s of open) finish(s);
      }),
      { numRuns: 300 },
    );
  });
});

describe('value state with a codec', () => {
  const full = { start: 0, end: 15 };
  /** A value that is not JSON-safe (a Map), written as `key=value` lines; counts its decodes. */
  class Tally {
    decodes = 0;
    readonly codec = {
      encode: (m: Map<string, number>) => Buffer.from([...m].map(([k, v]) => `${k}=${v}`).join('\n')),
      decode: (bytes: Uint8Array) => {
        this.decodes++;
        const text = Buffer.from(bytes).toString('utf8');
        return new Map(
          text === '' ? [] : text.split('\n').map((line) => [line.split('=')[0]!, Number(line.split('=')[1])]),
        );
      },
    };
  }

  it('checkpoints through the codec, restores bytes, and decodes a key only when it is read', () => {
    const tally = new Tally();
    const d = valueState<Map<string, number>>('m', { codec: tally.codec });
    const a = new KeyedStateBackend(16, full, () => 0);
    const va = a.getValueState(d);
    for (const key of ['x', 'y']) {
      a.setCurrentKey(key);
      va.update(new Map([[key, key.length]]));
    }
    const snap = a.snapshot();
    const bytes = new Map(snap.keyGroups.map((kg) => [kg, snap.keyGroupBytes(kg)]));
    snap.release();

    const b = new KeyedStateBackend(16, full, () => 0);
    for (const [kg, data] of bytes) b.restoreKeyGroupBytes(kg, data);
    // A restored key nobody reads is written back as the bytes it came with.
    const again = b.snapshot();
    expect(new Map(again.keyGroups.map((kg) => [kg, again.keyGroupBytes(kg)]))).toEqual(bytes);
    again.release();
    expect(tally.decodes).toBe(0);
    const vb = b.getValueState(d);
    b.setCurrentKey('x');
    expect(vb.value()).toEqual(new Map([['x', 1]]));
    expect(tally.decodes).toBe(1);
  });

  it('gives the live key a decoded copy while a snapshot still holds the barrier-time value', () => {
    const tally = new Tally();
    const b = new KeyedStateBackend(16, full, () => 0);
    const v = b.getValueState(valueState<Map<string, number>>('m', { codec: tally.codec }));
    b.setCurrentKey('k');
    v.update(new Map([['n', 1]]));
    const snap = b.snapshot();
    const live = v.value()!;
    live.set('n', 2); // changed in place after the barrier
    v.update(live);
    const kg = snap.keyGroups[0]!;
    const restored = new KeyedStateBackend(16, full, () => 0);
    restored.restoreKeyGroupBytes(kg, snap.keyGroupBytes(kg));
    snap.release();
    restored.setCurrentKey('k');
    expect(restored.getValueState(valueState<Map<string, number>>('m', { codec: tally.codec })).value()).toEqual(
      new Map([['n', 1]]),
    );
    expect(v.value()!.get('n')).toBe(2);
  });
});
