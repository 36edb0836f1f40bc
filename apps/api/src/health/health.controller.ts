import { Controller, Get, Header, HttpException, HttpStatus } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { redactSecrets } from '@cepheus/common';
import { Public } from '../auth/roles';
import { InfraService } from '../kafka/infra.service';
import { ReplaysService } from '../replays/replays.service';
import { ApiMetrics } from './api-metrics';

/** Health and Prometheus metrics: open without a key, for probes and scrapers. */
@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    private readonly infra: InfraService,
    private readonly metrics: ApiMetrics,
    private readonly replays: ReplaysService,
  ) {}

  @Get('health')
  @Public()
  @ApiOperation({ summary: '200 when Kafka and Redis answer, 503 otherwise' })
  async health(): Promise<{ status: 'up'; kafka: 'up'; redis: 'up' }> {
    const problems: Record<string, string> = {};
    await this.infra.redis.ping().catch((e: unknown) => (problems.redis = redactSecrets(String(e))));
    await this.infra.admin.describeCluster().catch((e: unknown) => (problems.kafka = redactSecrets(String(e))));
    if (Object.keys(problems).length > 0) {
      throw new HttpException({ statusCode: 503, status: 'down', ...problems }, HttpStatus.SERVICE_UNAVAILABLE);
    }
    return { status: 'up', kafka: 'up', redis: 'up' };
  }

  @Get('metrics')
  @Public()
  @Header('Content-Type', 'text/plain; version=0.0.4')
  @ApiOperation({ summary: 'Prometheus metrics' })
  async prometheus(): Promise<string> {
    const counts = await this.replays.queue.getJobCounts('active', 'waiting', 'completed', 'failed');
    for (const [state, count] of Object.entries(counts)) this.metrics.replays.set({ state }, count);
    return this.metrics.registry.metrics();
  }
}
