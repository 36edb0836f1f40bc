import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Queue } from 'bullmq';
import type { ApiKeys } from './auth/api-keys';
import type { FailedAuthLimiter } from './auth/failed-auth-limiter';
import { clientAddress, presentedKey } from './auth/roles';

export const BULL_BOARD_PATH = '/admin/queues';

type Middleware = (request: IncomingMessage, response: ServerResponse, next: () => void) => void;

/**
 * Bull Board over the API's queues, admin only. Browsers cannot add an X-API-Key header to the board's own requests,
 * so Basic auth (any user name, the key as password) is accepted here, and only here, and a 401 asks for it. Failed
 * logins count against the same per-address limit as the API's; the Origin check runs before this guard.
 */
export function bullBoard(
  queues: Queue[],
  keys: ApiKeys,
  failures: FailedAuthLimiter,
): { path: string; guard: Middleware; router: unknown } {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: false })), serverAdapter: adapter });
  const guard: Middleware = (request, response, next) => {
    const address = clientAddress(request);
    let retryAfter = failures.retryAfter(address);
    const presented = retryAfter === undefined ? presentedKey(request) : undefined;
    const principal = presented === undefined ? undefined : keys.identify(presented.key);
    if (principal?.role === 'admin') return next();
    if (!principal) retryAfter ??= failures.recordFailure(address);
    if (retryAfter !== undefined) {
      response.statusCode = 429;
      response.setHeader('Content-Type', 'application/json');
      response.setHeader('Retry-After', String(retryAfter));
      response.end(
        JSON.stringify({
          statusCode: 429,
          error: 'Too Many Requests',
          message: `too many failed logins from this address (${failures.limit} a minute, CEPHEUS_API_FAILED_AUTH_LIMIT_PER_MINUTE): retry after ${retryAfter} s`,
          retryAfterSeconds: retryAfter,
        }),
      );
      return;
    }
    const status = principal ? 403 : 401;
    response.statusCode = status;
    response.setHeader('Content-Type', 'application/json');
    if (!principal) response.setHeader('WWW-Authenticate', 'Basic realm="Cepheus admin", charset="UTF-8"');
    response.end(
      JSON.stringify({
        statusCode: status,
        error: principal ? 'Forbidden' : 'Unauthorized',
        message: principal
          ? 'Bull Board needs the admin role'
          : 'an admin API key is required (X-API-Key or Basic auth)',
      }),
    );
  };
  return { path: BULL_BOARD_PATH, guard, router: adapter.getRouter() };
}
