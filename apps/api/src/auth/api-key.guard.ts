import { HttpException, HttpStatus, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiKeys, roleAtLeast, type Role } from './api-keys';
import { presentedKey, PUBLIC_ROUTE, REQUIRED_ROLE, type AuthenticatedRequest } from './roles';

/** Every route needs a configured API key (401 without one) whose role covers the route (403 otherwise). */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(ApiKeys) private readonly keys: ApiKeys,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const needed = this.reflector.getAllAndOverride<Role | undefined>(REQUIRED_ROLE, targets) ?? 'reader';
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const key = presentedKey(request);
    if (!key) {
      throw new HttpException(
        {
          statusCode: 401,
          error: 'Unauthorized',
          message: 'an API key is required: send it in the X-API-Key header (or Authorization: Bearer <key>)',
        },
        HttpStatus.UNAUTHORIZED,
      );
    }
    const principal = this.keys.identify(key);
    if (!principal) {
      throw new HttpException(
        { statusCode: 401, error: 'Unauthorized', message: 'the API key is not known' },
        HttpStatus.UNAUTHORIZED,
      );
    }
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
}
