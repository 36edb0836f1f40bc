import { Injectable, type ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import {
  ThrottlerException,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerRequest,
} from '@nestjs/throttler';
import type { ServerResponse } from 'node:http';
import { clientAddress, PUBLIC_ROUTE, RATE_CLASS, type AuthenticatedRequest, type RateClass } from './roles';

const LIMIT_VARIABLE: Record<RateClass, string> = {
  reads: 'CEPHEUS_API_READ_LIMIT_PER_MINUTE',
  writes: 'CEPHEUS_API_WRITE_LIMIT_PER_MINUTE',
};

/**
 * Rate limits per API key over all routes together (per client address for requests without one): `writes` for
 * state-changing routes, `reads` for the rest (`@RateLimitAs` overrides the method's default). Runs after the key
 * guard, so it counts by the key's fingerprint. Refusals are 429 with `Retry-After` in seconds.
 */
@Injectable()
export class ApiThrottlerGuard extends ThrottlerGuard {
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()]) === true;
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    if (props.throttler.name !== rateClassOf(props.context, this.reflector)) {
      return true;
    }
    return super.handleRequest(props);
  }

  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    const authenticated = request as unknown as AuthenticatedRequest;
    if (authenticated.principal) return `key:${authenticated.principal.keyId}`;
    return `ip:${clientAddress(authenticated)}`;
  }

  // One budget per key and class over every route, not one per route.
  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}:${tracker}`;
  }

  protected override async throwThrottlingException(
    context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const rateClass = rateClassOf(context, this.reflector);
    const wait = Math.max(1, detail.timeToBlockExpire);
    context.switchToHttp().getResponse<ServerResponse>().setHeader('Retry-After', String(wait));
    throw new ThrottlerException(
      `too many ${rateClass} with this API key (${detail.limit} a minute, ${LIMIT_VARIABLE[rateClass]}): retry after ${wait} s`,
    );
  }
}

function rateClassOf(context: ExecutionContext, reflector: Reflector): RateClass {
  const declared = reflector.getAllAndOverride<RateClass | undefined>(RATE_CLASS, [
    context.getHandler(),
    context.getClass(),
  ]);
  if (declared) return declared;
  const method = context.switchToHttp().getRequest<AuthenticatedRequest>().method ?? 'GET';
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' ? 'reads' : 'writes';
}
