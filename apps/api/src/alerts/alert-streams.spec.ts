import { HttpException } from '@nestjs/common';
import { AlertStreams } from './alert-streams';

function statusOf(run: () => unknown): number | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof HttpException ? error.getStatus() : undefined;
  }
  return undefined;
}

describe('AlertStreams', () => {
  it('refuses a stream past the per-key limit with 429, and counts a closed one once', () => {
    const streams = new AlertStreams(2, 10);
    const first = streams.open('a');
    streams.open('a');
    expect(statusOf(() => streams.open('a'))).toBe(429);
    streams.open('b');
    first();
    first();
    expect(streams.count('a')).toBe(1);
    expect(streams.count()).toBe(2);
    expect(statusOf(() => streams.open('a'))).toBeUndefined();
  });

  it('refuses a stream past the total limit, whichever key asks', () => {
    const streams = new AlertStreams(5, 2);
    streams.open('a');
    streams.open('b');
    expect(statusOf(() => streams.open('c'))).toBe(429);
  });
});
