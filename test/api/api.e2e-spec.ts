import { SHAPES_RULES } from '@cepheus/rules';
import request from 'supertest';
import { startEngine, type EngineProcess } from '../support/engine-process';
import { uniqueName } from '../support/services';
import { apiTopicEnv, engineTopicEnv, produce, testTopics, TopicTail } from '../support/topics';
import { eventually, KEYS, startApi, type ApiProcess } from './api-process';

const rule = SHAPES_RULES[0] as Record<string, unknown> & { id: string };

function shape(id: string, colour: string, kind: string, timestamp: number) {
  return { key: colour, value: JSON.stringify({ id, type: 'shape', shape: kind, colour, timestamp }) };
}

describe('API end to end: rules written through the API run in a real engine', () => {
  const topics = testTopics('api');
  const jobId = uniqueName('apijob');
  let engine: EngineProcess;
  let api: ApiProcess;
  let alerts: TopicTail;

  beforeAll(async () => {
    engine = await startEngine({
      ...engineTopicEnv(topics),
      CEPHEUS_JOB_ID: jobId,
      CEPHEUS_CHECKPOINT_INTERVAL_MS: '300',
      CEPHEUS_EVENT_PARTITIONS: '2',
      CEPHEUS_INSTANCE_ID: 'api-engine-1',
    });
    api = await startApi({
      ...apiTopicEnv(topics),
      CEPHEUS_JOB_ID: jobId,
      CEPHEUS_API_REDIS_PREFIX: uniqueName('api'),
      CEPHEUS_ENGINE_URLS: `http://127.0.0.1:${engine.port}`,
      CEPHEUS_API_WRITE_LIMIT_PER_MINUTE: '30',
    });
    alerts = await TopicTail.start(topics.alerts);
  }, 120_000);

  afterAll(async () => {
    await alerts?.stop();
    await api?.stop();
    await engine?.stop();
  });

  it('refuses without a key (401), with an unknown key (401), and a reader that writes (403), with JSON bodies', async () => {
    const none = await request(api.url).get('/rules');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({
      statusCode: 401,
      error: 'Unauthorized',
      message: expect.stringMatching(/X-API-Key/),
    });
    expect((await request(api.url).get('/rules').set('X-API-Key', 'not-a-key')).status).toBe(401);
    const reader = await request(api.url).post('/rules').set('X-API-Key', KEYS.reader).send(rule);
    expect(reader.status).toBe(403);
    expect(reader.body).toMatchObject({ statusCode: 403, requiredRole: 'editor', role: 'reader' });
    expect((await request(api.url).get('/rules').set('X-API-Key', KEYS.reader)).status).toBe(200);
    // Savepoints need admin; an editor is refused.
    expect((await request(api.url).post('/savepoints').set('X-API-Key', KEYS.editor)).status).toBe(403);
  });

  it('answers a bad rule with 400 naming the field, and validates without saving', async () => {
    const bad = await request(api.url)
      .post('/rules')
      .set('X-API-Key', KEYS.editor)
      .send({ ...rule, id: 'bad-rule', severity: 'apocalyptic' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([expect.objectContaining({ field: '/severity' })]);
    const checked = await request(api.url)
      .post('/rules/validate')
      .set('X-API-Key', KEYS.reader)
      .send({ ...rule, window: 3 });
    expect(checked.status).toBe(200);
    expect(checked.body.valid).toBe(false);
    expect(checked.body.errors.map((e: { field: string }) => e.field)).toContain('/window');
    expect((await request(api.url).get('/rules/bad-rule').set('X-API-Key', KEYS.reader)).status).toBe(404);
  });

  it('publishes a rule that fires in the engine, shows each instance status, pauses it, and audits every change', async () => {
    const { version: _version, ...withoutVersion } = rule;
    const created = await request(api.url).post('/rules').set('X-API-Key', KEYS.editor).send(withoutVersion);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: rule.id, version: 1, status: 'active' });
    expect((await request(api.url).post('/rules').set('X-API-Key', KEYS.editor).send(rule)).status).toBe(409);

    // The engine applied it and said so on rules-status; the API shows that per instance.
    const detail = await eventually(
      async () => {
        const res = await request(api.url).get(`/rules/${rule.id}`).set('X-API-Key', KEYS.reader);
        return res.body.instances?.some(
          (i: { status: string; version: number }) => i.status === 'applied' && i.version === 1,
        )
          ? res.body
          : undefined;
      },
      30_000,
      'the engine to report the rule applied',
    );
    expect(detail.instances).toEqual([expect.objectContaining({ instanceId: 'api-engine-1', status: 'applied' })]);

    // SSE live tail, opened before the events.
    const controller = new AbortController();
    const sse = await fetch(`${api.url}/alerts/stream?ruleId=${rule.id}`, {
      headers: { 'X-API-Key': KEYS.reader },
      signal: controller.signal,
    });
    expect(sse.headers.get('content-type')).toMatch(/text\/event-stream/);
    const firstEvent = (async () => {
      const reader = sse.body!.getReader();
      let text = '';
      // Up to the first alert: the stream may open with a retry field and heartbeat comments.
      while (!/event: alert\n[\s\S]*?\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
      return text;
    })();

    let t = 1_700_000_000_000;
    await produce(topics.events, [
      shape('r1', 'red', 'square', (t += 1000)),
      shape('r2', 'red', 'triangle', (t += 1000)),
      shape('b1', 'blue', 'square', (t += 1000)),
      shape('b2', 'blue', 'triangle', (t += 1000)),
    ]);
    await alerts.waitFor((a) => a.messages.length >= 2, 30_000, 1000);
    const fired = alerts.values<{ alertId: string; key: string }>();
    expect(fired.map((a) => a.key).sort()).toEqual(['colour=blue', 'colour=red']);

    const streamed = await firstEvent;
    controller.abort();
    expect(streamed).toMatch(/event: alert/);
    expect(fired.map((a) => a.alertId)).toContain(/id: (\w+)/.exec(streamed)?.[1]);

    const recent = await eventually(
      async () => {
        const res = await request(api.url).get('/alerts').query({ key: 'colour=red' }).set('X-API-Key', KEYS.reader);
        return res.body.length === 1 ? res.body : undefined;
      },
      10_000,
      'GET /alerts to list the red alert',
    );
    expect(recent[0]).toMatchObject({ ruleId: rule.id, key: 'colour=red' });
    const none = await request(api.url).get('/alerts').query({ severity: 'nope' }).set('X-API-Key', KEYS.reader);
    expect(none.body).toEqual([]);

    // Pause: the next version, status paused; the engine stops firing.
    const paused = await request(api.url).post(`/rules/${rule.id}/pause`).set('X-API-Key', KEYS.editor);
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ version: 2, status: 'paused' });
    await eventually(
      async () => {
        const res = await request(api.url).get(`/rules/${rule.id}`).set('X-API-Key', KEYS.reader);
        return res.body.instances?.[0]?.version === 2 ? true : undefined;
      },
      30_000,
      'the engine to apply v2',
    );
    await produce(topics.events, [
      shape('g1', 'green', 'square', (t += 1000)),
      shape('g2', 'green', 'triangle', (t += 1000)),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(alerts.messages).toHaveLength(2);

    const full = await request(api.url).get(`/rules/${rule.id}`).set('X-API-Key', KEYS.reader);
    expect(full.body.versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    expect((await request(api.url).get(`/rules/${rule.id}/versions/1`).set('X-API-Key', KEYS.reader)).body.status).toBe(
      'active',
    );

    const audit = await request(api.url).get(`/rules/${rule.id}/audit`).set('X-API-Key', KEYS.reader);
    expect(audit.body.map((e: { action: string }) => e.action)).toEqual(['pause', 'create']);
    expect(audit.body[0]).toMatchObject({
      who: expect.stringMatching(/^editor-[0-9a-f]{8}$/),
      role: 'editor',
      version: 2,
    });
    expect(audit.body[0].changes).toEqual([
      { path: '/status', before: 'active', after: 'paused' },
      { path: '/version', before: 1, after: 2 },
    ]);
    expect(Date.parse(audit.body[0].at)).toBeGreaterThan(Date.now() - 120_000);

    // Delete: a tombstone; the global log has all three.
    expect((await request(api.url).delete(`/rules/${rule.id}`).set('X-API-Key', KEYS.editor)).status).toBe(200);
    expect((await request(api.url).get('/rules').set('X-API-Key', KEYS.reader)).body).toEqual([]);
    const global = await request(api.url).get('/audit').set('X-API-Key', KEYS.reader);
    expect(global.body.map((e: { action: string }) => e.action)).toEqual(['delete', 'pause', 'create']);
  });

  it('shows instances with lag and digest, checkpoints, and takes, lists and deletes a savepoint', async () => {
    const instances = await eventually(
      async () => {
        const res = await request(api.url).get('/instances').set('X-API-Key', KEYS.reader);
        return res.body.engines?.[0]?.reachable && res.body.reported?.length === 1 ? res.body : undefined;
      },
      20_000,
      'the instances view',
    );
    expect(instances.engines[0]).toMatchObject({
      reachable: true,
      lag: 0,
      backPressure: { pausedPartitions: [], pausedMsTotal: expect.any(Number) },
    });
    expect(instances.engines[0].broadcastDigest).toBe(instances.reported[0].broadcastDigest);
    expect(instances.digestsAgree).toBe(true);

    const checkpoints = await eventually(
      async () => {
        const res = await request(api.url).get('/checkpoints').set('X-API-Key', KEYS.reader);
        const committed = res.body.partitions?.filter((p: { checkpoints: Array<{ committed: boolean }> }) =>
          p.checkpoints.some((c) => c.committed),
        );
        return committed?.length > 0 ? res.body : undefined;
      },
      20_000,
      'a committed checkpoint',
    );
    expect(checkpoints.consumerGroup).toBe(`cepheus-${jobId}`);

    const created = await request(api.url).post('/savepoints').set('X-API-Key', KEYS.admin);
    expect(created.status).toBe(201);
    // The engine took it (Redis control channel) and answered for its partitions.
    expect(created.body).toMatchObject({ status: 'completed', instances: [{ instanceId: 'api-engine-1', ok: true }] });
    expect(created.body.partitions.some((p: { bytes: number }) => p.bytes > 0)).toBe(true);
    const list = await request(api.url).get('/savepoints').set('X-API-Key', KEYS.reader);
    expect(list.body.map((s: { id: string }) => s.id)).toContain(created.body.id);
    expect((await request(api.url).delete(`/savepoints/${created.body.id}`).set('X-API-Key', KEYS.admin)).status).toBe(
      200,
    );
    expect((await request(api.url).get(`/savepoints/${created.body.id}`).set('X-API-Key', KEYS.reader)).status).toBe(
      404,
    );
  });

  it('serves health, metrics, OpenAPI, and Bull Board to admins only', async () => {
    expect((await request(api.url).get('/health')).body).toEqual({ status: 'up', kafka: 'up', redis: 'up' });
    const metrics = await request(api.url).get('/metrics');
    expect(metrics.text).toMatch(/cepheus_api_requests_total\{method="POST",route="\/rules",status="201"\}/);
    const openapi = await request(api.url).get('/docs/openapi.json');
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining(['/rules', '/rules/{id}', '/alerts/stream', '/replays', '/savepoints', '/instances']),
    );
    expect((await request(api.url).get('/docs')).status).toBe(200);
    expect((await request(api.url).get('/admin/queues')).status).toBe(401);
    expect((await request(api.url).get('/admin/queues').set('X-API-Key', KEYS.editor)).status).toBe(403);
    expect((await request(api.url).get('/admin/queues').auth('ops', KEYS.admin)).status).toBe(200);
  });

  it('rate-limits writes per key with 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) {
      statuses.push((await request(api.url).post(`/rules/none-${i}/pause`).set('X-API-Key', KEYS.admin)).status);
    }
    expect(statuses).toContain(429);
    // Reads are not limited.
    expect((await request(api.url).get('/rules').set('X-API-Key', KEYS.admin)).status).toBe(200);
  });
});
