import 'reflect-metadata';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import pino from 'pino';
import { ApiModule } from './api.module';
import { ApiKeys } from './auth/api-keys';
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
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
  const logger = pino({ level: config.CEPHEUS_LOG_LEVEL, base: { app: 'cepheus-api' } });
  const metrics = new ApiMetrics();
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(config, logger, metrics), {
    logger: ['error', 'warn'],
    bodyParser: false,
  });
  app.useBodyParser('json', { limit: '5mb' });
  app.useBodyParser('text', {
    type: ['text/plain', 'application/x-ndjson'],
    limit: config.CEPHEUS_API_MAX_UPLOAD_BYTES,
  });
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
  const board = bullBoard([app.get(ReplaysService).queue], app.get(ApiKeys));
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

main().catch((error: unknown) => {
  process.stderr.write(`api failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
