import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * Counts the live alert streams open per API key and in total, and refuses one more (429) past either limit: each
 * stream holds a connection and a subscription for as long as the client likes. In memory, so per API process.
 */
export class AlertStreams {
  readonly #perKey = new Map<string, number>();
  #total = 0;

  constructor(
    readonly maxPerKey: number,
    readonly maxTotal: number,
  ) {}

  /** Opens a stream for `owner` (an API key fingerprint); the returned function closes it (once). */
  open(owner: string): () => void {
    const mine = this.#perKey.get(owner) ?? 0;
    if (mine >= this.maxPerKey) {
      throw tooMany(
        `this API key has ${mine} live streams open, the most allowed (CEPHEUS_API_MAX_STREAMS_PER_KEY=${this.maxPerKey}): close one first`,
        this.maxPerKey,
      );
    }
    if (this.#total >= this.maxTotal) {
      throw tooMany(
        `${this.#total} live streams are open, the most this API serves (CEPHEUS_API_MAX_STREAMS=${this.maxTotal}): try again later`,
        this.maxTotal,
      );
    }
    this.#perKey.set(owner, mine + 1);
    this.#total++;
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.#total--;
      const left = (this.#perKey.get(owner) ?? 1) - 1;
      if (left > 0) this.#perKey.set(owner, left);
      else this.#perKey.delete(owner);
    };
  }

  /** Streams open for `owner`, or in total without one. */
  count(owner?: string): number {
    return owner === undefined ? this.#total : (this.#perKey.get(owner) ?? 0);
  }
}

function tooMany(message: string, limit: number): HttpException {
  return new HttpException(
    { statusCode: 429, error: 'Too Many Requests', message, limit },
    HttpStatus.TOO_MANY_REQUESTS,
  );
}
