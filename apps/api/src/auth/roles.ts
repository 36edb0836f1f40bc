import { SetMetadata } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Principal, Role } from './api-keys';

export const REQUIRED_ROLE = 'cepheus:required-role';
export const PUBLIC_ROUTE = 'cepheus:public-route';

/** The least role a route needs. Routes without it need `reader`. */
export const RequireRole = (role: Role) => SetMetadata(REQUIRED_ROLE, role);

/** Open without a key: health and metrics, which probes and Prometheus scrape. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** A request the guard let through, with who sent it. */
export type AuthenticatedRequest = IncomingMessage & { ip?: string; principal?: Principal };

/** The key a request presents: `X-API-Key`, or `Authorization: Bearer <key>`, or Basic auth's password (browsers). */
export function presentedKey(request: IncomingMessage): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header.length > 0) return header;
  const authorization = request.headers.authorization;
  if (authorization?.startsWith('Bearer ')) return authorization.slice(7).trim();
  if (authorization?.startsWith('Basic ')) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1);
  }
  return undefined;
}
