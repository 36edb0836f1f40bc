export { CepheusError, ERROR_CODES, isCepheusError } from './cepheus-error';
export type { CepheusErrorOptions, ErrorCode } from './cepheus-error';
