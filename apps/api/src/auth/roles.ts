import { SetMetadata } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Principal, Role } from './api-keys';

export const REQUIRED_ROLE = 'cepheus:required-role';
export const PUBLIC_ROUTE = 'cepheus:public-route';
export const RATE_CLASS = 'cepheus:rate-class';

/** The least role a route needs. Routes without it need `reader`. */
export const RequireRole = (role: Role) => SetMetadata(REQUIRED_ROLE, role);

/** Open without a key: health and metrics, which probes and Prometheus scrape. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/**
 * Which per-key rate limit a route counts against: `writes` (CEPHEUS_API_WRITE_LIMIT_PER_MINUTE) or `reads`
 * (CEPHEUS_API_READ_LIMIT_PER_MINUTE). Without it, `GET` counts as a read and every other method as a write.
 */
export type RateClass = 'reads' | 'writes';
export const RateLimitAs = (rateClass: RateClass) => SetMetadata(RATE_CLASS, rateClass);

/** A request the guard let through, with who sent it. */
export type AuthenticatedRequest = IncomingMessage & { ip?: string; principal?: Principal };

/** A key as a request presents it, and how. */
export interface PresentedKey {
  key: string;
  scheme: 'x-api-key' | 'bearer' | 'basic';
}

/**
 * The key a request presents: `X-API-Key`, or `Authorization: Bearer <key>`, or Basic auth's password. Basic auth is
 * what a browser sends by itself once it has been typed in, on every request to the host, a cross-site form post
 * included; so only Bull Board, which browsers use directly, accepts it (`scheme` tells the caller which it got).
 */
export function presentedKey(request: IncomingMessage): PresentedKey | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header.length > 0) return { key: header, scheme: 'x-api-key' };
  const authorization = request.headers.authorization;
  if (authorization?.startsWith('Bearer ')) return { key: authorization.slice(7).trim(), scheme: 'bearer' };
  if (authorization?.startsWith('Basic ')) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
    return { key: decoded.slice(decoded.indexOf(':') + 1), scheme: 'basic' };
  }
  return undefined;
}

/** The client address a request came from, as the failed-login limit counts it. */
export function clientAddress(request: AuthenticatedRequest): string {
  return request.ip ?? request.socket.remoteAddress ?? 'unknown';
}
