import type { Alert } from '../alert/alert';
import type { ExampleEvent } from '../examples/example-stream';
import type { KeyState, RuleEvaluator } from '../evaluator/rule-evaluator';

/**
 * Drives a RuleEvaluator over a finished stream in memory, as the runtime would: route each event, process it under
 * each key, and advance time for every key each `tickMs` of event time and once at `endTime`.
 */
export function runInMemory(
  evaluator: RuleEvaluator,
  events: readonly ExampleEvent[],
  endTime: number,
  tickMs = 60_000,
): { alerts: Alert[]; states: Map<string, KeyState> } {
  const states = new Map<string, KeyState>();
  const alerts: Alert[] = [];
  let nextTick = events.length === 0 ? endTime : events[0].timestamp + tickMs;
  const tick = (time: number): void => {
    for (const [key, state] of states) {
      alerts.push(...evaluator.advanceTime(state, key, time));
      if (state.size === 0) states.delete(key);
    }
  };
  for (const { event, timestamp } of events) {
    while (timestamp >= nextTick) {
      tick(nextTick);
      nextTick += tickMs;
    }
    for (const route of evaluator.route(event)) {
      let state = states.get(route.key);
      if (state === undefined) {
        state = new Map();
        states.set(route.key, state);
      }
      alerts.push(...evaluator.process(state, route, event, timestamp));
    }
  }
  tick(endTime);
  return { alerts, states };
}
