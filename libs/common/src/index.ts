export { CepheusError, ERROR_CODES, isCepheusError } from './cepheus-error';
export type { CepheusErrorOptions, ErrorCode } from './cepheus-error';
export { loadEnvConfig, SHARED_ENV_PROPERTIES } from './env-config';
export type { EnvSchema, LoadEnvConfigOptions } from './env-config';
export { ByteReader, ByteWriter } from './binary';
export { REDACTED, redactDeep, redactingLogOptions, redactSecrets } from './redact';
export { nestLogSink } from './nest-log';
export type { NestLogSink } from './nest-log';
