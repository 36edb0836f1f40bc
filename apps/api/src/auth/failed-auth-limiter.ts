/**
 * Failed logins per client address: after `limit` failures within a window, every request from that address is
 * refused (429) until the window ends, a right key included; otherwise the answer to a guess would still tell a
 * right key from a wrong one. In memory, so per API process, like the other limits.
 */
export class FailedAuthLimiter {
  readonly #windows = new Map<string, { failures: number; resetAt: number }>();

  constructor(
    readonly limit: number,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until the address may try again, or undefined when it is not blocked. */
  retryAfter(address: string): number | undefined {
    const window = this.#current(address);
    if (!window || window.failures < this.limit) return undefined;
    return Math.max(1, Math.ceil((window.resetAt - this.now()) / 1000));
  }

  /** Counts a failure; returns the seconds to wait when this failure used up the limit. */
  recordFailure(address: string): number | undefined {
    const now = this.now();
    let window = this.#current(address);
    if (!window) {
      if (this.#windows.size >= 100_000) this.#prune();
      window = { failures: 0, resetAt: now + this.windowMs };
      this.#windows.set(address, window);
    }
    window.failures++;
    return this.retryAfter(address);
  }

  #current(address: string): { failures: number; resetAt: number } | undefined {
    const window = this.#windows.get(address);
    if (window && window.resetAt <= this.now()) {
      this.#windows.delete(address);
      return undefined;
    }
    return window;
  }

  #prune(): void {
    const now = this.now();
    for (const [address, window] of this.#windows) if (window.resetAt <= now) this.#windows.delete(address);
  }
}
