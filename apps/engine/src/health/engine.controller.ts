import { Body, Controller, Get, Header, HttpException, HttpStatus, Post, UseGuards } from '@nestjs/common';
import { redactSecrets } from '@cepheus/common';
import { EngineTokenGuard, OpenRoute } from '../http/engine-token.guard';
import { SavepointIds } from '../http/savepoint-ids';
import { EngineJobService } from '../job/engine-job.service';
import { EngineMetrics } from '../metrics/engine-metrics';

/**
 * Liveness, the instance's state (for the API's instances view), savepoints and Prometheus metrics. With
 * `CEPHEUS_HTTP_TOKEN` set, `/instance` and `POST /savepoints` need it as a bearer token.
 */
@Controller()
@UseGuards(EngineTokenGuard)
export class EngineController {
  private readonly metrics: EngineMetrics;

  constructor(
    private readonly jobs: EngineJobService,
    private readonly savepointIds: SavepointIds,
  ) {
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
  @OpenRoute()
  health(): { status: string; detail?: string } {
    const health = this.jobs.health();
    if (health.status !== 'up') throw new HttpException(health, HttpStatus.SERVICE_UNAVAILABLE);
    return health;
  }

  @Get('instance')
  instance(): Record<string, unknown> {
    return { ...this.jobs.stats(), rules: this.jobs.processor.describeRules() };
  }

  /**
   * Takes a savepoint of this instance's partitions now: `{ "id": "sp-1" }`. 409 when a savepoint with that id exists
   * (or is being taken): savepoints are never written over.
   */
  @Post('savepoints')
  async savepoint(@Body() body: { id?: unknown }): Promise<{ id: string; offsets: Record<number, string> }> {
    const id = typeof body?.id === 'string' ? body.id : `sp-${Date.now()}`;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
      throw new HttpException({ error: 'id: use [A-Za-z0-9_-], at most 64 characters' }, HttpStatus.BAD_REQUEST);
    }
    const claim = await this.savepointIds
      .claim(id, this.jobs.stats()?.ownedPartitions ?? [])
      .catch((error: unknown) => {
        throw new HttpException({ error: redactSecrets(String(error)) }, HttpStatus.SERVICE_UNAVAILABLE);
      });
    if ('taken' in claim) throw new HttpException({ statusCode: 409, error: claim.taken }, HttpStatus.CONFLICT);
    try {
      return { id, offsets: await this.jobs.savepoint(id) };
    } catch (error) {
      throw new HttpException({ error: redactSecrets(String(error)) }, HttpStatus.SERVICE_UNAVAILABLE);
    } finally {
      claim.release();
    }
  }

  @Get('metrics')
  @OpenRoute()
  @Header('Content-Type', 'text/plain; version=0.0.4')
  async prometheus(): Promise<string> {
    return this.metrics.render();
  }
}
