import type { Logger } from 'pino';

/** The methods of NestJS's `LoggerService`, declared here so that this library does not depend on Nest. */
export interface NestLogSink {
  log(message: unknown, ...optional: unknown[]): void;
  error(message: unknown, ...optional: unknown[]): void;
  warn(message: unknown, ...optional: unknown[]): void;
  debug(message: unknown, ...optional: unknown[]): void;
  verbose(message: unknown, ...optional: unknown[]): void;
  fatal(message: unknown, ...optional: unknown[]): void;
}

/**
 * Nest's own messages (an exception a route did not handle, a failed bootstrap) as lines of the app's pino logger, so
 * that they are structured and pass the same secret redaction as the app's lines; Nest's console logger prints them
 * as they are. Nest's routine `log` and `verbose` lines go to `debug` and `trace`.
 */
export function nestLogSink(logger: Logger): NestLogSink {
  const write =
    (level: 'fatal' | 'error' | 'warn' | 'debug' | 'trace') =>
    (message: unknown, ...optional: unknown[]): void => {
      // Nest passes (message, stack?, context?) for errors and (message, context?) otherwise.
      const context = typeof optional.at(-1) === 'string' ? (optional.at(-1) as string) : undefined;
      const stack =
        level === 'error' && typeof optional[0] === 'string' && optional.length > 1 ? optional[0] : undefined;
      const text =
        message instanceof Error ? message.message : typeof message === 'string' ? message : JSON.stringify(message);
      logger[level](
        { nest: context, ...(stack ? { stack } : {}), ...(message instanceof Error ? { err: message } : {}) },
        text,
      );
    };
  return {
    log: write('debug'),
    error: write('error'),
    warn: write('warn'),
    debug: write('debug'),
    verbose: write('trace'),
    fatal: write('fatal'),
  };
}
