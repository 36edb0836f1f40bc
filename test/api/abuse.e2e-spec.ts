import { spawn } from 'node:child_process';
import Redis from 'ioredis';
import request from 'supertest';
import { startEngine, type EngineProcess } from '../support/engine-process';
import { kafkaBrokers, redisUrl, uniqueName } from '../support/services';
import { apiTopicEnv, engineTopicEnv, produce, testTopics } from '../support/topics';
import { eventually, KEYS, startApi, type ApiProcess } from './api-process';

/** Keys of their own for the tests that use up a budget, so that they do not starve each other. */
const MORE_KEYS = {
  uploader: 'test-uploader-key',
  uploader2: 'test-uploader-key-2',
  streamer: 'test-streamer-key',
  streamer2: 'test-streamer-key-2',
  busyReader: 'test-busy-reader-key',
} as const;

const READ_LIMIT = 30;
const FAILED_AUTH_LIMIT = 5;

/**
 * A rule whose first step's condition nests `levels` levels of `all`, as JSON text: built as a string, since
 * `JSON.stringify` (and so supertest) would overflow the stack on such a document.
 */
function deepRule(levels: number): string {
  const leaf = JSON.stringify({ fact: 'event', path: '$.type', operator: 'equal', value: 'payment' });
  const condition = `${'{"all":['.repeat(levels)}${leaf}${']}'.repeat(levels)}`;
  return `{"id":"too-deep","version":1,"status":"active","severity":"high","groupBy":["cardId"],"alert":{"template":"deep"},"type":"sequence","sequence":{"steps":[{"name":"a","condition":${condition}}]}}`;
}

/** An open server-sent-events response: its status, and the text read so far. */
interface Stream {
  status: number;
  text: () => string;
  /** Reads until `done(text)` holds; fails after `timeoutMs` with what it read. */
  until: (done: (text: string) => boolean, timeoutMs: number) => Promise<string>;
  close: () => void;
}

async function openStream(url: string, headers: Record<string, string>): Promise<Stream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  let text = '';
  const reader = response.body?.getReader();
  let ended = false;
  const waiters: Array<() => void> = [];
  void (async () => {
    try {
      for (;;) {
        const chunk = await reader?.read();
        if (!chunk || chunk.done) break;
        text += new TextDecoder().decode(chunk.value);
        for (const wake of waiters.splice(0)) wake();
      }
    } catch {
      // Aborted by close().
    }
    ended = true;
    for (const wake of waiters.splice(0)) wake();
  })();
  return {
    status: response.status,
    text: () => text,
    async until(done, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!done(text)) {
        if (ended || Date.now() > deadline) throw new Error(`stream ended or timed out; read so far:\n${text}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
      return text;
    },
    close: () => controller.abort(),
  };
}

/** The events of an SSE text, in order (comments left out). */
function events(text: string): Array<{ id?: string; event?: string; data?: string }> {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '' && !block.startsWith(':'))
    .map((block) => {
      const out: { id?: string; event?: string; data?: string } = {};
      for (const line of block.split('\n')) {
        const at = line.indexOf(': ');
        const field = line.slice(0, at);
        if (field === 'id' || field === 'event' || field === 'data') out[field] = line.slice(at + 2);
      }
      return out;
    })
    .filter((e) => e.event !== undefined);
}

describe('API under abuse: origins, Basic auth, streams, uploads, throttles, deep rules', () => {
  const topics = testTopics('abuse');
  const prefix = uniqueName('abuse');
  let api: ApiProcess;
  let redis: Redis;

  beforeAll(async () => {
    api = await startApi({
      ...apiTopicEnv(topics),
      CEPHEUS_API_REDIS_PREFIX: prefix,
      CEPHEUS_API_KEYS: [
        `${KEYS.admin}:admin`,
        `${KEYS.editor}:editor`,
        `${KEYS.reader}:reader`,
        `${MORE_KEYS.uploader}:editor`,
        `${MORE_KEYS.uploader2}:editor`,
        `${MORE_KEYS.streamer}:reader`,
        `${MORE_KEYS.streamer2}:reader`,
        `${MORE_KEYS.busyReader}:reader`,
      ].join(','),
      CEPHEUS_API_ALLOWED_ORIGINS: 'https://ops.example.com',
      CEPHEUS_API_READ_LIMIT_PER_MINUTE: String(READ_LIMIT),
      CEPHEUS_API_FAILED_AUTH_LIMIT_PER_MINUTE: String(FAILED_AUTH_LIMIT),
      CEPHEUS_API_MAX_STREAMS_PER_KEY: '2',
      CEPHEUS_API_SSE_HEARTBEAT_MS: '300',
      CEPHEUS_API_MAX_UPLOAD_BYTES: '4096',
      CEPHEUS_API_UPLOAD_TTL_SECONDS: '120',
      CEPHEUS_API_UPLOADS_PER_KEY: '2',
      CEPHEUS_API_UPLOAD_BYTES_PER_KEY: '6000',
      CEPHEUS_API_UPLOADS_TOTAL: '3',
    });
    redis = new Redis(redisUrl());
  }, 120_000);

  afterAll(async () => {
    redis?.disconnect();
    await api?.stop();
  });

  it('refuses a write with a foreign Origin (403 naming it) before anything else, and lets own and allowed origins through', async () => {
    const foreign = await request(api.url)
      .post('/rules/some-rule/pause')
      .set('Origin', 'https://evil.example')
      .set('X-API-Key', KEYS.editor);
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatchObject({ statusCode: 403, reason: 'origin-not-allowed' });
    expect(foreign.body.message).toContain('Origin "https://evil.example" may not change anything here');
    // A classic cross-site form post, with a browser's cached Basic credentials.
    const form = await request(api.url)
      .post('/rules/some-rule/pause')
      .set('Origin', 'null')
      .type('form')
      .send('x=1')
      .auth('ops', KEYS.editor);
    expect(form.status).toBe(403);
    expect(
      (await request(api.url).delete('/admin/queues/api/queues').set('Origin', 'https://evil.example')).status,
    ).toBe(403);
    // The API's own origin and the allowed one reach the route (no such rule: 404).
    const own = await request(api.url)
      .post('/rules/some-rule/pause')
      .set('Origin', api.url)
      .set('X-API-Key', KEYS.editor);
    expect(own.status).toBe(404);
    const allowed = await request(api.url)
      .post('/rules/some-rule/pause')
      .set('Origin', 'https://ops.example.com')
      .set('X-API-Key', KEYS.editor);
    expect(allowed.status).toBe(404);
    // Reads are never refused for their Origin.
    expect(
      (await request(api.url).get('/rules').set('Origin', 'https://evil.example').set('X-API-Key', KEYS.reader)).status,
    ).toBe(200);
  });

  it('accepts Basic auth on Bull Board only', async () => {
    const basic = await request(api.url).get('/rules').auth('ops', KEYS.admin);
    expect(basic.status).toBe(401);
    expect(basic.body.message).toMatch(/Basic auth is accepted only by Bull Board \(\/admin\/queues\)/);
    expect((await request(api.url).get('/rules').set('Authorization', `Bearer ${KEYS.admin}`)).status).toBe(200);
    expect((await request(api.url).get('/admin/queues').auth('ops', KEYS.admin)).status).toBe(200);
  });

  it('answers a deeply nested rule with 400 naming the limit, on create and on validate', async () => {
    const created = await request(api.url)
      .post('/rules')
      .set('X-API-Key', KEYS.editor)
      .type('json')
      .send(deepRule(100_000));
    expect(created.status).toBe(400);
    expect(created.body).toMatchObject({ statusCode: 400, message: 'the rule is invalid' });
    expect(created.body.errors).toEqual([
      {
        field: expect.stringMatching(/^\/sequence\/steps\/0\/condition\/all\/0/),
        reason: 'nests deeper than 64 levels, the limit of a rule document',
      },
    ]);
    const checked = await request(api.url)
      .post('/rules/validate')
      .set('X-API-Key', KEYS.reader)
      .type('json')
      .send(deepRule(100_000));
    expect(checked.status).toBe(200);
    expect(checked.body.valid).toBe(false);
    expect(checked.body.errors[0].reason).toMatch(/deeper than 64 levels/);
    // Within the limit the same shape is a valid rule.
    expect(
      (await request(api.url).post('/rules/validate').set('X-API-Key', KEYS.reader).type('json').send(deepRule(20)))
        .body,
    ).toEqual({
      valid: true,
      errors: [],
    });
  });

  it('keeps uploads within the size, per-key and total quotas, each refusal naming its limit, for the configured time', async () => {
    const lines = (bytes: number) => `${JSON.stringify({ id: 'e', pad: 'x'.repeat(bytes - 20) })}\n`;
    const upload = (key: string, body: string) =>
      request(api.url)
        .post('/replays/uploads')
        .set('X-API-Key', key)
        .set('Content-Type', 'application/x-ndjson')
        .send(body);

    const tooLarge = await upload(MORE_KEYS.uploader, lines(5000));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body).toMatchObject({ statusCode: 413, limit: 4096 });
    expect(tooLarge.body.message).toMatch(/at most 4096 .*CEPHEUS_API_MAX_UPLOAD_BYTES/);

    const first = await upload(MORE_KEYS.uploader, lines(3500));
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ lines: 1, bytes: expect.any(Number), expiresAt: expect.any(String) });
    // Kept for CEPHEUS_API_UPLOAD_TTL_SECONDS, not a day.
    const ttl = await redis.ttl(`${prefix}:upload:${first.body.uploadId}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(120);

    // 3500 + 3500 bytes is over the key's 6000.
    const overBytes = await upload(MORE_KEYS.uploader, lines(3500));
    expect(overBytes.status).toBe(429);
    expect(overBytes.body).toMatchObject({ quota: 'CEPHEUS_API_UPLOAD_BYTES_PER_KEY', limit: 6000 });
    expect(Number(overBytes.headers['retry-after'])).toBeGreaterThan(0);

    expect((await upload(MORE_KEYS.uploader, lines(100))).status).toBe(201);
    const overCount = await upload(MORE_KEYS.uploader, lines(100));
    expect(overCount.status).toBe(429);
    expect(overCount.body).toMatchObject({ quota: 'CEPHEUS_API_UPLOADS_PER_KEY', limit: 2, used: 2 });
    expect(overCount.body.message).toMatch(/CEPHEUS_API_UPLOADS_PER_KEY/);

    // Another key has room of its own, until the total (3) is reached.
    expect((await upload(MORE_KEYS.uploader2, lines(100))).status).toBe(201);
    const overTotal = await upload(MORE_KEYS.uploader2, lines(100));
    expect(overTotal.status).toBe(429);
    expect(overTotal.body).toMatchObject({ quota: 'CEPHEUS_API_UPLOADS_TOTAL', limit: 3, used: 3 });
  });

  it('limits live streams per key (429), sends heartbeats, and resumes after Last-Event-ID', async () => {
    const streamUrl = `${api.url}/alerts/stream`;
    const one = await openStream(streamUrl, { 'X-API-Key': MORE_KEYS.streamer });
    const two = await openStream(streamUrl, { 'X-API-Key': MORE_KEYS.streamer });
    expect([one.status, two.status]).toEqual([200, 200]);
    const refused = await fetch(streamUrl, { headers: { 'X-API-Key': MORE_KEYS.streamer } });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { message: string }).message).toMatch(/CEPHEUS_API_MAX_STREAMS_PER_KEY=2/);
    // Other keys are not affected.
    const other = await openStream(streamUrl, { 'X-API-Key': MORE_KEYS.streamer2 });
    expect(other.status).toBe(200);
    other.close();

    // A heartbeat comment arrives on an idle stream.
    await one.until((text) => text.includes(': heartbeat'), 30_000);

    // Closing a stream gives its slot back.
    two.close();
    const three = await eventually(
      async () => {
        const stream = await openStream(streamUrl, { 'X-API-Key': MORE_KEYS.streamer });
        if (stream.status === 200) return stream;
        stream.close();
        return undefined;
      },
      30_000,
      'a stream slot to free up',
    );

    const alert = (id: string) => ({
      key: 'card-1',
      partition: 0,
      value: JSON.stringify({ alertId: id, ruleId: 'r', key: 'cardId=card-1', severity: 'high' }),
    });
    await produce(topics.alerts, [alert('a1'), alert('a2'), alert('a3')]);
    // The open stream gets them live.
    const live = await one.until((text) => events(text).filter((e) => e.event === 'alert').length >= 3, 30_000);
    expect(events(live).map((e) => e.id)).toEqual(['a1', 'a2', 'a3']);
    one.close();
    three.close();

    // A reconnecting client names the last alert it saw and gets what came after, then the live ones.
    // The server frees the two closed streams' slots once it sees them close: until then a new one may get 429.
    const resumed = await eventually(
      async () => {
        const stream = await openStream(streamUrl, { 'X-API-Key': MORE_KEYS.streamer, 'Last-Event-ID': 'a1' });
        if (stream.status !== 429) return stream;
        stream.close();
        return undefined;
      },
      30_000,
      'the closed streams to free their slots',
    );
    expect(resumed.status).toBe(200);
    await resumed.until((text) => events(text).length >= 2, 30_000);
    await produce(topics.alerts, [alert('a4')]);
    const after = await resumed.until((text) => events(text).length >= 3, 30_000);
    expect(events(after).map((e) => e.id)).toEqual(['a2', 'a3', 'a4']);
    resumed.close();

    // An id no longer kept is said, not silently skipped.
    const gap = await openStream(`${streamUrl}?lastEventId=gone`, { 'X-API-Key': MORE_KEYS.streamer2 });
    const text = await gap.until((t) => events(t).length >= 1, 30_000);
    gap.close();
    expect(events(text)[0]).toMatchObject({ event: 'gap' });
    expect(JSON.parse(events(text)[0].data ?? '{}')).toMatchObject({ lastEventId: 'gone' });
  });

  it('throttles reads and validation per key with 429 and Retry-After', async () => {
    const statuses: number[] = [];
    let refused: request.Response | undefined;
    for (let i = 0; i < READ_LIMIT + 5 && !refused; i++) {
      const res =
        i % 2 === 0
          ? await request(api.url).get('/rules').set('X-API-Key', MORE_KEYS.busyReader)
          : await request(api.url).post('/rules/validate').set('X-API-Key', MORE_KEYS.busyReader).send({});
      statuses.push(res.status);
      if (res.status === 429) refused = res;
    }
    // Every request up to the limit went through; the next was refused.
    expect(statuses.slice(0, READ_LIMIT).every((s) => s === 200)).toBe(true);
    expect(statuses).toHaveLength(READ_LIMIT + 1);
    expect(refused?.body.message).toMatch(/too many reads with this API key .*CEPHEUS_API_READ_LIMIT_PER_MINUTE/);
    expect(Number(refused?.headers['retry-after'])).toBeGreaterThan(0);
    // Another key still reads.
    expect((await request(api.url).get('/rules').set('X-API-Key', KEYS.reader)).status).toBe(200);
  });

  // Last: it blocks this client address for the rest of the minute.
  it('throttles failed logins per address with 429 and Retry-After, then refuses even a right key', async () => {
    const statuses: number[] = [];
    let blocked: request.Response | undefined;
    for (let i = 0; i < FAILED_AUTH_LIMIT && !blocked; i++) {
      const res = await request(api.url).get('/rules').set('X-API-Key', `wrong-key-${i}`);
      statuses.push(res.status);
      if (res.status === 429) blocked = res;
    }
    expect(statuses.slice(0, -1).every((s) => s === 401)).toBe(true);
    expect(blocked?.status).toBe(429);
    expect(blocked?.body.message).toMatch(/too many failed logins .*CEPHEUS_API_FAILED_AUTH_LIMIT_PER_MINUTE/);
    expect(Number(blocked?.headers['retry-after'])).toBeGreaterThan(0);
    const right = await request(api.url).get('/rules').set('X-API-Key', KEYS.reader);
    expect(right.status).toBe(429);
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    // Bull Board's Basic prompt counts the same failures.
    expect((await request(api.url).get('/admin/queues').auth('ops', KEYS.admin)).status).toBe(429);
    // Probes are not locked out.
    expect((await request(api.url).get('/health')).status).toBe(200);
  });
});

describe("the engine's HTTP port: a token, and savepoints never written over", () => {
  const topics = testTopics('engtok');
  const jobId = uniqueName('engtok');
  const token = 'engine-token-for-tests';
  let engine: EngineProcess;
  let api: ApiProcess;

  beforeAll(async () => {
    engine = await startEngine({
      ...engineTopicEnv(topics),
      CEPHEUS_JOB_ID: jobId,
      CEPHEUS_CHECKPOINT_INTERVAL_MS: '300',
      CEPHEUS_EVENT_PARTITIONS: '2',
      CEPHEUS_INSTANCE_ID: 'engtok-1',
      CEPHEUS_HTTP_TOKEN: token,
    });
    api = await startApi({
      ...apiTopicEnv(topics),
      CEPHEUS_JOB_ID: jobId,
      CEPHEUS_API_REDIS_PREFIX: uniqueName('engtok'),
      CEPHEUS_ENGINE_URLS: `http://127.0.0.1:${engine.port}`,
      CEPHEUS_ENGINE_TOKEN: token,
    });
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await engine?.stop();
  });

  it('needs the token on /instance and savepoints, keeps /health and /metrics open, and the API sends it', async () => {
    const base = `http://127.0.0.1:${engine.port}`;
    expect((await request(base).get('/instance')).status).toBe(401);
    expect((await request(base).get('/instance').set('Authorization', 'Bearer wrong-token-wrong-token')).status).toBe(
      401,
    );
    expect((await request(base).post('/savepoints').send({ id: 'sp-no-token' })).status).toBe(401);
    expect((await request(base).get('/instance').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect((await request(base).get('/health')).status).toBe(200);
    expect((await request(base).get('/metrics')).status).toBe(200);
    const instances = await eventually(
      async () => {
        const res = await request(api.url).get('/instances').set('X-API-Key', KEYS.reader);
        return res.body.engines?.[0]?.reachable ? res.body : undefined;
      },
      30_000,
      'the API to reach the engine with its token',
    );
    expect(instances.engines[0].ownedPartitions).toEqual(expect.any(Array));
  });

  it('refuses a second savepoint with the same id (409), whichever way the first was taken', async () => {
    const base = `http://127.0.0.1:${engine.port}`;
    const auth = `Bearer ${token}`;
    await eventually(
      async () => {
        const res = await request(base).get('/instance').set('Authorization', auth);
        return res.body.ownedPartitions?.length === 2 ? true : undefined;
      },
      60_000,
      'the engine to own both partitions',
    );
    const first = await request(base).post('/savepoints').set('Authorization', auth).send({ id: 'sp-once' });
    expect(first.status).toBe(201);
    expect(Object.keys(first.body.offsets).sort()).toEqual(['0', '1']);
    const again = await request(base).post('/savepoints').set('Authorization', auth).send({ id: 'sp-once' });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(/savepoint "sp-once" .* exists for partitions 0, 1: delete it first/);

    // Taken through the API (Redis control channel), then asked for again over HTTP.
    const viaApi = await request(api.url).post('/savepoints').set('X-API-Key', KEYS.admin);
    expect(viaApi.status).toBe(201);
    const sameId = await request(base).post('/savepoints').set('Authorization', auth).send({ id: viaApi.body.id });
    expect(sameId.status).toBe(409);
  });
});

describe('secrets stay out of messages', () => {
  function runBuilt(
    app: 'api' | 'engine',
    env: Record<string, string>,
  ): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [`dist/apps/${app}/src/main.js`], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('exit', (code) => resolve({ code, output }));
    });
  }

  it('an invalid REDIS_URL stops the API and the engine (exit 2) without printing its password', async () => {
    const common = {
      KAFKA_BROKERS: kafkaBrokers().join(','),
      REDIS_URL: 'http://admin:hunter2-pw@redis.internal:6379',
    };
    const apiRun = await runBuilt('api', { ...common, CEPHEUS_API_KEYS: `${KEYS.admin}:admin` });
    expect(apiRun.code).toBe(2);
    expect(apiRun.output).toContain('REDIS_URL (got "http://admin:***@redis.internal:6379")');
    expect(apiRun.output).not.toContain('hunter2');
    const engineRun = await runBuilt('engine', common);
    expect(engineRun.code).toBe(2);
    expect(engineRun.output).toContain('REDIS_URL (got "http://admin:***@redis.internal:6379")');
    expect(engineRun.output).not.toContain('hunter2');
  }, 60_000);

  it('an engine asked to listen beyond loopback without a token does not start', async () => {
    const run = await runBuilt('engine', {
      KAFKA_BROKERS: kafkaBrokers().join(','),
      CEPHEUS_HTTP_HOST: '0.0.0.0',
      CEPHEUS_HTTP_TOKEN: '',
    });
    expect(run.code).toBe(2);
    expect(run.output).toMatch(/CEPHEUS_HTTP_TOKEN: is required when CEPHEUS_HTTP_HOST \(got "0.0.0.0"\)/);
  }, 60_000);
});
