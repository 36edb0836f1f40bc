import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Consumer } from 'kafkajs';
import { Subject } from 'rxjs';
import type { ApiConfig } from '../config/api-config';
import { InfraService } from '../kafka/infra.service';
import { API_CONFIG } from '../tokens';

/** An alert as the engines write it (the fields the filters use; the rest is kept as is). */
export interface AlertView {
  alertId: string;
  ruleId: string;
  ruleVersion?: number;
  key: string;
  severity?: string;
  /** Event time of the alert's last event: what the time filters compare. */
  lastEventTime?: number;
  [field: string]: unknown;
}

/** Filters of `GET /alerts` and `GET /alerts/stream`. */
export interface AlertFilter {
  ruleId?: string;
  key?: string;
  severity?: string;
  /** Event time bounds, epoch ms, inclusive. */
  from?: number;
  to?: number;
}

export function matchesFilter(alert: AlertView, filter: AlertFilter): boolean {
  if (filter.ruleId !== undefined && alert.ruleId !== filter.ruleId) return false;
  if (filter.key !== undefined && alert.key !== filter.key) return false;
  if (filter.severity !== undefined && alert.severity !== filter.severity) return false;
  const time = alertTime(alert);
  if (filter.from !== undefined && (time === undefined || time < filter.from)) return false;
  if (filter.to !== undefined && (time === undefined || time > filter.to)) return false;
  return true;
}

function alertTime(alert: AlertView): number | undefined {
  return typeof alert.lastEventTime === 'number' ? alert.lastEventTime : undefined;
}

/**
 * Follows the alerts topic (read_committed: only alerts of committed checkpoints) and keeps the latest ones in memory
 * for `GET /alerts`; every new alert is also pushed to the live tail's subscribers. At start it reads back the last
 * `CEPHEUS_API_RECENT_ALERTS` alerts of each partition, so the list is not empty after a restart.
 */
@Injectable()
export class AlertsService implements OnModuleInit, OnApplicationShutdown {
  readonly live = new Subject<AlertView>();
  private readonly recent: AlertView[] = [];
  private consumer: Consumer | undefined;

  constructor(
    private readonly infra: InfraService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    const topic = this.config.CEPHEUS_ALERTS_TOPIC;
    await this.infra.ensureTopic(topic, 4);
    const offsets = await this.infra.admin.fetchTopicOffsets(topic);
    const keep = this.config.CEPHEUS_API_RECENT_ALERTS;
    this.consumer = this.infra.kafka.consumer({
      groupId: `cepheus-api-alerts-${randomUUID()}`,
      readUncommitted: false,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        let alert: AlertView;
        try {
          alert = JSON.parse(message.value?.toString('utf8') ?? 'null') as AlertView;
        } catch {
          return;
        }
        if (alert === null || typeof alert !== 'object') return;
        this.recent.push(alert);
        if (this.recent.length > keep) this.recent.splice(0, this.recent.length - keep);
        this.live.next(alert);
      },
    });
    for (const { partition, low, high } of offsets) {
      const start = Math.max(Number(low), Number(high) - keep);
      this.consumer.seek({ topic, partition, offset: String(start) });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.live.complete();
    await this.consumer?.disconnect().catch(() => undefined);
  }

  /** Newest first. */
  latest(filter: AlertFilter, limit: number): AlertView[] {
    const out: AlertView[] = [];
    for (let i = this.recent.length - 1; i >= 0 && out.length < limit; i--) {
      if (matchesFilter(this.recent[i], filter)) out.push(this.recent[i]);
    }
    return out;
  }
}
