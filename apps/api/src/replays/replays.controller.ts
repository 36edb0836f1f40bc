import { Body, Controller, Get, HttpCode, Param, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Principal } from '../auth/api-keys';
import { RequireRole, type AuthenticatedRequest } from '../auth/roles';
import { WriteThrottlerGuard } from '../auth/write-throttler.guard';
import { badRequest } from '../http-errors';
import { parseReplayRequest } from './replay-request';
import { ReplaysService, type ReplayView } from './replays.service';

/** Replays: backtests of the events topic (or an uploaded file) through chosen rules, as BullMQ jobs. */
@ApiTags('replays')
@ApiSecurity('api-key')
@Controller('replays')
export class ReplaysController {
  constructor(private readonly replays: ReplaysService) {}

  @Post()
  @RequireRole('editor')
  @UseGuards(WriteThrottlerGuard)
  @ApiOperation({ summary: 'Start a replay; its alerts go to alerts.replay.<id>, never to the live alerts' })
  @ApiBody({
    description: 'docs/replay.md: `source` (time | offsets | upload), `rules` (current | versions | candidate)',
    schema: {
      type: 'object',
      required: ['source'],
      properties: {
        id: { type: 'string' },
        source: { type: 'object' },
        rules: { type: 'object' },
        outOfOrdernessMs: { type: 'integer' },
        closeWindowsAtEnd: { type: 'boolean' },
      },
    },
  })
  @ApiResponse({ status: 201, description: 'the replay, state waiting or active' })
  @ApiResponse({ status: 400, description: '`errors` lists `{field, reason}`' })
  async start(@Body() body: unknown, @Req() request: AuthenticatedRequest): Promise<ReplayView> {
    return this.replays.start(parseReplayRequest(body), request.principal as Principal);
  }

  @Post('uploads')
  @RequireRole('editor')
  @UseGuards(WriteThrottlerGuard)
  @ApiConsumes('application/x-ndjson', 'text/plain')
  @ApiOperation({ summary: 'Upload a JSON-lines file of events (one event a line) to replay with source type upload' })
  async upload(@Body() body: unknown): Promise<{ uploadId: string; lines: number; bytes: number }> {
    if (typeof body !== 'string' || body.trim() === '') {
      throw badRequest('send the events as the raw body with Content-Type application/x-ndjson', [
        { field: '/', reason: 'must be non-empty JSON lines' },
      ]);
    }
    return this.replays.upload(body);
  }

  @Get()
  @ApiOperation({ summary: 'Recent replays, newest first' })
  async list(): Promise<ReplayView[]> {
    return this.replays.list();
  }

  @Get(':id')
  @ApiOperation({ summary: 'A replay: state, progress, and the summary once done (alerts per rule, events, duration)' })
  async get(@Param('id') id: string): Promise<ReplayView> {
    return this.replays.view(id);
  }

  @Post(':id/cancel')
  @RequireRole('editor')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a replay: a waiting one is removed, a running one stops at its next batch' })
  async cancel(@Param('id') id: string): Promise<ReplayView> {
    return this.replays.cancel(id);
  }
}
