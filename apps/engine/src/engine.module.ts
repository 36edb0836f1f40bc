import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import type { EngineConfig } from './config/engine-config';
import { EngineController } from './health/engine.controller';
import { EngineTokenGuard } from './http/engine-token.guard';
import { SavepointIds } from './http/savepoint-ids';
import { EngineJobService } from './job/engine-job.service';
import { ENGINE_CONFIG, ENGINE_LOGGER } from './tokens';

/** The engine application: configuration in, the running job, its health and metrics out. */
@Module({})
export class EngineModule {
  static forRoot(config: EngineConfig, logger: Logger): DynamicModule {
    return {
      module: EngineModule,
      controllers: [EngineController],
      providers: [
        { provide: ENGINE_CONFIG, useValue: config },
        { provide: ENGINE_LOGGER, useValue: logger },
        EngineJobService,
        SavepointIds,
        EngineTokenGuard,
      ],
    };
  }
}
