import { HttpException, HttpStatus } from '@nestjs/common';

/** A field-level problem with a request body: a JSON Pointer and a sentence. */
export interface FieldError {
  field: string;
  reason: string;
}

/** 400 naming every field that is wrong. */
export function badRequest(message: string, errors: FieldError[] = []): HttpException {
  return new HttpException({ statusCode: 400, error: 'Bad Request', message, errors }, HttpStatus.BAD_REQUEST);
}

export function notFound(message: string): HttpException {
  return new HttpException({ statusCode: 404, error: 'Not Found', message }, HttpStatus.NOT_FOUND);
}

export function conflict(message: string, errors: FieldError[] = []): HttpException {
  return new HttpException({ statusCode: 409, error: 'Conflict', message, errors }, HttpStatus.CONFLICT);
}
