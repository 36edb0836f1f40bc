import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Queue } from 'bullmq';
import type { ApiKeys } from './auth/api-keys';
import { presentedKey } from './auth/roles';

export const BULL_BOARD_PATH = '/admin/queues';

type Middleware = (request: IncomingMessage, response: ServerResponse, next: () => void) => void;

/**
 * Bull Board over the API's queues, admin only. Browsers cannot add an X-API-Key header to the board's own requests,
 * so Basic auth (any user name, the key as password) is accepted too, and a 401 asks for it.
 */
export function bullBoard(queues: Queue[], keys: ApiKeys): { path: string; guard: Middleware; router: unknown } {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: false })), serverAdapter: adapter });
  const guard: Middleware = (request, response, next) => {
    const key = presentedKey(request);
    const principal = key === undefined ? undefined : keys.identify(key);
    if (principal?.role === 'admin') return next();
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
