import { MAX_WATERMARK, MIN_WATERMARK, WatermarkTracker } from './watermark-tracker';

describe('WatermarkTracker', () => {
  it('takes the minimum over splits, minus the out-of-orderness bound', () => {
    const t = new WatermarkTracker({ outOfOrdernessMs: 10 });
    t.addSplit('a', 0);
    t.addSplit('b', 0);
    expect(t.current(0)).toBe(MIN_WATERMARK);
    t.onRecord('a', 100, 0);
    t.onRecord('a', 90, 0);
    t.onRecord('b', 50, 0);
    expect(t.current(0)).toBe(39);
  });

  it('leaves idle splits out after the idle timeout, and reports a fully idle subtask as undefined', () => {
    const t = new WatermarkTracker({ outOfOrdernessMs: 0, idleTimeoutMs: 100 });
    t.addSplit('a', 0);
    t.addSplit('b', 0);
    t.onRecord('a', 500, 50);
    t.onRecord('b', 20, 10);
    expect(t.current(60)).toBe(19);
    // b has been silent for 100 ms: only a counts.
    expect(t.current(110)).toBe(499);
    // Both silent: idle.
    expect(t.current(200)).toBeUndefined();
    // b speaks again and holds the watermark back again.
    t.onRecord('b', 30, 201);
    expect(t.current(201)).toBe(29);
  });

  it('ignores finished splits and ends at the maximum when all are finished', () => {
    const t = new WatermarkTracker();
    t.addSplit('a', 0);
    t.addSplit('b', 0);
    t.onRecord('a', 10, 0);
    t.onRecord('b', 5, 0);
    t.finishSplit('b');
    expect(t.current(0)).toBe(9);
    t.finishSplit('a');
    expect(t.current(0)).toBe(MAX_WATERMARK);
  });
});
