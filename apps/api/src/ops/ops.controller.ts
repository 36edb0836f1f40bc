import { Controller, Delete, Get, Param, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { RequireRole, type AuthenticatedRequest } from '../auth/roles';
import { OpsService, type SavepointView } from './ops.service';

/** Operations: engine instances, checkpoints, savepoints. */
@ApiTags('operations')
@ApiSecurity('api-key')
@Controller()
export class OpsController {
  constructor(private readonly ops: OpsService) {}

  @Get('instances')
  @ApiOperation({
    summary:
      'Engine instances: lag, owned partitions, broadcast digest, checkpoints (GET /instance of each engine URL)',
  })
  instances(): Promise<Record<string, unknown>> {
    return this.ops.instances();
  }

  @Get('checkpoints')
  @ApiOperation({ summary: 'Checkpoints in Redis per events partition, with the one Kafka committed' })
  checkpoints(): Promise<Record<string, unknown>> {
    return this.ops.checkpoints();
  }

  @Post('savepoints')
  @RequireRole('admin')
  @ApiOperation({
    summary: 'Take a savepoint (kept until deleted): every engine instance of the job saves its partitions',
  })
  create(@Req() request: AuthenticatedRequest): Promise<SavepointView> {
    return this.ops.createSavepoint(request.principal?.keyId ?? 'unknown');
  }

  @Get('savepoints')
  @ApiOperation({ summary: 'Savepoints, newest first' })
  list(): Promise<SavepointView[]> {
    return this.ops.savepoints();
  }

  @Get('savepoints/:id')
  @ApiOperation({ summary: 'One savepoint' })
  get(@Param('id') id: string): Promise<SavepointView> {
    return this.ops.savepoint(id);
  }

  @Delete('savepoints/:id')
  @RequireRole('admin')
  @ApiOperation({ summary: 'Delete a savepoint and its stored state' })
  remove(@Param('id') id: string): Promise<{ id: string; deleted: true }> {
    return this.ops.deleteSavepoint(id);
  }
}
