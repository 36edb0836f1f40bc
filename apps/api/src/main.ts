import 'reflect-metadata';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import pino from 'pino';
import { nestLogSink, redactingLogOptions, redactSecrets } from '@cepheus/common';
import { ApiModule } from './api.module';
import { ApiKeys } from './auth/api-keys';
import { FailedAuthLimiter } from './auth/failed-auth-limiter';
import { allowedOrigins, originCheck } from './auth/origin-check';
import { bullBoard } from './bull-board';
import { loadApiConfig, type ApiConfig } from './config/api-config';
import { ApiMetrics } from './health/api-metrics';
import { ReplaysService } from './replays/replays.service';

/**
 * The Cepheus HTTP API (docs/api.md). Configuration comes from the environment; a wrong value stops the start with
 * exit code 2 and its reason.
 */
async function main(): Promise<void> {
  let config: ApiConfig;
  try {
    config = loadApiConfig();
  } catch (error) {
    process.stderr.write(`${redactSecrets((error as Error).message)}\n`);
    process.exit(2);
  }
  const logger = pino({ ...redactingLogOptions(), level: config.CEPHEUS_LOG_LEVEL, base: { app: 'cepheus-api' } });
  const metrics = new ApiMetrics();
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(config, logger, metrics), {
    logger: nestLogSink(logger),
    bodyParser: false,
  });
  // Before the body parsers: a refused cross-site write is not even read.
  app.use(originCheck(allowedOrigins(config.CEPHEUS_API_ALLOWED_ORIGINS)));
  app.useBodyParser('json', { limit: JSON_BODY_LIMIT_BYTES });
  app.useBodyParser('text', {
    type: ['text/plain', 'application/x-ndjson'],
    limit: config.CEPHEUS_API_MAX_UPLOAD_BYTES,
  });
  app.use(bodyErrors(config.CEPHEUS_API_MAX_UPLOAD_BYTES));
  app.use((request: IncomingMessage & { route?: { path?: string } }, response: ServerResponse, next: () => void) => {
    response.on('finish', () => {
      metrics.requests.inc({
        method: request.method ?? '',
        route: request.route?.path ?? 'unmatched',
        status: String(response.statusCode),
      });
    });
    next();
  });
  const board = bullBoard([app.get(ReplaysService).queue], app.get(ApiKeys), app.get(FailedAuthLimiter));
  app.use(board.path, board.guard, board.router);

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Cepheus API')
      .setDescription('Rules, alerts, replays and operations of a Cepheus deployment (docs/api.md)')
      .setVersion('0.1.0')
      .addApiKey({ type: 'apiKey', name: 'X-API-Key', in: 'header' }, 'api-key')
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });

  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.listen(config.CEPHEUS_API_PORT, config.CEPHEUS_API_HOST);
  const address = app.getHttpServer().address() as { port: number };
  logger.info({ port: address.port }, 'http listening');
  // One line a supervisor (or a test) can wait for.
  process.stdout.write(`CEPHEUS_API_READY port=${address.port}\n`);
}

/** Largest JSON body (rules, replay requests). */
const JSON_BODY_LIMIT_BYTES = 5 * 1024 * 1024;

type BodyError = Error & { type?: string; status?: number; limit?: number; length?: number };

/**
 * The body parsers' refusals as JSON naming the limit (Express would answer with an HTML page): 413 for a body over
 * its limit (JSON_BODY_LIMIT_BYTES for JSON, CEPHEUS_API_MAX_UPLOAD_BYTES for uploads), 400 for malformed JSON.
 */
function bodyErrors(maxUploadBytes: number) {
  return (error: BodyError, request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void) => {
    if (error.type === 'entity.too.large') {
      const upload = /^\s*(text\/plain|application\/x-ndjson)\b/i.test(request.headers['content-type'] ?? '');
      const limit = error.limit ?? (upload ? maxUploadBytes : JSON_BODY_LIMIT_BYTES);
      const what = upload ? 'an upload (CEPHEUS_API_MAX_UPLOAD_BYTES)' : 'a JSON body';
      return sendJson(response, 413, {
        statusCode: 413,
        error: 'Payload Too Large',
        message: `the body has ${error.length ?? 'more than'} bytes; at most ${limit} are accepted for ${what}`,
        limit,
      });
    }
    if (error.type === 'entity.parse.failed') {
      return sendJson(response, 400, {
        statusCode: 400,
        error: 'Bad Request',
        message: 'the body is not valid JSON',
        errors: [{ field: '/', reason: redactSecrets(error.message) }],
      });
    }
    next(error);
  };
}

function sendJson(response: ServerResponse, status: number, body: Record<string, unknown>): void {
  response.statusCode = status;
  response.setHeader('Content-Type', 'application/json; charset=utf-8');
  response.end(JSON.stringify(body));
}

main().catch((error: unknown) => {
  process.stderr.write(`api failed to start: ${redactSecrets((error as Error).stack ?? String(error))}\n`);
  process.exit(1);
});
