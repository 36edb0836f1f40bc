import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import type { Logger } from 'pino';
import { AlertsController } from './alerts/alerts.controller';
import { AlertsService } from './alerts/alerts.service';
import { ApiKeyGuard } from './auth/api-key.guard';
import { ApiKeys } from './auth/api-keys';
import { ApiThrottlerGuard } from './auth/api-throttler.guard';
import { FailedAuthLimiter } from './auth/failed-auth-limiter';
import { AlertStreams } from './alerts/alert-streams';
import type { ApiConfig } from './config/api-config';
import { ApiMetrics } from './health/api-metrics';
import { HealthController } from './health/health.controller';
import { InfraService } from './kafka/infra.service';
import { OpsController } from './ops/ops.controller';
import { OpsService } from './ops/ops.service';
import { ReplaysController } from './replays/replays.controller';
import { ReplaysService } from './replays/replays.service';
import { AuditLogService } from './rules/audit-log.service';
import { RuleStatusService } from './rules/rule-status.service';
import { RulesController } from './rules/rules.controller';
import { RulesStoreService } from './rules/rules-store.service';
import { API_CONFIG, API_LOGGER } from './tokens';

/** The HTTP API: configuration and connections in, rules, alerts, replays and operations out. */
@Module({})
export class ApiModule {
  static forRoot(config: ApiConfig, logger: Logger, metrics: ApiMetrics): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        // Two budgets per key; ApiThrottlerGuard charges each route to one of them (roles.ts, RateLimitAs).
        ThrottlerModule.forRoot([
          { name: 'writes', ttl: 60_000, limit: config.CEPHEUS_API_WRITE_LIMIT_PER_MINUTE },
          { name: 'reads', ttl: 60_000, limit: config.CEPHEUS_API_READ_LIMIT_PER_MINUTE },
        ]),
      ],
      controllers: [RulesController, AlertsController, ReplaysController, OpsController, HealthController],
      providers: [
        { provide: API_CONFIG, useValue: config },
        { provide: API_LOGGER, useValue: logger },
        { provide: ApiKeys, useValue: new ApiKeys(config.CEPHEUS_API_KEYS) },
        { provide: ApiMetrics, useValue: metrics },
        {
          provide: FailedAuthLimiter,
          useValue: new FailedAuthLimiter(config.CEPHEUS_API_FAILED_AUTH_LIMIT_PER_MINUTE),
        },
        // Global guards run in this order: the key first, so that the throttler counts by key.
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_GUARD, useClass: ApiThrottlerGuard },
        {
          provide: AlertStreams,
          useValue: new AlertStreams(config.CEPHEUS_API_MAX_STREAMS_PER_KEY, config.CEPHEUS_API_MAX_STREAMS),
        },
        InfraService,
        RulesStoreService,
        RuleStatusService,
        AuditLogService,
        AlertsService,
        ReplaysService,
        OpsService,
      ],
    };
  }
}
