import { createHash, timingSafeEqual } from 'node:crypto';
import {
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  SetMetadata,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import type { EngineConfig } from '../config/engine-config';
import { ENGINE_CONFIG } from '../tokens';

const OPEN_ROUTE = 'cepheus:engine-open-route';

/** Open without the token: liveness and metrics, which probes and Prometheus reach. */
export const OpenRoute = () => SetMetadata(OPEN_ROUTE, true);

/**
 * With `CEPHEUS_HTTP_TOKEN` set, every route but the open ones needs `Authorization: Bearer <token>` (401 otherwise).
 * Without one the port listens on loopback only (the configuration refuses anything else), where the machine's own
 * users are trusted.
 */
@Injectable()
export class EngineTokenGuard implements CanActivate {
  private readonly digest: Buffer | undefined;

  constructor(
    private readonly reflector: Reflector,
    @Inject(ENGINE_CONFIG) config: EngineConfig,
  ) {
    this.digest = config.CEPHEUS_HTTP_TOKEN === undefined ? undefined : sha256(config.CEPHEUS_HTTP_TOKEN);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.digest === undefined) return true;
    if (this.reflector.getAllAndOverride<boolean>(OPEN_ROUTE, [context.getHandler(), context.getClass()])) return true;
    const authorization = context.switchToHttp().getRequest<IncomingMessage>().headers.authorization ?? '';
    const presented = authorization.startsWith('Bearer ') ? authorization.slice(7).trim() : undefined;
    // Digests have one length, so the comparison takes the same time whatever was sent.
    if (presented !== undefined && timingSafeEqual(sha256(presented), this.digest)) return true;
    throw new HttpException(
      {
        statusCode: 401,
        error: 'Unauthorized',
        message: 'this engine route needs Authorization: Bearer <CEPHEUS_HTTP_TOKEN>',
      },
      HttpStatus.UNAUTHORIZED,
    );
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
