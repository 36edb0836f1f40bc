import fc from 'fast-check';
import type { DecodedEvent, EmittedAlert } from '@cepheus/kafka';
import { ByteWriter } from '@cepheus/common';
import {
  compileRule,
  EXAMPLE_FACTS,
  FactRegistry,
  FRAUD_RULES,
  RuleEvaluator,
  SHAPES_RULES,
  generateFraud,
  generateShapes,
  type ExampleStream,
} from '@cepheus/rules';
import {
  decodeRulesPartitionSnapshot,
  RulesPartitionProcessor,
  type RulesPartitionState,
} from './rules-partition-processor';

function record(rule: unknown, offset = 0) {
  const id = (rule as { id: string }).id;
  return { ruleId: id, value: JSON.stringify(rule), offset: String(offset), timestamp: 0 };
}

function decoded(e: ExampleStream['events'][number], i: number): DecodedEvent {
  return {
    id: String(e.event.id),
    key: 'k',
    timestamp: e.timestamp,
    payload: e.event,
    partition: 0,
    offset: String(i),
  };
}

/** Drives the processor as the job does: each event, then the watermark at its time; restores midway when asked. */
function run(processor: RulesPartitionProcessor, stream: ExampleStream, restoreAt?: number): EmittedAlert[] {
  let state: RulesPartitionState = processor.createPartitionState();
  const alerts: EmittedAlert[] = [];
  stream.events.forEach((e, i) => {
    if (i === restoreAt) state = processor.restorePartition(processor.snapshotPartition(state));
    alerts.push(...processor.processEvent(state, decoded(e, i)));
    alerts.push(...processor.advanceWatermark(state, e.timestamp));
  });
  alerts.push(...processor.advanceWatermark(state, stream.endTime));
  return alerts;
}

function summary(alerts: EmittedAlert[]): string[] {
  return alerts
    .map((a) => {
      const events = a.body.events as Array<{ id: string }>;
      return `${String(a.body.ruleId)} ${a.key} ${events[events.length - 1].id}`;
    })
    .sort();
}

function expected(stream: ExampleStream): string[] {
  return stream.expected.map((e) => `${e.ruleId} ${e.key} ${e.lastEventId}`).sort();
}

/** Key -> encoded state of a partition snapshot (full or incremental), whatever the order the keys were written in. */
function byKey(bytes: Uint8Array): Record<string, unknown> {
  // Format 2 (binary) is what snapshots write now; the JSON format 1 is only read.
  expect(bytes[0]).not.toBe('{'.charCodeAt(0));
  return Object.fromEntries(decodeRulesPartitionSnapshot(bytes).keys);
}

/** A processor running the fraud rules, one partition state, and `feed(n)`: the next `n` events, each with its watermark. */
function fedFraudRules(stream: ExampleStream) {
  const processor = new RulesPartitionProcessor();
  FRAUD_RULES.forEach((rule, i) => processor.applyRule(record(rule, i)));
  const state = processor.createPartitionState();
  let i = 0;
  const feed = (n: number): void => {
    for (const end = Math.min(stream.events.length, i + n); i < end; i++) {
      processor.processEvent(state, decoded(stream.events[i], i));
      processor.advanceWatermark(state, stream.events[i].timestamp);
    }
  };
  return { processor, state, feed };
}

describe('RulesPartitionProcessor', () => {
  it('finds every planted shapes and fraud case, and the same after a snapshot/restore midway', () => {
    for (const [rules, stream] of [
      [SHAPES_RULES, generateShapes({ seed: 11 })],
      [FRAUD_RULES, generateFraud({ seed: 5, payments: 2000 })],
    ] as const) {
      const processor = new RulesPartitionProcessor();
      rules.forEach((rule, i) => expect(processor.applyRule(record(rule, i)).status).toBe('applied'));
      const straight = run(processor, stream);
      expect(summary(straight)).toEqual(expected(stream));
      const restored = run(processor, stream, Math.floor(stream.events.length / 2));
      expect(restored.map((a) => a.id)).toEqual(straight.map((a) => a.id));
    }
  });

  it('refuses a malformed rule with its field, keeps the running version, and gives equal digests for equal input', () => {
    const [rule] = SHAPES_RULES as Array<Record<string, unknown>>;
    const a = new RulesPartitionProcessor();
    const b = new RulesPartitionProcessor();
    for (const p of [a, b]) expect(p.applyRule(record(rule)).status).toBe('applied');
    const broken = { ...rule, version: 2, severity: 'apocalyptic' };
    const report = a.applyRule(record(broken, 1));
    expect(report.status).toBe('rejected');
    expect(report.errors?.map((e) => e.field)).toContain('/severity');
    expect(report.reason).toMatch(/v1 keeps running/);
    expect(a.describeRules()).toEqual([{ id: rule.id, version: 1, status: 'active', type: 'sequence' }]);
    expect(a.broadcastDigest()).toBe(b.broadcastDigest());

    expect(a.applyRule({ ruleId: 'other', value: JSON.stringify(rule), offset: '2', timestamp: 0 }).errors).toEqual([
      { field: '/id', reason: 'must equal the record key "other"' },
    ]);
    expect(a.applyRule(record({ ...rule, version: 1 })).status).toBe('rejected');
    expect(a.applyRule({ ruleId: 'x', value: '{nope', offset: '3', timestamp: 0 }).reason).toMatch(/not JSON/);
  });

  it('stops alerting when a rule is paused and drops its state when it is deleted', () => {
    const stream = generateShapes({ seed: 11 });
    const processor = new RulesPartitionProcessor();
    const [rule] = SHAPES_RULES as Array<Record<string, unknown>>;
    processor.applyRule(record(rule));
    processor.applyRule(record({ ...rule, version: 2, status: 'paused' }));
    expect(run(processor, stream)).toEqual([]);

    processor.applyRule(record({ ...rule, version: 3, status: 'active' }));
    const state = processor.createPartitionState();
    stream.events.slice(0, 50).forEach((e, i) => processor.processEvent(state, decoded(e, i)));
    expect(state.keys.size).toBeGreaterThan(0);
    expect(processor.applyRule({ ruleId: String(rule.id), value: null, offset: '9', timestamp: 0 }).status).toBe(
      'deleted',
    );
    processor.advanceWatermark(state, stream.events[50].timestamp);
    expect(state.keys.size).toBe(0);
    expect(processor.describeRules()).toEqual([]);
  });
});

describe('RulesPartitionProcessor wake-ups', () => {
  const stream = generateFraud({ seed: 7, payments: 400 });

  it('keeps each key no later than nextWakeUp, every key with its index entry, with watermarks per batch and a restore', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: stream.events.length }),
        (batch, restoreAt) => {
          const processor = new RulesPartitionProcessor();
          FRAUD_RULES.forEach((rule, i) => processor.applyRule(record(rule, i)));
          const evaluator = (processor as unknown as { evaluator: RuleEvaluator }).evaluator;
          let state = processor.createPartitionState();
          const check = (): void => {
            let pending = 0;
            for (const [key, keyState] of state.keys) {
              const entry = state.index.getKey(key);
              if (entry === undefined) throw new Error(`key ${key} has no index entry`);
              expect(entry.keyState).toBe(keyState);
              expect(entry.wakeUp).toBeLessThanOrEqual(evaluator.nextWakeUp(keyState) ?? Infinity);
              if (entry.wakeUp !== Infinity) pending++;
            }
            expect(state.index.size).toBe(state.keys.size);
            expect(state.wakeUps.size).toBe(pending);
          };
          stream.events.forEach((e, i) => {
            if (i === restoreAt) state = processor.restorePartition(processor.snapshotPartition(state));
            processor.processEvent(state, decoded(e, i));
            if (i % batch === batch - 1) processor.advanceWatermark(state, e.timestamp);
            if (i % 97 === 0) check();
          });
          processor.advanceWatermark(state, stream.endTime);
          check();
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('RulesPartitionProcessor sliced snapshots', () => {
  it.each([1, 7, 50])(
    'encodes the state as it was at the start while events go on changing it (%i keys a step)',
    (budget) => {
      const stream = generateFraud({ seed: 9, payments: 3000 });
      const processor = new RulesPartitionProcessor();
      FRAUD_RULES.forEach((rule, i) => processor.applyRule(record(rule, i)));
      const state = processor.createPartitionState();
      const half = Math.floor(stream.events.length / 2);
      const feed = (i: number): void => {
        processor.processEvent(state, decoded(stream.events[i], i));
        processor.advanceWatermark(state, stream.events[i].timestamp);
      };
      for (let i = 0; i < half; i++) feed(i);
      const atStart = processor.snapshotPartition(state);
      const snapshot = processor.beginSnapshot(state);
      let i = half;
      let steps = 0;
      // Events (new keys, changed keys, keys whose windows empty and go) between the slices of the snapshot.
      while (!snapshot.step(budget)) {
        for (let n = 0; n < 5 && i < stream.events.length; n++) feed(i++);
        steps++;
      }
      expect(steps).toBeGreaterThan(2);
      expect(i).toBeGreaterThan(half);
      expect(byKey(snapshot.bytes())).toEqual(byKey(atStart));
      expect(byKey(processor.snapshotPartition(state))).not.toEqual(byKey(atStart));
      // What it encoded restores to the state at the start: the rest of the stream gives the same alerts from there.
      const restored = processor.restorePartition(snapshot.bytes());
      const fromRestored: string[] = [];
      const fromStraight: string[] = [];
      const again = processor.restorePartition(atStart);
      for (let j = half; j < stream.events.length; j++) {
        for (const [s, out] of [
          [restored, fromRestored],
          [again, fromStraight],
        ] as const) {
          for (const a of processor.processEvent(s, decoded(stream.events[j], j))) out.push(a.id);
          for (const a of processor.advanceWatermark(s, stream.events[j].timestamp)) out.push(a.id);
        }
      }
      expect(fromRestored).toEqual(fromStraight);
    },
  );

  it('reuses the encodings of unchanged keys in the next snapshot, and none across a rule change', () => {
    const { processor, state, feed } = fedFraudRules(generateFraud({ seed: 4, payments: 3000 }));
    const snapshotWhileFeeding = (): Uint8Array => {
      const expected = processor.snapshotPartition(state);
      const snapshot = processor.beginSnapshot(state);
      while (!snapshot.step(5)) feed(3);
      expect(byKey(snapshot.bytes())).toEqual(byKey(expected));
      return snapshot.bytes();
    };
    feed(1000);
    snapshotWhileFeeding();
    const remembered = state.encoded.size;
    expect(remembered).toBeGreaterThan(0);
    feed(300);
    // Keys that changed lost their encoding; the others kept it.
    expect(state.encoded.size).toBeGreaterThan(0);
    expect(state.encoded.size).toBeLessThan(remembered);
    snapshotWhileFeeding();
    // A new rule version: encodings made under the old rules are not reused.
    const changed = { ...(FRAUD_RULES[0] as Record<string, unknown>), version: 2 };
    expect(processor.applyRule(record(changed, 99)).status).toBe('applied');
    const stale = state.encoded.size;
    expect(stale).toBeGreaterThan(0);
    snapshotWhileFeeding();
    feed(500);
    snapshotWhileFeeding();
  });

  it('refuses the bytes of an unfinished snapshot, and a step of one a newer snapshot replaced', () => {
    const processor = new RulesPartitionProcessor();
    FRAUD_RULES.forEach((rule, i) => processor.applyRule(record(rule, i)));
    const state = processor.createPartitionState();
    const stream = generateFraud({ seed: 2, payments: 200 });
    stream.events.forEach((e, i) => processor.processEvent(state, decoded(e, i)));
    const first = processor.beginSnapshot(state);
    expect(() => first.bytes()).toThrow(/not finished/);
    const second = processor.beginSnapshot(state);
    expect(() => first.step(10)).toThrow(/newer snapshot/);
    while (!second.step(10));
    expect(byKey(second.bytes())).toEqual(byKey(processor.snapshotPartition(state)));
  });
});

describe('RulesPartitionProcessor chained snapshots', () => {
  const stream = generateFraud({ seed: 21, payments: 2500 });

  /** One checkpoint: events before it, whether it may be incremental, its slice size, whether it commits. */
  const checkpointArb = fc.record({
    before: fc.integer({ min: 0, max: 300 }),
    incremental: fc.boolean(),
    budget: fc.integer({ min: 1, max: 40 }),
    commits: fc.boolean(),
  });

  it('a full snapshot and the confirmed incremental ones after it restore the state of the last cut', () => {
    fc.assert(
      fc.property(fc.array(checkpointArb, { minLength: 1, maxLength: 8 }), (checkpoints) => {
        const { processor, state, feed } = fedFraudRules(stream);
        let chain: Uint8Array[] = [];
        for (const c of checkpoints) {
          feed(c.before);
          const atCut = processor.snapshotPartition(state);
          const snapshot = processor.beginSnapshot(state, { incremental: c.incremental && chain.length > 0 });
          // The first snapshot of a state has no confirmed base: it is full whatever was asked.
          if (chain.length === 0) expect(snapshot.kind).toBe('full');
          while (!snapshot.step(c.budget)) feed(2);
          const bytes = snapshot.bytes();
          if (!c.commits) {
            snapshot.abandon();
            continue;
          }
          snapshot.confirm();
          chain = snapshot.kind === 'full' ? [bytes] : [...chain, bytes];
          const restored = processor.restorePartition(chain[0], chain.slice(1));
          const expected = processor.restorePartition(atCut);
          expect(byKey(processor.snapshotPartition(restored))).toEqual(byKey(processor.snapshotPartition(expected)));
        }
      }),
      { numRuns: 25 },
    );
  });

  it('an incremental snapshot holds only the keys changed since the confirmed one, and those gone', () => {
    const { processor, state, feed } = fedFraudRules(stream);
    feed(1500);
    const full = processor.beginSnapshot(state, { incremental: true });
    while (!full.step(100));
    full.confirm();
    const keysAtFull = Object.keys(byKey(full.bytes()));
    // Only the watermark moves: keys whose windows empty go, none is added.
    processor.advanceWatermark(state, stream.endTime + 86_400_000);
    const delta = processor.beginSnapshot(state, { incremental: true });
    expect(delta.kind).toBe('incremental');
    while (!delta.step(100));
    const parsed = decodeRulesPartitionSnapshot(delta.bytes());
    expect(parsed.incremental).toBe(true);
    expect(parsed.removed.length).toBeGreaterThan(0);
    expect(parsed.removed.length + parsed.keys.size).toBeLessThanOrEqual(keysAtFull.length);
    expect(state.keys.size).toBe(keysAtFull.length - parsed.removed.length);
    // A restore must start from a full snapshot.
    expect(() => processor.restorePartition(delta.bytes())).toThrow(/full snapshot/);
  });
  it('keeps no encodings while snapshots are incremental (a key is rarely unchanged until the next full one)', () => {
    const { processor, state, feed } = fedFraudRules(generateFraud({ seed: 4, payments: 1000 }));
    feed(600);
    const full = processor.beginSnapshot(state, { incremental: true });
    while (!full.step(50));
    full.confirm();
    // The job's first snapshot is full (nothing to chain on); once it asks for incremental ones, nothing is kept.
    feed(100);
    const delta = processor.beginSnapshot(state, { incremental: true });
    while (!delta.step(50));
    expect(delta.kind).toBe('incremental');
    expect(state.encoded.size).toBe(0);
  });

  it('writes into the writer it is given, after what the writer holds', () => {
    const { processor, state, feed } = fedFraudRules(generateFraud({ seed: 6, payments: 500 }));
    feed(400);
    const out = new ByteWriter(16);
    out.u8(0xee);
    const snapshot = processor.beginSnapshot(state, { out });
    while (!snapshot.step(10));
    const bytes = snapshot.bytes();
    expect(out.view()[0]).toBe(0xee);
    expect(Buffer.compare(out.view().subarray(1), bytes)).toBe(0);
    expect(byKey(bytes)).toEqual(byKey(processor.snapshotPartition(state)));
  });

  it('restores partition snapshots of format 1 (JSON), alone and under binary incremental ones', () => {
    const stream = generateFraud({ seed: 8, payments: 1500 });
    const { processor, state, feed } = fedFraudRules(stream);
    // What format 1 wrote: the evaluator's JSON-safe key states.
    const facts = new FactRegistry(EXAMPLE_FACTS);
    const evaluator = new RuleEvaluator(FRAUD_RULES.map((rule) => compileRule(rule, { facts })));
    const formatOne = (): Uint8Array =>
      Buffer.from(JSON.stringify({ v: 1, keys: [...state.keys].map(([key, s]) => [key, evaluator.snapshot(s)]) }));
    feed(800);
    const full = processor.beginSnapshot(state, { incremental: true });
    while (!full.step(100));
    full.confirm();
    const json = formatOne();
    expect(byKey(processor.snapshotPartition(processor.restorePartition(json)))).toEqual(byKey(full.bytes()));
    feed(400);
    const delta = processor.beginSnapshot(state, { incremental: true });
    while (!delta.step(100));
    expect(delta.kind).toBe('incremental');
    const restored = processor.restorePartition(json, [delta.bytes()]);
    expect(byKey(processor.snapshotPartition(restored))).toEqual(byKey(processor.snapshotPartition(state)));
  });

  it('refuses bytes that are not a partition snapshot', () => {
    const processor = new RulesPartitionProcessor();
    expect(() => processor.restorePartition(Buffer.from('garbage'))).toThrow(/not a rules partition snapshot/);
    expect(() => processor.restorePartition(Buffer.from([0x00, 0x43, 0x52, 0x53, 9, 0]))).toThrow(/version 9/);
  });
});
