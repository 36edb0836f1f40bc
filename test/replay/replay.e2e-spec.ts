import { spawn } from 'node:child_process';
import { runRulesLocally } from '@cepheus/job';
import { EXAMPLE_FACTS, FRAUD_RULES, generateFraud, generateShapes, SHAPES_RULES } from '@cepheus/rules';
import request from 'supertest';
import { CLI_MAIN, eventually, KEYS, startApi, type ApiProcess } from '../api/api-process';
import { startEngine, type EngineProcess } from '../support/engine-process';
import { uniqueName } from '../support/services';
import { apiTopicEnv, engineTopicEnv, kafka, testTopics, TopicTail } from '../support/topics';

/** How many events the cancellation test replays: the 1M (CEPHEUS_REPLAY_TEST_EVENTS for a quicker local run). */
const LARGE = Number(process.env.CEPHEUS_REPLAY_TEST_EVENTS ?? 1_000_000);

interface AlertBody {
  alertId: string;
  ruleId: string;
}
interface ReplayView {
  id: string;
  state: string;
  outputTopic: string;
  progress: { eventsRead: number; eventsTotal: number; fraction: number } | number;
  summary: {
    status: string;
    eventsRead: number;
    eventsTotal: number;
    alerts: number;
    alertsByRule: Record<string, number>;
    durationMs: number;
  } | null;
}

type Message = { key: string; value: string };

/** Events of the example streams as Kafka messages, keyed like the live engine expects (card, colour). */
function fraudMessages(options: Parameters<typeof generateFraud>[0]): Message[] {
  return generateFraud(options).events.map((e) => ({
    key: String(e.event.cardId),
    value: JSON.stringify({ ...e.event, timestamp: e.timestamp }),
  }));
}
function shapesMessages(options: Parameters<typeof generateShapes>[0]): Message[] {
  return generateShapes(options).events.map((e) => ({
    key: String(e.event.colour),
    value: JSON.stringify({ ...e.event, timestamp: e.timestamp }),
  }));
}

/** Batches of 5,000 per send: ~32k msg/s here (shared perf facts). */
async function produceFast(topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 5000) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 5000) });
    }
  } finally {
    await producer.disconnect();
  }
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function readAll(topic: string, count: number): Promise<AlertBody[]> {
  const tail = await TopicTail.start(topic);
  try {
    await tail.waitFor((t) => t.messages.length >= count, 30_000, 500);
    return tail.values<AlertBody>();
  } finally {
    await tail.stop();
  }
}

describe('replays reproduce the live run', () => {
  const topics = testTopics('replay');
  const jobId = uniqueName('replayjob');
  let engine: EngineProcess | undefined;
  let api: ApiProcess;
  let liveAlerts: TopicTail;
  const rules = [...FRAUD_RULES, ...SHAPES_RULES] as Array<{ id: string }>;
  let from = 0;
  let to = 0;
  let produced = 0;

  async function replay(body: Record<string, unknown>): Promise<ReplayView> {
    const started = await request(api.url).post('/replays').set('X-API-Key', KEYS.editor).send(body);
    expect(started.status).toBe(201);
    return eventually(
      async () => {
        const res = await request(api.url).get(`/replays/${started.body.id}`).set('X-API-Key', KEYS.reader);
        if (res.body.state === 'failed') throw new Error(`replay failed: ${JSON.stringify(res.body)}`);
        return res.body.state === 'completed' ? (res.body as ReplayView) : undefined;
      },
      60_000,
      `replay ${started.body.id}`,
    );
  }

  beforeAll(async () => {
    engine = await startEngine({
      ...engineTopicEnv(topics),
      CEPHEUS_JOB_ID: jobId,
      CEPHEUS_CHECKPOINT_INTERVAL_MS: '500',
      CEPHEUS_EVENT_PARTITIONS: '4',
      CEPHEUS_INSTANCE_ID: 'replay-engine-1',
    });
    api = await startApi({
      ...apiTopicEnv(topics),
      CEPHEUS_JOB_ID: jobId,
      CEPHEUS_API_REDIS_PREFIX: uniqueName('replayapi'),
    });
    liveAlerts = await TopicTail.start(topics.alerts);
  }, 120_000);

  afterAll(async () => {
    await liveAlerts?.stop();
    await api?.stop();
    await engine?.stop();
  });

  it('live run, then a replay of the same time range with the current rules: equal alert-id sets', async () => {
    for (const rule of rules) {
      expect((await request(api.url).post('/rules').set('X-API-Key', KEYS.editor).send(rule)).status).toBe(201);
    }
    await eventually(
      async () => {
        const res = await request(api.url).get('/rules').set('X-API-Key', KEYS.reader);
        const applied = (res.body as Array<{ instances: Array<{ status: string }> }>).filter(
          (r) => r.instances[0]?.status === 'applied',
        );
        return applied.length === rules.length ? true : undefined;
      },
      30_000,
      'the engine to apply every rule',
    );

    const messages = [
      ...fraudMessages({ seed: 11, payments: 20_000, cards: 500, planted: 6 }),
      ...shapesMessages({ seed: 5, cycles: 30, squareTriangle: 5, lonelyCircles: 5 }),
    ];
    from = Date.now();
    await produceFast(topics.events, messages);
    to = Date.now() + 1;
    produced = messages.length;

    // The live run is done when the engine has read everything and its last checkpoint committed the alerts.
    await eventually(
      async () => {
        const instance = await engine!.instance();
        const lag = Object.values(instance.lagByPartition as Record<string, number>).reduce((a, b) => a + b, 0);
        return instance.eventsIn === produced && lag === 0 ? true : undefined;
      },
      60_000,
      'the engine to read every event',
    );
    let settled = -1;
    await eventually(
      async () => {
        await new Promise((r) => setTimeout(r, 1500));
        if (liveAlerts.messages.length === settled) return true;
        settled = liveAlerts.messages.length;
        return undefined;
      },
      30_000,
      'the live alerts to settle',
    );
    const live = liveAlerts.values<AlertBody>();
    expect(live.length).toBeGreaterThanOrEqual(15);

    const done = await replay({ source: { type: 'time', from, to }, rules: { mode: 'current' } });
    expect(done.summary).toMatchObject({ status: 'completed', eventsRead: produced, eventsTotal: produced });
    const replayed = await readAll(done.outputTopic, done.summary!.alerts);
    expect(done.outputTopic).toMatch(/^alerts\.replay\./);
    expect(new Set(replayed.map((a) => a.alertId))).toEqual(new Set(live.map((a) => a.alertId)));
    expect(replayed).toHaveLength(live.length);
    const perRule: Record<string, number> = {};
    for (const a of live) perRule[a.ruleId] = (perRule[a.ruleId] ?? 0) + 1;
    expect(done.summary!.alertsByRule).toEqual(perRule);
    // Nothing of the replay reached the live alerts topic.
    await new Promise((r) => setTimeout(r, 1000));
    expect(liveAlerts.messages).toHaveLength(live.length);
  }, 150_000);

  it('replays chosen rule versions, a candidate rule, and an uploaded file', async () => {
    const live = liveAlerts.values<AlertBody>();
    const velocity = await replay({
      source: { type: 'time', from, to: new Date(to).toISOString() },
      rules: { mode: 'versions', versions: { 'fraud-velocity-count': 1 } },
    });
    const velocityIds = (await readAll(velocity.outputTopic, velocity.summary!.alerts)).map((a) => a.alertId);
    expect(new Set(velocityIds)).toEqual(
      new Set(live.filter((a) => a.ruleId === 'fraud-velocity-count').map((a) => a.alertId)),
    );
    expect(velocityIds.length).toBeGreaterThan(0);

    const original = FRAUD_RULES.find((r) => (r as { id: string }).id === 'fraud-velocity-count') as {
      aggregate: Record<string, unknown>;
    };
    const candidate = { ...original, id: 'candidate-velocity', aggregate: { ...original.aggregate, limit: 3 } };
    const bad = await request(api.url)
      .post('/replays')
      .set('X-API-Key', KEYS.editor)
      .send({ source: { type: 'time', from }, rules: { mode: 'candidate', rule: { ...candidate, severity: 'huge' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([expect.objectContaining({ field: '/rules/rule/severity' })]);
    const tried = await replay({ source: { type: 'time', from, to }, rules: { mode: 'candidate', rule: candidate } });
    expect(tried.summary!.alertsByRule['candidate-velocity']).toBeGreaterThanOrEqual(velocityIds.length);
    expect(live.some((a) => a.ruleId === 'candidate-velocity')).toBe(false);

    const lines = shapesMessages({ seed: 9 }).map((m) => m.value);
    const upload = await request(api.url)
      .post('/replays/uploads')
      .set('X-API-Key', KEYS.editor)
      .set('Content-Type', 'application/x-ndjson')
      .send(lines.join('\n'));
    expect(upload.body).toMatchObject({ lines: lines.length });
    const fromFile = await replay({ source: { type: 'upload', uploadId: upload.body.uploadId } });
    const expected = runRulesLocally(SHAPES_RULES, lines, { facts: EXAMPLE_FACTS, endTime: -Infinity });
    const fileIds = (await readAll(fromFile.outputTopic, fromFile.summary!.alerts)).map((a) => a.alertId);
    expect(fileIds.length).toBeGreaterThan(0);
    expect(new Set(fileIds)).toEqual(new Set(expected.alerts.map((a) => a.id)));

    const invalid = await request(api.url)
      .post('/replays')
      .set('X-API-Key', KEYS.editor)
      .send({ source: { type: 'time', from: 'yesterday' } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.errors.map((e: { field: string }) => e.field)).toContain('/source/from');
    expect((await request(api.url).post('/replays').set('X-API-Key', KEYS.reader).send({})).status).toBe(403);
  }, 120_000);

  it('the CLI starts a replay with a progress line, reads its status, and manages savepoints', async () => {
    const common = ['--api', api.url, '--api-key', KEYS.editor];
    const started = await runCli([
      'replay',
      'start',
      '--from',
      String(from),
      '--to',
      String(to),
      '--wait',
      '--interval',
      '100',
      ...common,
    ]);
    expect(started.stderr).toMatch(/replay \w+ started; alerts go to alerts\.replay\./);
    expect(started.stderr).toMatch(/\[#+\] 100\.0% \d+\/\d+ events, \d+ alerts \(completed\)/);
    expect(started.code).toBe(0);
    const summary = JSON.parse(started.stdout) as { replayId: string; eventsRead: number; alerts: number };
    expect(summary).toMatchObject({ eventsRead: produced, alerts: liveAlerts.messages.length });

    const status = await runCli(['replay', 'status', summary.replayId, ...common]);
    expect(JSON.parse(status.stdout)).toMatchObject({ id: summary.replayId, state: 'completed' });
    // Cancelling a finished replay changes nothing and says so (a running one is cancelled in the last test).
    const cancel = await runCli(['replay', 'cancel', summary.replayId, ...common]);
    expect(cancel.stdout).toBe(`${summary.replayId}: completed\n`);
    const refused = await runCli(['replay', 'start', '--from', 'soon', ...common]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/400 the request body is invalid\n\s+\/source\/from/);

    const admin = ['--api', api.url, '--api-key', KEYS.admin];
    const created = await runCli(['savepoint', 'create', ...admin]);
    expect(created.code).toBe(0);
    const savepoint = JSON.parse(created.stdout) as { id: string; status: string };
    expect(savepoint.status).toBe('completed');
    const listed = await runCli(['savepoint', 'list', ...admin]);
    expect(listed.stdout).toContain(savepoint.id);
    expect((await runCli(['savepoint', 'create', ...common])).stderr).toMatch(/403 this needs the admin role/);
  }, 90_000);

  it(`a replay of ${LARGE} events reports progress and is cancelled halfway`, async () => {
    // The live engine is not needed any more; stopping it leaves both cores to the producer and the replay.
    await engine?.stop();
    engine = undefined;
    const big = fraudMessages({ seed: 3, payments: LARGE, cards: 20_000, planted: 0 });
    const start = Date.now();
    await produceFast(topics.events, big);
    // One rule, as a candidate: self-contained; 1M events take long enough to be caught halfway.
    const travel = FRAUD_RULES.find((r) => (r as { id: string }).id === 'fraud-impossible-travel');
    const started = await request(api.url)
      .post('/replays')
      .set('X-API-Key', KEYS.editor)
      .send({ source: { type: 'time', from: start }, rules: { mode: 'candidate', rule: travel } });
    expect(started.status).toBe(201);
    const id = started.body.id as string;
    const seen: number[] = [];
    await eventually(
      async () => {
        const res = await request(api.url).get(`/replays/${id}`).set('X-API-Key', KEYS.reader);
        const progress = res.body.progress as { eventsRead?: number; eventsTotal?: number; fraction?: number };
        if (typeof progress === 'object' && progress.eventsRead !== undefined) {
          expect(progress.eventsTotal).toBe(LARGE);
          if (seen.at(-1) !== progress.eventsRead) seen.push(progress.eventsRead);
        }
        return (progress as { fraction?: number }).fraction !== undefined && progress.fraction! >= 0.3
          ? true
          : undefined;
      },
      60_000,
      'the replay to pass 30%',
    );
    const cancel = await request(api.url).post(`/replays/${id}/cancel`).set('X-API-Key', KEYS.editor);
    expect(cancel.status).toBe(200);
    const final = await eventually(
      async () => {
        const res = await request(api.url).get(`/replays/${id}`).set('X-API-Key', KEYS.reader);
        return ['cancelled', 'completed', 'failed'].includes(res.body.state) ? (res.body as ReplayView) : undefined;
      },
      30_000,
      'the replay to stop',
    );
    expect(final).toMatchObject({ state: 'cancelled', summary: { status: 'cancelled', eventsTotal: LARGE } });
    expect(final.summary!.eventsRead).toBeGreaterThan(seen[0] ?? 0);
    expect(final.summary!.eventsRead).toBeLessThan(LARGE);
    expect(seen.length).toBeGreaterThanOrEqual(2);
  }, 240_000);
});
