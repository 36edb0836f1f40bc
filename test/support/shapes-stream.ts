import { generateShapes } from '@cepheus/rules';
import type { AlertBody } from '../../bench/support/kafka-topics';
import type { TopicTail } from './topics';

export interface KeyedEvent {
  key: string;
  value: string;
}

/**
 * Several shapes streams one after another in event time, with ids and planted colours made unique per stream, so
 * that planted cases (and the alerts they must raise) are spread over the whole stream. Key = colour, the rules'
 * groupBy, so a key's state lives in one events partition.
 */
export function longShapesStream(
  streams: number,
  cycles: number,
): {
  events: KeyedEvent[];
  expected: string[];
  endTime: number;
} {
  const events: KeyedEvent[] = [];
  const expected: string[] = [];
  let start = 1_700_000_000_000;
  for (let s = 0; s < streams; s++) {
    const stream = generateShapes({ seed: 100 + s, cycles, squareTriangle: 3, lonelyCircles: 3, start });
    const colourOf = (c: string) => (c.startsWith('planted') ? `s${s}-${c}` : c);
    for (const { event, timestamp } of stream.events) {
      const colour = colourOf(String(event.colour));
      events.push({
        key: colour,
        value: JSON.stringify({ ...event, id: `s${s}-${String(event.id)}`, colour, timestamp }),
      });
    }
    for (const e of stream.expected) {
      expected.push(`${e.ruleId} colour=${colourOf(e.key.slice('colour='.length))} s${s}-${e.lastEventId}`);
    }
    start = stream.endTime + 3_600_000;
  }
  return { events, expected: expected.sort(), endTime: start };
}

/** One event per partition past every window, so that every partition's watermark passes the end of the stream. */
export function closingTicks(
  partitions: number,
  time: number,
): Array<{ key: string; value: string; partition: number }> {
  return Array.from({ length: partitions }, (_, partition) => ({
    key: `tick-${partition}`,
    value: JSON.stringify({ id: `tick-${partition}`, type: 'tick', timestamp: time }),
    partition,
  }));
}

/** `ruleId key lastEventId` of an alert body, the form `expected` uses. */
export function alertSummary(alert: { ruleId: string; key: string; events: Array<{ id: string }> }): string {
  return `${alert.ruleId} ${alert.key} ${alert.events[alert.events.length - 1].id}`;
}

/**
 * Waits until `expected.length` alerts arrived (then `settleMs` more, to catch any extra), and demands exactly the
 * expected ones, each once: the same summaries, and no alert id twice.
 */
export async function expectExactAlerts(
  alerts: TopicTail,
  expected: readonly string[],
  timeoutMs: number,
  settleMs: number,
): Promise<AlertBody[]> {
  await alerts.waitFor((t) => t.messages.length >= expected.length, timeoutMs, settleMs);
  const bodies = alerts.values<AlertBody>();
  expect(bodies.map(alertSummary).sort()).toEqual([...expected].sort());
  expect(new Set(bodies.map((a) => a.alertId)).size).toBe(bodies.length);
  return bodies;
}
