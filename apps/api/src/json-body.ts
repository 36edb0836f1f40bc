import Ajv, { type ErrorObject, type JSONSchemaType } from 'ajv';
import addFormats from 'ajv-formats';
import { badRequest, type FieldError } from './http-errors';

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);

/** ajv errors as field errors: JSON Pointers to the field at fault, never to its parent. */
export function fieldErrors(errors: readonly ErrorObject[] | null | undefined, prefix = ''): FieldError[] {
  return (errors ?? []).map((e) => {
    if (e.keyword === 'required') {
      return { field: `${prefix}${e.instancePath}/${String(e.params.missingProperty)}`, reason: 'is required' };
    }
    if (e.keyword === 'additionalProperties') {
      return {
        field: `${prefix}${e.instancePath}/${String(e.params.additionalProperty)}`,
        reason: 'is not a known property',
      };
    }
    return { field: `${prefix}${e.instancePath}` || '/', reason: e.message ?? 'is invalid' };
  });
}

/** A compiled request-body check that throws a 400 with field errors. */
export function bodyValidator<T>(schema: JSONSchemaType<T> | Record<string, unknown>): (body: unknown) => T {
  const validate = ajv.compile<T>(schema);
  return (body: unknown) => {
    if (!validate(body)) throw badRequest('the request body is invalid', fieldErrors(validate.errors));
    return body;
  };
}
