import { diffDocuments } from './rule-diff';

describe('diffDocuments', () => {
  it('lists changed, added and removed fields as JSON Pointers', () => {
    const before = { id: 'r', version: 1, status: 'active', tags: ['a', 'b'], alert: { severity: 'low' } };
    const after = { id: 'r', version: 2, status: 'paused', tags: ['a'], alert: { severity: 'low', title: 't' } };
    expect(diffDocuments(before, after)).toEqual([
      { path: '/alert/title', after: 't' },
      { path: '/status', before: 'active', after: 'paused' },
      { path: '/tags/1', before: 'b' },
      { path: '/version', before: 1, after: 2 },
    ]);
  });

  it('treats a created or deleted document as one change at the root', () => {
    expect(diffDocuments(undefined, { id: 'r' })).toEqual([{ path: '/', after: { id: 'r' } }]);
    expect(diffDocuments({ id: 'r' }, null)).toEqual([{ path: '/', before: { id: 'r' }, after: null }]);
  });
});
