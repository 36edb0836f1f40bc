import { Controller, Get, Inject, Query, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { ServerResponse } from 'node:http';
import { filter } from 'rxjs';
import type { AuthenticatedRequest } from '../auth/roles';
import type { ApiConfig } from '../config/api-config';
import { API_CONFIG } from '../tokens';
import { AlertStreams } from './alert-streams';
import { badRequest } from '../http-errors';
import { parseLimit } from '../rules/rules.controller';
import { AlertsService, matchesFilter, type AlertFilter, type AlertView } from './alerts.service';

const FILTER_QUERIES = [
  { name: 'ruleId', required: false, description: 'only this rule' },
  { name: 'key', required: false, description: 'only this group key, e.g. `cardId=card-7`' },
  { name: 'severity', required: false, description: 'only this severity' },
  { name: 'from', required: false, description: 'event time lower bound (epoch ms or ISO-8601)' },
  { name: 'to', required: false, description: 'event time upper bound (epoch ms or ISO-8601)' },
];

/**
 * Alerts: the latest, filtered, and a live tail as server-sent events. The tail is written by hand rather than with
 * Nest's `@Sse`, which can send neither a heartbeat comment nor a `retry` field, and gives no hook to replay what a
 * reconnecting client missed.
 */
@ApiTags('alerts')
@ApiSecurity('api-key')
@Controller('alerts')
export class AlertsController {
  private readonly heartbeatMs: number;

  constructor(
    private readonly alerts: AlertsService,
    @Inject(AlertStreams) private readonly streams: AlertStreams,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {
    this.heartbeatMs = config.CEPHEUS_API_SSE_HEARTBEAT_MS;
  }

  @Get()
  @ApiOperation({ summary: 'The latest committed alerts, newest first' })
  @ApiQuery({ name: 'limit', required: false, description: '1..1000, default 100' })
  @ApiQuery(FILTER_QUERIES[0])
  @ApiQuery(FILTER_QUERIES[1])
  @ApiQuery(FILTER_QUERIES[2])
  @ApiQuery(FILTER_QUERIES[3])
  @ApiQuery(FILTER_QUERIES[4])
  latest(@Query() query: Record<string, string>): AlertView[] {
    return this.alerts.latest(parseFilter(query), parseLimit(query.limit));
  }

  @Get('stream')
  @ApiOperation({
    summary:
      'Live tail (text/event-stream): every committed alert matching the filters, as it arrives; a heartbeat comment ' +
      'every CEPHEUS_API_SSE_HEARTBEAT_MS; resumes after the alert named by Last-Event-ID',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'resume after this alert id (sent by EventSource)',
  })
  @ApiQuery(FILTER_QUERIES[0])
  @ApiQuery(FILTER_QUERIES[1])
  @ApiQuery(FILTER_QUERIES[2])
  @ApiQuery({ name: 'lastEventId', required: false, description: 'the same as the Last-Event-ID header' })
  @ApiResponse({ status: 429, description: 'too many live streams open for this key (or in all)' })
  stream(
    @Query() query: Record<string, string>,
    @Req() request: AuthenticatedRequest,
    @Res() response: ServerResponse,
  ): void {
    const wanted = parseFilter(query);
    const header = request.headers['last-event-id'];
    const lastEventId = (typeof header === 'string' && header !== '' ? header : undefined) ?? query.lastEventId;
    const close = this.streams.open(request.principal?.keyId ?? 'unknown');
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // Proxies that buffer responses (nginx) would hold back the events and the heartbeat.
      'X-Accel-Buffering': 'no',
    });
    const send = (text: string): void => {
      // A reader that stopped reading is dropped rather than buffered for without bound.
      if (response.writableLength > MAX_BUFFERED_BYTES) {
        response.destroy();
        return;
      }
      response.write(text);
    };
    send(`retry: ${RECONNECT_MS}\n\n`);
    if (lastEventId !== undefined) {
      // Read the kept alerts and subscribe in the same turn: nothing arrives in between.
      const missed = this.alerts.since(lastEventId, wanted);
      if (missed === undefined) {
        send(
          event('gap', undefined, {
            lastEventId,
            message: `alert ${lastEventId} is not among the ${this.config.CEPHEUS_API_RECENT_ALERTS} kept (CEPHEUS_API_RECENT_ALERTS): alerts in between may be missing; see GET /alerts`,
          }),
        );
      } else {
        for (const alert of missed) send(event('alert', alert.alertId, alert));
      }
    }
    const subscription = this.alerts.live.pipe(filter((alert) => matchesFilter(alert, wanted))).subscribe({
      next: (alert) => send(event('alert', alert.alertId, alert)),
      complete: () => response.end(),
    });
    const heartbeat = setInterval(() => send(`: heartbeat ${new Date().toISOString()}\n\n`), this.heartbeatMs);
    heartbeat.unref();
    response.once('close', () => {
      clearInterval(heartbeat);
      subscription.unsubscribe();
      close();
    });
  }
}

/** What a client waits before it reconnects (the SSE `retry` field). */
const RECONNECT_MS = 3000;
/** Output buffered for one stream before its reader counts as gone. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** One server-sent event; `data` is JSON on one line (JSON.stringify escapes every newline). */
function event(type: string, id: unknown, data: unknown): string {
  // An alert without a string id (not written by an engine) goes out without one rather than breaking the stream.
  const idLine = typeof id === 'string' ? `id: ${id.replace(/[\r\n]/g, '')}\n` : '';
  return `${idLine}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

function parseFilter(query: Record<string, string>): AlertFilter {
  const out: AlertFilter = { ruleId: query.ruleId, key: query.key, severity: query.severity };
  for (const bound of ['from', 'to'] as const) {
    const text = query[bound];
    if (text === undefined || text === '') continue;
    const value = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
    if (Number.isNaN(value)) {
      throw badRequest('invalid query', [{ field: bound, reason: 'must be epoch milliseconds or an ISO-8601 date' }]);
    }
    out[bound] = value;
  }
  return out;
}
