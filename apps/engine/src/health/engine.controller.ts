import { Body, Controller, Get, Header, HttpException, HttpStatus, Post } from '@nestjs/common';
import { EngineJobService } from '../job/engine-job.service';
import { EngineMetrics } from '../metrics/engine-metrics';

/** Liveness, the instance's state (for the API's instances view) and Prometheus metrics. */
@Controller()
export class EngineController {
  private readonly metrics: EngineMetrics;

  constructor(private readonly jobs: EngineJobService) {
    this.metrics = new EngineMetrics(() => {
      const job = this.jobs.stats();
      if (!job) throw new Error('the job has not started');
      return {
        job,
        ruleMatches: this.jobs.processor.matchCounts(),
        partialMatches: this.jobs.processor.openStateCount(),
        evaluations: this.jobs.processor.evaluationCount(),
      };
    });
  }

  @Get('health')
  health(): { status: string; detail?: string } {
    const health = this.jobs.health();
    if (health.status !== 'up') throw new HttpException(health, HttpStatus.SERVICE_UNAVAILABLE);
    return health;
  }

  @Get('instance')
  instance(): Record<string, unknown> {
    return { ...this.jobs.stats(), rules: this.jobs.processor.describeRules() };
  }

  /** Takes a savepoint of this instance's partitions now: `{ "id": "sp-1" }`. */
  @Post('savepoints')
  async savepoint(@Body() body: { id?: unknown }): Promise<{ id: string; offsets: Record<number, string> }> {
    const id = typeof body?.id === 'string' ? body.id : `sp-${Date.now()}`;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
      throw new HttpException({ error: 'id: use [A-Za-z0-9_-], at most 64 characters' }, HttpStatus.BAD_REQUEST);
    }
    try {
      return { id, offsets: await this.jobs.savepoint(id) };
    } catch (error) {
      throw new HttpException({ error: String(error) }, HttpStatus.SERVICE_UNAVAILABLE);
    }
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  async prometheus(): Promise<string> {
    return this.metrics.render();
  }
}
