import type { IncomingMessage, ServerResponse } from 'node:http';

/** Methods that change state; the others (GET, HEAD, OPTIONS) are never checked. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Why a state-changing request must be refused for its `Origin`, or undefined when it may go on. A browser names the
 * page's origin on every cross-site `POST`, `PUT` and `DELETE` (a plain HTML form included), so a page elsewhere cannot
 * make a logged-in browser change rules: requests with an `Origin` are accepted only from the API's own origin (the
 * same host and port as the request's `Host`) and from `allowed`. Requests without one (scripts, the CLI) are not
 * browsers' cross-site requests and go on.
 */
export function originRefusal(request: IncomingMessage, allowed: ReadonlySet<string>): string | undefined {
  if (SAFE_METHODS.has(request.method ?? 'GET')) return undefined;
  const origin = request.headers.origin;
  if (origin === undefined) return undefined;
  if (allowed.has(origin.toLowerCase())) return undefined;
  let host: string | undefined;
  try {
    host = origin === 'null' ? undefined : new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (host !== undefined && host === request.headers.host?.toLowerCase()) return undefined;
  return `Origin ${JSON.stringify(origin)} may not change anything here: state-changing requests from a browser are accepted from this API's own origin and from CEPHEUS_API_ALLOWED_ORIGINS only`;
}

/** `CEPHEUS_API_ALLOWED_ORIGINS` as a set of lower-case origins. */
export function allowedOrigins(spec: string): ReadonlySet<string> {
  return new Set(
    spec
      .split(',')
      .map((o) => o.trim().toLowerCase().replace(/\/$/, ''))
      .filter((o) => o.length > 0),
  );
}

/** Express middleware: 403 (JSON, naming the reason) for a write with a foreign `Origin`. Mounted before every route. */
export function originCheck(allowed: ReadonlySet<string>) {
  return (request: IncomingMessage, response: ServerResponse, next: () => void): void => {
    const reason = originRefusal(request, allowed);
    if (reason === undefined) return next();
    response.statusCode = 403;
    response.setHeader('Content-Type', 'application/json; charset=utf-8');
    response.end(
      JSON.stringify({ statusCode: 403, error: 'Forbidden', message: reason, reason: 'origin-not-allowed' }),
    );
  };
}
