import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Consumer } from 'kafkajs';
import type { ApiConfig } from '../config/api-config';
import { InfraService } from '../kafka/infra.service';
import { API_CONFIG } from '../tokens';

/** What one engine instance reported for one rule (a record of the rules-status topic). */
export interface RuleStatusReport {
  ruleId: string;
  version: number | null;
  status: string;
  reason?: string;
  errors?: Array<{ field: string; reason: string }>;
  instanceId: string;
  jobId?: string;
  rulesOffset?: string;
  broadcastDigest: string;
  at: string;
}

/** The last thing an instance reported, whatever the rule. */
export interface InstanceReport {
  instanceId: string;
  jobId?: string;
  broadcastDigest: string;
  rulesOffset?: string;
  at: string;
}

/**
 * Follows the `rules-status` topic from its beginning: per rule, each instance's latest report, and per instance its
 * latest broadcast digest. Equal digests on every instance mean identical rule state.
 */
@Injectable()
export class RuleStatusService implements OnModuleInit, OnApplicationShutdown {
  private readonly byRule = new Map<string, Map<string, RuleStatusReport>>();
  private readonly byInstance = new Map<string, InstanceReport>();
  private consumer: Consumer | undefined;

  constructor(
    private readonly infra: InfraService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    const topic = this.config.CEPHEUS_RULES_STATUS_TOPIC;
    await this.infra.ensureTopic('rulesStatus');
    this.consumer = this.infra.kafka.consumer({
      groupId: `cepheus-api-status-${randomUUID()}`,
      readUncommitted: false,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        try {
          this.onReport(JSON.parse(message.value?.toString('utf8') ?? 'null') as RuleStatusReport);
        } catch {
          // not a status record
        }
      },
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }

  forRule(ruleId: string): RuleStatusReport[] {
    return [...(this.byRule.get(ruleId)?.values() ?? [])].sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  }

  instances(): InstanceReport[] {
    return [...this.byInstance.values()].sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  }

  private onReport(report: RuleStatusReport | null): void {
    if (!report || typeof report.ruleId !== 'string' || typeof report.instanceId !== 'string') return;
    let perInstance = this.byRule.get(report.ruleId);
    if (!perInstance) this.byRule.set(report.ruleId, (perInstance = new Map()));
    perInstance.set(report.instanceId, report);
    this.byInstance.set(report.instanceId, {
      instanceId: report.instanceId,
      jobId: report.jobId,
      broadcastDigest: report.broadcastDigest,
      rulesOffset: report.rulesOffset,
      at: report.at,
    });
  }
}
