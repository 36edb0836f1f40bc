import { Body, Controller, Get, HttpCode, HttpException, Param, Post, Req, Res } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { ApiBody, ApiConsumes, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Principal } from '../auth/api-keys';
import { RateLimitAs, RequireRole, type AuthenticatedRequest } from '../auth/roles';
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
  @ApiConsumes('application/x-ndjson', 'text/plain')
  @ApiOperation({ summary: 'Upload a JSON-lines file of events (one event a line) to replay with source type upload' })
  @ApiResponse({ status: 413, description: 'larger than a byte limit (`limit`, `quota` name it)' })
  @ApiResponse({ status: 429, description: 'an upload quota is used up until older uploads expire (`Retry-After`)' })
  async upload(
    @Body() body: unknown,
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) response: ServerResponse,
  ): Promise<{ uploadId: string; lines: number; bytes: number; expiresAt: string }> {
    if (typeof body !== 'string' || body.trim() === '') {
      throw badRequest('send the events as the raw body with Content-Type application/x-ndjson', [
        { field: '/', reason: 'must be non-empty JSON lines' },
      ]);
    }
    try {
      return await this.replays.upload(body, request.principal as Principal);
    } catch (error) {
      const retryAfter = error instanceof HttpException ? retryAfterOf(error) : undefined;
      if (retryAfter !== undefined) response.setHeader('Retry-After', String(retryAfter));
      throw error;
    }
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
  // Counted as a read: a key that used up its writes can still stop a runaway replay.
  @RateLimitAs('reads')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a replay: a waiting one is removed, a running one stops at its next batch' })
  async cancel(@Param('id') id: string): Promise<ReplayView> {
    return this.replays.cancel(id);
  }
}

function retryAfterOf(error: HttpException): number | undefined {
  const body = error.getResponse();
  if (typeof body !== 'object' || body === null) return undefined;
  const seconds = (body as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  return typeof seconds === 'number' ? seconds : undefined;
}
