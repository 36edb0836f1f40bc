import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import pino from 'pino';
import { nestLogSink, redactingLogOptions, redactSecrets } from '@cepheus/common';
import { loadEngineConfig, type EngineConfig } from './config/engine-config';
import { EngineModule } from './engine.module';

/**
 * The Cepheus engine: runs the rule job on Kafka (events, rules, alerts) with checkpoints in Redis.
 * Configuration comes from the environment (docs/configuration.md); a wrong value stops the start with its reason.
 */
async function main(): Promise<void> {
  let config: EngineConfig;
  try {
    config = loadEngineConfig();
  } catch (error) {
    process.stderr.write(`${redactSecrets((error as Error).message)}\n`);
    process.exit(2);
  }
  const logger = pino({
    ...redactingLogOptions(),
    level: config.CEPHEUS_LOG_LEVEL,
    base: { app: 'cepheus-engine', instance: config.CEPHEUS_INSTANCE_ID },
  });
  const app = await NestFactory.create(EngineModule.forRoot(config, logger), { logger: nestLogSink(logger) });
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.listen(config.CEPHEUS_HTTP_PORT, config.CEPHEUS_HTTP_HOST);
  const address = app.getHttpServer().address() as { port: number };
  logger.info({ port: address.port }, 'http listening');
  // One line a supervisor (or a test) can wait for.
  process.stdout.write(`CEPHEUS_ENGINE_READY port=${address.port}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`engine failed to start: ${redactSecrets((error as Error).stack ?? String(error))}\n`);
  process.exit(1);
});
