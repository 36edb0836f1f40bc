import { prunableSnapshots } from './kafka-rule-job';

describe('prunableSnapshots', () => {
  it('keeps the committed snapshot, the retained older ones and newer ones; removes the rest of the full ones', () => {
    const stored = [10, 20, 30, 40, 50].map((offset) => ({ offset }));
    expect(prunableSnapshots(stored, 40, 2)).toEqual([10]);
    expect(prunableSnapshots(stored, 50, 1)).toEqual([10, 20, 30]);
  });

  it('keeps every snapshot a kept incremental one chains on, back to its full one', () => {
    // 10 full <- 20 <- 30 <- 40 (incremental); 50 full <- 60.
    const stored = [
      { offset: 10 },
      { offset: 20, parent: '10' },
      { offset: 30, parent: '20' },
      { offset: 40, parent: '30' },
      { offset: 50 },
      { offset: 60, parent: '50' },
    ];
    expect(prunableSnapshots(stored, 40, 0)).toEqual([]);
    expect(prunableSnapshots(stored, 60, 0)).toEqual([10, 20, 30, 40]);
    // Retaining one older snapshot (50) keeps nothing before it; retaining two (40, 50) keeps 40's chain.
    expect(prunableSnapshots(stored, 60, 1)).toEqual([10, 20, 30, 40]);
    expect(prunableSnapshots(stored, 60, 2)).toEqual([]);
  });

  it('keeps the chain of a pending snapshot newer than the committed one', () => {
    const stored = [{ offset: 10 }, { offset: 20 }, { offset: 30, parent: '10' }];
    expect(prunableSnapshots(stored, 20, 0)).toEqual([]);
  });
});
