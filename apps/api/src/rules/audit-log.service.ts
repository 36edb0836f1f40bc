import { Injectable } from '@nestjs/common';
import type { Principal } from '../auth/api-keys';
import { InfraService } from '../kafka/infra.service';
import type { FieldChange } from './rule-diff';

export type AuditAction = 'create' | 'update' | 'pause' | 'resume' | 'delete';

/** One entry of the audit log. */
export interface AuditEntry {
  /** The Redis stream id: orders entries, and says when. */
  id: string;
  at: string;
  who: string;
  role: string;
  action: AuditAction;
  ruleId: string;
  version: number | null;
  changes: FieldChange[];
}

/** Most entries kept per stream (approximately: Redis trims whole nodes). */
const MAX_ENTRIES = 100_000;

/**
 * Who changed which rule, when, and how: Redis streams, one per rule and one global, appended in one MULTI so that both
 * always agree. Streams give time-ordered ids and cheap reads from the newest end.
 */
@Injectable()
export class AuditLogService {
  constructor(private readonly infra: InfraService) {}

  async record(
    principal: Principal,
    action: AuditAction,
    ruleId: string,
    version: number | null,
    changes: FieldChange[],
  ): Promise<void> {
    const fields = [
      'at',
      new Date().toISOString(),
      'who',
      principal.keyId,
      'role',
      principal.role,
      'action',
      action,
      'ruleId',
      ruleId,
      'version',
      version === null ? '' : String(version),
      'changes',
      JSON.stringify(changes),
    ];
    await this.infra.redis
      .multi()
      .xadd(this.infra.key('audit', 'rule', ruleId), 'MAXLEN', '~', String(MAX_ENTRIES), '*', ...fields)
      .xadd(this.infra.key('audit'), 'MAXLEN', '~', String(MAX_ENTRIES), '*', ...fields)
      .exec();
  }

  /** Newest first. */
  async read(ruleId: string | undefined, limit: number): Promise<AuditEntry[]> {
    const key = ruleId === undefined ? this.infra.key('audit') : this.infra.key('audit', 'rule', ruleId);
    const rows = await this.infra.redis.xrevrange(key, '+', '-', 'COUNT', limit);
    return rows.map(([id, flat]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) f[flat[i]] = flat[i + 1];
      return {
        id,
        at: f.at,
        who: f.who,
        role: f.role,
        action: f.action as AuditAction,
        ruleId: f.ruleId,
        version: f.version === '' ? null : Number(f.version),
        changes: JSON.parse(f.changes ?? '[]') as FieldChange[],
      };
    });
  }
}
