import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { RulesTopicReader, type RuleRecord } from '@cepheus/kafka';
import type { ApiConfig } from '../config/api-config';
import { InfraService } from '../kafka/infra.service';
import { API_CONFIG } from '../tokens';

/** A rule as the rules topic holds it now. */
export interface CurrentRule {
  id: string;
  version: number;
  status: string;
  document: Record<string, unknown>;
  /** Offset of the record on the rules topic (undefined until the reader has seen this API's own write). */
  offset?: string;
}

/**
 * The API's view of the rules topic: it reads the whole topic like an engine does (so rules pushed by the CLI or
 * anyone else show up too), keeps the latest record per id in memory, and stores every version ever seen in Redis
 * (a hash per rule, version -> document) so that old versions can be read back and replayed after compaction.
 */
@Injectable()
export class RulesStoreService implements OnModuleInit, OnApplicationShutdown {
  private readonly current = new Map<string, CurrentRule>();
  private reader: RulesTopicReader | undefined;

  constructor(
    private readonly infra: InfraService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    // Same settings the engine creates it with: one partition (one order for every instance), compacted.
    await this.infra.ensureTopic('rules');
    this.reader = new RulesTopicReader(this.infra.kafka, {
      topic: this.config.CEPHEUS_RULES_TOPIC,
      clientName: 'cepheus-api-rules',
    });
    await this.reader.start((record) => this.onRecord(record));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.reader?.stop().catch(() => undefined);
  }

  list(): CurrentRule[] {
    return [...this.current.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  get(id: string): CurrentRule | undefined {
    return this.current.get(id);
  }

  /** Every stored version of a rule, ascending. */
  async versions(id: string): Promise<Array<{ version: number; document: Record<string, unknown> }>> {
    const all = await this.infra.redis.hgetall(this.infra.key('rule', id, 'versions'));
    return Object.entries(all)
      .map(([version, text]) => ({ version: Number(version), document: JSON.parse(text) as Record<string, unknown> }))
      .sort((a, b) => a.version - b.version);
  }

  async version(id: string, version: number): Promise<Record<string, unknown> | undefined> {
    const text = await this.infra.redis.hget(this.infra.key('rule', id, 'versions'), String(version));
    return text === null ? undefined : (JSON.parse(text) as Record<string, unknown>);
  }

  /** The highest version ever seen for the id, deleted ones included: a new version must be above it. */
  async highestVersion(id: string): Promise<number> {
    const versions = await this.infra.redis.hkeys(this.infra.key('rule', id, 'versions'));
    const fromTopic = this.current.get(id)?.version ?? 0;
    return Math.max(fromTopic, 0, ...versions.map(Number));
  }

  /** Publishes a rule version (key = id) or a tombstone (null), then reflects it here at once (read your writes). */
  async publish(id: string, document: Record<string, unknown> | null): Promise<void> {
    const value = document === null ? null : JSON.stringify(document);
    if (document !== null) {
      await this.infra.redis.hset(this.infra.key('rule', id, 'versions'), String(document.version), value as string);
    }
    await this.infra.producer.send({
      topic: this.config.CEPHEUS_RULES_TOPIC,
      acks: -1,
      messages: [{ key: id, value }],
    });
    this.apply(id, document);
  }

  private onRecord(record: RuleRecord): void {
    if (record.value === null) {
      this.apply(record.ruleId, null);
      return;
    }
    let document: Record<string, unknown>;
    try {
      document = JSON.parse(record.value) as Record<string, unknown>;
    } catch {
      return; // not JSON: the engines reject it too
    }
    if (typeof document.version === 'number') {
      void this.infra.redis
        .hsetnx(this.infra.key('rule', record.ruleId, 'versions'), String(document.version), record.value)
        .catch(() => undefined);
    }
    const applied = this.apply(record.ruleId, document);
    if (applied) applied.offset = record.offset;
  }

  private apply(id: string, document: Record<string, unknown> | null): CurrentRule | undefined {
    if (document === null || document.status === 'deleted') {
      this.current.delete(id);
      return undefined;
    }
    const version = Number(document.version);
    const existing = this.current.get(id);
    // The engines ignore a version that is not newer; so does this view.
    if (existing && existing.version >= version) return existing.version === version ? existing : undefined;
    const rule: CurrentRule = { id, version, status: String(document.status ?? 'active'), document };
    this.current.set(id, rule);
    return rule;
  }
}
