import type { HttpException } from '@nestjs/common';
import { parseReplayRequest } from './replay-request';

function fieldsOf(body: unknown): string[] {
  try {
    parseReplayRequest(body);
  } catch (error) {
    const response = (error as HttpException).getResponse() as { errors: Array<{ field: string }> };
    return response.errors.map((e) => e.field);
  }
  return [];
}

describe('parseReplayRequest', () => {
  it('accepts the three sources and the three rule modes', () => {
    expect(fieldsOf({ source: { type: 'time', from: 1, to: '2025-11-25T10:00:00Z' } })).toEqual([]);
    expect(fieldsOf({ source: { type: 'offsets', partitions: [{ partition: 0, from: '5', to: 9 }] } })).toEqual([]);
    expect(fieldsOf({ source: { type: 'upload', uploadId: 'abc-1' }, rules: { mode: 'current' } })).toEqual([]);
    expect(fieldsOf({ source: { type: 'time', from: 0 }, rules: { mode: 'versions', versions: { a: 2 } } })).toEqual(
      [],
    );
    expect(
      fieldsOf({ source: { type: 'time', from: 0 }, rules: { mode: 'candidate', rule: {}, withCurrent: true } }),
    ).toEqual([]);
  });

  it('names the field at fault inside the chosen variant', () => {
    expect(fieldsOf({})).toEqual(['/source']);
    expect(fieldsOf({ source: { type: 'kafka' } })).toEqual(['/source/type']);
    expect(fieldsOf({ source: { type: 'time', from: 'yesterday' } })).toContain('/source/from');
    expect(fieldsOf({ source: { type: 'offsets', partitions: [{ partition: -1, from: 'x' }] } })).toEqual(
      expect.arrayContaining(['/source/partitions/0/partition', '/source/partitions/0/from']),
    );
    expect(fieldsOf({ source: { type: 'time', from: 0 }, rules: { mode: 'versions', versions: { a: 0 } } })).toEqual([
      '/rules/versions/a',
    ]);
    expect(fieldsOf({ source: { type: 'time', from: 0 }, extra: 1 })).toEqual(['/extra']);
  });
});
