import { SHAPES_RULES } from '@cepheus/rules';
import { startEngine, type EngineProcess } from '../support/engine-process';
import type { AlertBody } from '../../bench/support/kafka-topics';
import { uniqueName } from '../support/services';
import { engineTopicEnv, produce, testTopics, TopicTail } from '../support/topics';

interface StatusBody {
  ruleId: string;
  version: number | null;
  status: string;
  reason?: string;
  errors?: Array<{ field: string }>;
  broadcastDigest: string;
}

const squareThenTriangle = SHAPES_RULES[0] as Record<string, unknown> & { id: string; sequence: { steps: unknown[] } };
const MIN = 60_000;

function shape(id: string, colour: string, kind: string, timestamp: number) {
  return { key: colour, value: JSON.stringify({ id, type: 'shape', shape: kind, colour, timestamp }) };
}

/** The same rule with its second step looking for another shape. */
function withSecondShape(version: number, kind: string, status = 'active') {
  const rule = JSON.parse(JSON.stringify(squareThenTriangle)) as typeof squareThenTriangle;
  const step = rule.sequence.steps[1] as { condition: { all: Array<{ value: unknown }> } };
  step.condition.all[0].value = kind;
  return { ...rule, version, status };
}

describe('engine on the real broker and Redis: the shapes rule pushed live', () => {
  const topics = testTopics('shapes');
  let engine: EngineProcess;
  let alerts: TopicTail;
  let status: TopicTail;

  beforeAll(async () => {
    engine = await startEngine({
      ...engineTopicEnv(topics),
      CEPHEUS_JOB_ID: uniqueName('shapes'),
      CEPHEUS_CHECKPOINT_INTERVAL_MS: '300',
      CEPHEUS_EVENT_PARTITIONS: '2',
    });
    alerts = await TopicTail.start(topics.alerts);
    status = await TopicTail.start(topics.rulesStatus);
  }, 90_000);

  afterAll(async () => {
    await alerts?.stop();
    await status?.stop();
    await engine?.stop();
  });

  async function push(rule: unknown, id = squareThenTriangle.id): Promise<StatusBody> {
    const before = status.messages.length;
    await produce(topics.rules, [{ key: id, value: JSON.stringify(rule) }]);
    await status.waitFor((t) => t.messages.length > before, 20_000);
    return status.values<StatusBody>()[before];
  }

  it('fires on square then triangle, changes behaviour live, pauses, and keeps the old version over a bad one', async () => {
    expect((await push(squareThenTriangle)).status).toBe('applied');
    let t = 1_700_000_000_000;
    await produce(topics.events, [
      shape('r1', 'red', 'square', (t += 1000)),
      shape('b1', 'blue', 'square', (t += 1000)),
      shape('b2', 'blue', 'circle', (t += 1000)),
      shape('r2', 'red', 'triangle', (t += 1000)),
      shape('b3', 'blue', 'triangle', (t += 1000)),
      shape('g1', 'green', 'triangle', (t += 1000)),
    ]);
    await alerts.waitFor((a) => a.messages.length >= 2, 30_000, 1500);
    const first = alerts.values<AlertBody>();
    expect(first.map((a) => `${a.ruleVersion} ${a.key} ${a.events.map((e) => e.id).join('>')}`).sort()).toEqual([
      '1 colour=blue b1>b3',
      '1 colour=red r1>r2',
    ]);

    // triangle -> circle, without a restart
    expect((await push(withSecondShape(2, 'circle'))).status).toBe('applied');
    await produce(topics.events, [
      shape('y1', 'yellow', 'square', (t += MIN)),
      shape('y2', 'yellow', 'triangle', (t += 1000)),
      shape('y3', 'yellow', 'circle', (t += 1000)),
    ]);
    await alerts.waitFor((a) => a.messages.length >= 3, 30_000, 1500);
    const third = alerts.values<AlertBody>()[2];
    expect([third.ruleVersion, third.key, third.events.map((e) => e.id)]).toEqual([2, 'colour=yellow', ['y1', 'y3']]);

    // a malformed v3 is refused with the field; v2 keeps firing
    const refused = await push({ ...withSecondShape(3, 'circle'), severity: 'apocalyptic' });
    expect(refused.status).toBe('rejected');
    expect(refused.errors?.map((e) => e.field)).toContain('/severity');
    await produce(topics.events, [
      shape('p1', 'purple', 'square', (t += MIN)),
      shape('p2', 'purple', 'circle', (t += 1000)),
    ]);
    await alerts.waitFor((a) => a.messages.length >= 4, 30_000, 1500);
    expect(alerts.values<AlertBody>()[3]).toMatchObject({ ruleVersion: 2, key: 'colour=purple' });

    // paused: nothing more
    expect((await push(withSecondShape(4, 'circle', 'paused'))).status).toBe('applied');
    await produce(topics.events, [
      shape('o1', 'orange', 'square', (t += MIN)),
      shape('o2', 'orange', 'circle', (t += 1000)),
    ]);
    await new Promise((r) => setTimeout(r, 3000));
    expect(alerts.messages).toHaveLength(4);
    const ids = alerts.values<AlertBody>().map((a) => a.alertId);
    expect(new Set(ids).size).toBe(ids.length);

    const instance = await engine.instance();
    expect(instance.broadcastDigest).toBe(status.values<StatusBody>().at(-1)?.broadcastDigest);
    expect(instance.rules).toEqual([{ id: squareThenTriangle.id, version: 4, status: 'paused', type: 'sequence' }]);
  });

  it('sends malformed events to the DLQ with their reasons and serves Prometheus metrics', async () => {
    const dlq = await TopicTail.start(topics.eventsDlq);
    try {
      await produce(topics.events, [
        { key: 'red', value: '{"shape": "square"' },
        { key: 'red', value: JSON.stringify({ shape: 'square', colour: 'red' }) },
      ]);
      await dlq.waitFor((d) => d.messages.length >= 2, 20_000);
      expect(
        dlq
          .values<{ reason: string }>()
          .map((d) => d.reason)
          .sort(),
      ).toEqual(['MISSING_TIMESTAMP', 'NOT_JSON']);
      const metrics = await (await fetch(`http://127.0.0.1:${engine.port}/metrics`)).text();
      expect(metrics).toMatch(/cepheus_events_dead_lettered_total\{reason="NOT_JSON"\} 1/);
      expect(metrics).toMatch(/cepheus_alerts_out_total 4/);
      expect(metrics).toMatch(/cepheus_rule_matches\{rule="shapes-square-then-triangle"\} 4/);
    } finally {
      await dlq.stop();
    }
  });
});
