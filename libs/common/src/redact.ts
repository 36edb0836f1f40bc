import type { LoggerOptions } from 'pino';

/**
 * Secrets out of messages and logs. Connection strings carry passwords (`redis://:pw@host`, `rediss://user:pw@host`,
 * `?password=pw`), and a message that quotes a configuration value, an error from a client library or a log line
 * that includes either would otherwise print them. Everything an app writes for people passes through here.
 */

/** What a redacted secret reads as. */
export const REDACTED = '***';

// `scheme://user:password@` (the user may be empty): keep the scheme and user, hide the password.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:/@]*):([^\s@/]*)@/gi;
// `password=...`, `token=...` and kin in query strings and `key=value` text, up to a separator.
const NAMED_SECRET = /\b(pass(?:word)?|pwd|secret|token|api[-_]?key|auth)=([^\s&;,"']+)/gi;

/** `text` with the passwords of URLs and `password=`/`token=`-style values replaced by `***`. */
export function redactSecrets(text: string): string {
  return text
    .replace(URL_PASSWORD, (_all, scheme: string, user: string, password: string) =>
      password === '' ? `${scheme}${user}:@` : `${scheme}${user}:${REDACTED}@`,
    )
    .replace(NAMED_SECRET, (_all, name: string) => `${name}=${REDACTED}`);
}

/**
 * A copy of a log record (or any JSON-like value) with {@link redactSecrets} applied to every string in it, and
 * errors turned into `{type, message, stack}` with both redacted. Walks at most `maxDepth` levels; deeper values are
 * replaced by a marker rather than walked (a log call must never overflow the stack).
 */
export function redactDeep(value: unknown, maxDepth = 10): unknown {
  return walk(value, maxDepth, new WeakSet());
}

function walk(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  if (depth <= 0) return '[too deep]';
  seen.add(value);
  if (value instanceof Error) {
    const out: Record<string, unknown> = {
      type: value.name,
      message: redactSecrets(value.message),
      stack: value.stack === undefined ? undefined : redactSecrets(value.stack),
    };
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, depth - 1, seen);
    if (value.cause !== undefined) out.cause = walk(value.cause, depth - 1, seen);
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => walk(v, depth - 1, seen));
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value) || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = walk(v, depth - 1, seen);
  return out;
}

/**
 * pino options that pass every log line through {@link redactSecrets}: the message and every string of the merged
 * object (errors included). `pino({ ...redactingLogOptions(), level })`.
 */
export function redactingLogOptions(): Pick<LoggerOptions, 'formatters' | 'hooks'> {
  return {
    formatters: { log: (record) => redactDeep(record) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        const redacted = args.map((a: unknown) => (typeof a === 'string' ? redactSecrets(a) : a));
        return method.apply(this, redacted as Parameters<typeof method>);
      },
    },
  };
}
