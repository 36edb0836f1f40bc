import { Controller, Get, Query, Sse, type MessageEvent } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { filter, map, type Observable } from 'rxjs';
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

/** Alerts: the latest, filtered, and a live tail as server-sent events. */
@ApiTags('alerts')
@ApiSecurity('api-key')
@Controller('alerts')
export class AlertsController {
  constructor(private readonly alerts: AlertsService) {}

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

  @Sse('stream')
  @ApiOperation({ summary: 'Live tail (text/event-stream): every committed alert matching the filters, as it arrives' })
  @ApiQuery(FILTER_QUERIES[0])
  @ApiQuery(FILTER_QUERIES[1])
  @ApiQuery(FILTER_QUERIES[2])
  stream(@Query() query: Record<string, string>): Observable<MessageEvent> {
    const wanted = parseFilter(query);
    return this.alerts.live.pipe(
      filter((alert) => matchesFilter(alert, wanted)),
      map((alert) => ({ id: alert.alertId, type: 'alert', data: alert })),
    );
  }
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
