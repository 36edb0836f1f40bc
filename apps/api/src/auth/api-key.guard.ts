import { HttpException, HttpStatus, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ServerResponse } from 'node:http';
import { ApiKeys, roleAtLeast, type Role } from './api-keys';
import { FailedAuthLimiter } from './failed-auth-limiter';
import { clientAddress, presentedKey, PUBLIC_ROUTE, REQUIRED_ROLE, type AuthenticatedRequest } from './roles';

/**
 * Every route needs a configured API key (401 without one) whose role covers the route (403 otherwise). Basic auth is
 * refused here (only Bull Board takes it). Failed logins count per client address; past the limit the address gets
 * 429 with `Retry-After` until its minute ends.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(ApiKeys) private readonly keys: ApiKeys,
    @Inject(FailedAuthLimiter) private readonly failures: FailedAuthLimiter,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const needed = this.reflector.getAllAndOverride<Role | undefined>(REQUIRED_ROLE, targets) ?? 'reader';
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const response = context.switchToHttp().getResponse<ServerResponse>();
    const address = clientAddress(request);
    const blocked = this.failures.retryAfter(address);
    if (blocked !== undefined) throw tooManyFailures(response, blocked, this.failures.limit);
    const presented = presentedKey(request);
    if (!presented) {
      throw this.failed(
        response,
        address,
        'an API key is required: send it in the X-API-Key header (or Authorization: Bearer <key>)',
      );
    }
    if (presented.scheme === 'basic') {
      throw this.failed(
        response,
        address,
        'Basic auth is accepted only by Bull Board (/admin/queues): send the key in the X-API-Key header (or Authorization: Bearer <key>)',
      );
    }
    const principal = this.keys.identify(presented.key);
    if (!principal) throw this.failed(response, address, 'the API key is not known');
    if (!roleAtLeast(principal.role, needed)) {
      throw new HttpException(
        {
          statusCode: 403,
          error: 'Forbidden',
          message: `this needs the ${needed} role; the key has ${principal.role}`,
          requiredRole: needed,
          role: principal.role,
        },
        HttpStatus.FORBIDDEN,
      );
    }
    request.principal = principal;
    return true;
  }

  /** A 401, or the 429 when this failure used up the address's limit. */
  private failed(response: ServerResponse, address: string, message: string): HttpException {
    const retryAfter = this.failures.recordFailure(address);
    if (retryAfter !== undefined) return tooManyFailures(response, retryAfter, this.failures.limit);
    return new HttpException({ statusCode: 401, error: 'Unauthorized', message }, HttpStatus.UNAUTHORIZED);
  }
}

/** 429 for an address that failed to log in too often; shared with Bull Board's guard. */
export function tooManyFailures(response: ServerResponse, retryAfter: number, limit: number): HttpException {
  response.setHeader('Retry-After', String(retryAfter));
  return new HttpException(
    {
      statusCode: 429,
      error: 'Too Many Requests',
      message: `too many failed logins from this address (${limit} a minute, CEPHEUS_API_FAILED_AUTH_LIMIT_PER_MINUTE): retry after ${retryAfter} s`,
      retryAfterSeconds: retryAfter,
    },
    HttpStatus.TOO_MANY_REQUESTS,
  );
}
