/** An event of an example stream, with its event time. */
export interface ExampleEvent {
  event: Record<string, unknown>;
  timestamp: number;
}

/** An alert a generator planted: the rule, the routing key and the id of the last event of the alert. */
export interface ExpectedAlert {
  ruleId: string;
  key: string;
  lastEventId: string;
}

/** A deterministic example stream: events in time order, the alerts it must produce, and when it ends. */
export interface ExampleStream {
  events: ExampleEvent[];
  expected: ExpectedAlert[];
  /** Event time after the last event at which every window in the stream has closed. */
  endTime: number;
}

/** Sorts events by time, keeping generation order for equal times. */
export function inTimeOrder(events: ExampleEvent[]): ExampleEvent[] {
  return events
    .map((e, i) => [e, i] as const)
    .sort((a, b) => a[0].timestamp - b[0].timestamp || a[1] - b[1])
    .map(([e]) => e);
}
