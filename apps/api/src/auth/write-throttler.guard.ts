import { Injectable } from '@nestjs/common';
import { ThrottlerGuard, ThrottlerException } from '@nestjs/throttler';
import { presentedKey, type AuthenticatedRequest } from './roles';
import { createHash } from 'node:crypto';

/**
 * Rate limit on writes, per API key (per client address for requests without one): a script with an editor key cannot
 * flood the rules topic. Applied to write routes only, after the key guard.
 */
@Injectable()
export class WriteThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    const key = presentedKey(request as unknown as AuthenticatedRequest);
    if (key) return `key:${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
    return `ip:${String((request as unknown as AuthenticatedRequest).ip)}`;
  }

  protected override async throwThrottlingException(): Promise<void> {
    throw new ThrottlerException(
      'too many writes with this API key: wait a minute (CEPHEUS_API_WRITE_LIMIT_PER_MINUTE)',
    );
  }
}
