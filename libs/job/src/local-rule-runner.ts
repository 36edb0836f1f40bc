import {
  EventDecoder,
  EventTimeGate,
  type DecodedEvent,
  type DecodeFailureReason,
  type EmittedAlert,
} from '@cepheus/kafka';
import { RulesPartitionProcessor, type RulesPartitionProcessorOptions } from './rules-partition-processor';

/** A line that could not be used, with why: what the DLQ topic gets in Kafka mode. */
export interface LocalDeadLetter {
  line: number;
  reason: DecodeFailureReason | 'LATE_EVENT';
  message: string;
}

export interface LocalRunResult {
  alerts: EmittedAlert[];
  deadLetters: LocalDeadLetter[];
  rules: Array<{ ruleId: string; status: string; reason?: string }>;
  events: number;
}

export interface LocalRunOptions extends RulesPartitionProcessorOptions {
  /** Event-time disorder tolerated before an event counts as late. @defaultValue 0 */
  outOfOrdernessMs?: number;
  /** Event time to advance to at the end, so that open windows and `within` deadlines resolve. @defaultValue +Infinity */
  endTime?: number;
  /** Called for every alert as it is raised (e.g. to print it). */
  onAlert?: (alert: EmittedAlert) => void;
}

/**
 * Runs rules over a finite stream in this process, with no services: the embedded mode behind `cepheus run` and the
 * demo. Same processor and event-time rules as the engine on Kafka (one partition): watermark = the largest event time
 * minus the allowed disorder, events in event-time order, late events set aside with a reason.
 */
export function runRulesLocally(
  rules: readonly unknown[],
  lines: Iterable<string>,
  options: LocalRunOptions = {},
): LocalRunResult {
  const processor = new RulesPartitionProcessor(options);
  const result: LocalRunResult = { alerts: [], deadLetters: [], rules: [], events: 0 };
  rules.forEach((rule, i) => {
    const ruleId = String((rule as { id?: unknown } | null)?.id ?? `#${i}`);
    const report = processor.applyRule({ ruleId, value: JSON.stringify(rule), offset: String(i), timestamp: 0 });
    result.rules.push({ ruleId, status: report.status, reason: report.reason });
  });
  const decoder = new EventDecoder();
  const state = processor.createPartitionState();
  const emit = (alerts: readonly EmittedAlert[]) => {
    for (const alert of alerts) {
      result.alerts.push(alert);
      options.onAlert?.(alert);
    }
  };
  const time = new EventTimeGate<DecodedEvent>(options.outOfOrdernessMs ?? 0);
  const release = (ready: DecodedEvent[], watermarkBefore: number) => {
    for (const event of ready) emit(processor.processEvent(state, event));
    if (time.watermark > watermarkBefore) emit(processor.advanceWatermark(state, time.watermark));
  };
  let lineNumber = 0;
  for (const text of lines) {
    lineNumber += 1;
    if (text.trim() === '') continue;
    result.events += 1;
    const decoded = decoder.decode({
      topic: 'local',
      partition: 0,
      offset: String(lineNumber),
      key: Buffer.from('local'),
      value: Buffer.from(text),
    });
    if (!decoded.ok) {
      result.deadLetters.push({ line: lineNumber, reason: decoded.reason, message: decoded.message });
      continue;
    }
    const before = time.watermark;
    const ready = time.offer(decoded.event);
    if (ready === undefined) {
      result.deadLetters.push({
        line: lineNumber,
        reason: 'LATE_EVENT',
        message: `behind the watermark ${time.watermark}`,
      });
      continue;
    }
    release(ready, before);
  }
  const before = time.watermark;
  release(time.advanceTo(Math.max(time.maxTimestamp, options.endTime ?? Number.MAX_SAFE_INTEGER)), before);
  return result;
}
