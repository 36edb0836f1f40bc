/**
 * Every error code Cepheus raises on purpose. A code is stable API: alerts on the DLQ and rules-status messages carry
 * it, and users match on it.
 */
export const ERROR_CODES = [
  'CEP_MALFORMED_PATTERN',
  'CEP_STATE_VERSION',
  'RULE_INVALID',
  'RULE_COMPILE_FAILED',
  'EVENT_MALFORMED',
  'STATE_RESTORE_FAILED',
  'CHECKPOINT_FAILED',
  'CONFIG_INVALID',
  'KAFKA_UNAVAILABLE',
  'REDIS_UNAVAILABLE',
  'JOB_FAILED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface CepheusErrorOptions {
  /** True when the same operation may succeed if tried again (a broker restarting, a timeout). */
  retriable?: boolean;
  cause?: unknown;
  /** Structured detail for logs and API bodies, e.g. `{ field: '/steps/0/within', reason: '...' }`. */
  details?: Record<string, unknown>;
}

/** The one error type Cepheus throws on purpose: a stable `code`, whether a retry can help, and the cause. */
export class CepheusError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: CepheusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CepheusError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details;
  }

  toJSON(): { code: ErrorCode; message: string; retriable: boolean; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, retriable: this.retriable, details: this.details };
  }
}

export function isCepheusError(error: unknown, code?: ErrorCode): error is CepheusError {
  return error instanceof CepheusError && (code === undefined || error.code === code);
}
