import { FailedAuthLimiter } from './failed-auth-limiter';

describe('FailedAuthLimiter', () => {
  it('blocks an address once it used up its failures, until the window ends, and counts addresses apart', () => {
    let now = 1_000_000;
    const limiter = new FailedAuthLimiter(3, 60_000, () => now);
    expect(limiter.recordFailure('a')).toBeUndefined();
    expect(limiter.recordFailure('a')).toBeUndefined();
    expect(limiter.retryAfter('a')).toBeUndefined();
    expect(limiter.recordFailure('a')).toBe(60);
    now += 15_500;
    expect(limiter.retryAfter('a')).toBe(45);
    expect(limiter.retryAfter('b')).toBeUndefined();
    now += 44_500;
    expect(limiter.retryAfter('a')).toBeUndefined();
    expect(limiter.recordFailure('a')).toBeUndefined();
  });
});
