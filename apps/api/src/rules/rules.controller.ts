import { Body, Controller, Delete, Get, HttpCode, Param, ParseIntPipe, Post, Put, Query, Req } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiQuery, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { EXAMPLE_FACTS, FactRegistry, validateRule } from '@cepheus/rules';
import type { Principal } from '../auth/api-keys';
import { RateLimitAs, RequireRole, type AuthenticatedRequest } from '../auth/roles';
import { badRequest, conflict, notFound } from '../http-errors';
import { AuditLogService, type AuditAction, type AuditEntry } from './audit-log.service';
import { diffDocuments } from './rule-diff';
import { RuleStatusService } from './rule-status.service';
import { RulesStoreService } from './rules-store.service';

const RULE_BODY = {
  description: 'A rule document (docs/rule.schema.json). `version` may be left out: the next free one is used.',
  schema: { type: 'object', additionalProperties: true },
};
const ERROR_400 = { status: 400, description: 'invalid rule: `errors` lists `{field, reason}` with JSON Pointers' };

/** The facts the engines know (the same default registry), so that validation here matches theirs. */
const facts = new FactRegistry(EXAMPLE_FACTS);

/** Rules: validate, create, change, pause, resume, delete, read with versions, instance statuses and audit. */
@ApiTags('rules')
@ApiSecurity('api-key')
@Controller()
export class RulesController {
  constructor(
    private readonly store: RulesStoreService,
    private readonly statuses: RuleStatusService,
    private readonly audit: AuditLogService,
  ) {}

  @Post('rules/validate')
  @RateLimitAs('reads')
  @HttpCode(200)
  @ApiOperation({ summary: 'Check a rule without saving it' })
  @ApiBody(RULE_BODY)
  @ApiResponse({ status: 200, description: '`{valid: true}` or `{valid: false, errors: [{field, reason}]}`' })
  validate(@Body() body: unknown): { valid: boolean; errors: Array<{ field: string; reason: string }> } {
    const result = validateRule(body, { facts });
    return result.ok ? { valid: true, errors: [] } : { valid: false, errors: result.errors };
  }

  @Get('rules')
  @ApiOperation({ summary: 'The rules in force (latest version of each id on the rules topic)' })
  list(): Array<Record<string, unknown>> {
    return this.store.list().map((rule) => ({
      id: rule.id,
      version: rule.version,
      status: rule.status,
      type: rule.document.type,
      severity: rule.document.severity,
      instances: this.statuses
        .forRule(rule.id)
        .map((s) => ({ instanceId: s.instanceId, version: s.version, status: s.status })),
    }));
  }

  @Get('rules/:id')
  @ApiOperation({ summary: 'A rule: current document, every stored version, and what each engine instance reported' })
  async get(@Param('id') id: string): Promise<Record<string, unknown>> {
    const current = this.store.get(id);
    const versions = await this.store.versions(id);
    if (!current && versions.length === 0) throw notFound(`no rule "${id}"`);
    return {
      id,
      current: current?.document ?? null,
      version: current?.version ?? null,
      status: current?.status ?? 'deleted',
      versions,
      instances: this.statuses.forRule(id),
    };
  }

  @Get('rules/:id/versions/:version')
  @ApiOperation({ summary: 'One stored version of a rule' })
  async getVersion(
    @Param('id') id: string,
    @Param('version', ParseIntPipe) version: number,
  ): Promise<Record<string, unknown>> {
    const document = await this.store.version(id, version);
    if (!document) throw notFound(`rule "${id}" has no stored version ${version}`);
    return document;
  }

  @Post('rules')
  @RequireRole('editor')
  @ApiOperation({ summary: 'Create a rule: published on the rules topic (key = id)' })
  @ApiBody(RULE_BODY)
  @ApiResponse({ status: 201, description: 'the published document' })
  @ApiResponse(ERROR_400)
  @ApiResponse({ status: 409, description: 'a rule with this id is in force (use PUT), or the version is taken' })
  async create(@Body() body: unknown, @Req() request: AuthenticatedRequest): Promise<Record<string, unknown>> {
    const document = asObject(body);
    const id = typeof document.id === 'string' ? document.id : undefined;
    if (id && this.store.get(id)) throw conflict(`rule "${id}" exists: change it with PUT /rules/${id}`);
    const next = await this.prepare(document, id, 'active');
    await this.write(request, 'create', next.id as string, undefined, next);
    return next;
  }

  @Put('rules/:id')
  @RequireRole('editor')
  @ApiOperation({ summary: 'Publish a new version of a rule (the whole document)' })
  @ApiBody(RULE_BODY)
  @ApiResponse(ERROR_400)
  async update(
    @Param('id') id: string,
    @Body() body: unknown,
    @Req() request: AuthenticatedRequest,
  ): Promise<Record<string, unknown>> {
    const current = this.store.get(id);
    if (!current) throw notFound(`no rule "${id}" in force: create it with POST /rules`);
    const document = asObject(body);
    if (document.id !== undefined && document.id !== id) {
      throw badRequest('the id in the body differs from the path', [{ field: '/id', reason: `must equal "${id}"` }]);
    }
    const next = await this.prepare({ ...document, id }, id, current.status);
    await this.write(request, 'update', id, current.document, next);
    return next;
  }

  @Post('rules/:id/pause')
  @RequireRole('editor')
  @HttpCode(200)
  @ApiOperation({ summary: 'Publish the next version with status paused' })
  async pause(@Param('id') id: string, @Req() request: AuthenticatedRequest): Promise<Record<string, unknown>> {
    return this.changeStatus(id, 'paused', 'pause', request);
  }

  @Post('rules/:id/resume')
  @RequireRole('editor')
  @HttpCode(200)
  @ApiOperation({ summary: 'Publish the next version with status active' })
  async resume(@Param('id') id: string, @Req() request: AuthenticatedRequest): Promise<Record<string, unknown>> {
    return this.changeStatus(id, 'active', 'resume', request);
  }

  @Delete('rules/:id')
  @RequireRole('editor')
  @ApiOperation({ summary: 'Delete a rule: a tombstone on the rules topic; engines drop it and its state' })
  async remove(@Param('id') id: string, @Req() request: AuthenticatedRequest): Promise<{ id: string; deleted: true }> {
    const current = this.store.get(id);
    if (!current) throw notFound(`no rule "${id}" in force`);
    await this.store.publish(id, null);
    await this.audit.record(principalOf(request), 'delete', id, null, diffDocuments(current.document, null));
    return { id, deleted: true };
  }

  @Get('rules/:id/audit')
  @ApiOperation({ summary: "A rule's audit log, newest first" })
  @ApiQuery({ name: 'limit', required: false, description: 'entries to return (1..1000, default 100)' })
  async ruleAudit(@Param('id') id: string, @Query('limit') limit?: string): Promise<AuditEntry[]> {
    return this.audit.read(id, parseLimit(limit));
  }

  @Get('audit')
  @ApiOperation({ summary: 'The global audit log of rule changes, newest first' })
  @ApiQuery({ name: 'limit', required: false, description: 'entries to return (1..1000, default 100)' })
  async globalAudit(@Query('limit') limit?: string): Promise<AuditEntry[]> {
    return this.audit.read(undefined, parseLimit(limit));
  }

  private async changeStatus(
    id: string,
    status: 'paused' | 'active',
    action: AuditAction,
    request: AuthenticatedRequest,
  ): Promise<Record<string, unknown>> {
    const current = this.store.get(id);
    if (!current) throw notFound(`no rule "${id}" in force`);
    const next = { ...current.document, status, version: (await this.store.highestVersion(id)) + 1 };
    await this.write(request, action, id, current.document, next);
    return next;
  }

  /** Fills id/version/status defaults, then validates exactly as the engines will (400 naming each field). */
  private async prepare(
    document: Record<string, unknown>,
    id: string | undefined,
    defaultStatus: string,
  ): Promise<Record<string, unknown>> {
    const next = { ...document };
    if (next.status === undefined) next.status = defaultStatus;
    if (id !== undefined) {
      const highest = await this.store.highestVersion(id);
      if (next.version === undefined) next.version = highest + 1;
      else if (typeof next.version === 'number' && next.version <= highest) {
        throw conflict(`version ${next.version} of "${id}" is taken`, [
          { field: '/version', reason: `must be greater than ${highest}` },
        ]);
      }
    }
    const result = validateRule(next, { facts });
    if (!result.ok) throw badRequest('the rule is invalid', result.errors);
    if (next.status === 'deleted') {
      throw badRequest('use DELETE to delete a rule', [{ field: '/status', reason: 'must be "active" or "paused"' }]);
    }
    return next;
  }

  private async write(
    request: AuthenticatedRequest,
    action: AuditAction,
    id: string,
    before: Record<string, unknown> | undefined,
    after: Record<string, unknown>,
  ): Promise<void> {
    await this.store.publish(id, after);
    await this.audit.record(principalOf(request), action, id, Number(after.version), diffDocuments(before, after));
  }
}

function asObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('the body must be a JSON object (a rule)', [{ field: '/', reason: 'must be object' }]);
  }
  return body as Record<string, unknown>;
}

function principalOf(request: AuthenticatedRequest): Principal {
  if (!request.principal) throw new Error('no principal: the API key guard did not run');
  return request.principal;
}

export function parseLimit(limit: string | undefined, max = 1000, fallback = 100): number {
  if (limit === undefined || limit === '') return fallback;
  const n = Number(limit);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw badRequest('invalid query', [{ field: 'limit', reason: `must be an integer between 1 and ${max}` }]);
  }
  return n;
}
