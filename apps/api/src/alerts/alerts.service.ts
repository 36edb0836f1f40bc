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
    await this.infra.ensureTopic('alerts');
    const offsets = await whileRetriable(() => this.infra.admin.fetchTopicOffsets(topic));
    const keep = this.config.CEPHEUS_API_RECENT_ALERTS;
    const groupId = `cepheus-api-alerts-${randomUUID()}`;
    // The starting offsets are committed for the fresh group before it starts, rather than sought after `run`: a seek
    // made while kafkajs restarts a consumer that failed to join (a busy broker) throws "consumer group was not
    // initialized" and stopped the API's start.
    await whileRetriable(() =>
      this.infra.admin.setOffsets({
        groupId,
        topic,
        partitions: offsets.map(({ partition, low, high }) => ({
          partition,
          offset: String(Math.max(Number(low), Number(high) - keep)),
        })),
      }),
    );
    this.consumer = this.infra.kafka.consumer({ groupId, readUncommitted: false });
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
  }

  async onApplicationShutdown(): Promise<void> {
    this.live.complete();
    await this.consumer?.disconnect().catch(() => undefined);
  }

  /**
   * The alerts kept after the one with id `lastEventId`, oldest first, matching `filter`; undefined when that alert
   * is no longer (or never was) among the kept ones. Synchronous, so a caller that subscribes to `live` in the same
   * turn misses nothing and sees nothing twice.
   */
  since(lastEventId: string, filter: AlertFilter): AlertView[] | undefined {
    let at = -1;
    for (let i = this.recent.length - 1; i >= 0; i--) {
      if (this.recent[i].alertId === lastEventId) {
        at = i;
        break;
      }
    }
    if (at < 0) return undefined;
    return this.recent.slice(at + 1).filter((alert) => matchesFilter(alert, filter));
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

/**
 * Retries a Kafka call that fails with a retriable error (a topic just created whose leader is not known everywhere
 * yet answers NOT_LEADER_OR_FOLLOWER for a moment), for up to about 30 s; any other error is thrown at once.
 */
async function whileRetriable<T>(call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await call();
    } catch (error) {
      if ((error as { retriable?: unknown }).retriable !== true || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
