import {
  EventDecoder,
  type DecodedEvent,
  type DecodeFailureReason,
  type EmittedAlert,
  type EventDecoderOptions,
  type RawMessage,
} from '@cepheus/kafka';
import { RulesPartitionProcessor, type RulesPartitionProcessorOptions, type RulesPartitionState } from '@cepheus/job';

const NO_WATERMARK = Number.MIN_SAFE_INTEGER;

interface PartitionRun {
  state: RulesPartitionState;
  watermark: number;
  maxTimestamp: number;
  buffer: DecodedEvent[];
}

export interface ReplayEvaluatorOptions extends RulesPartitionProcessorOptions {
  /** Must equal the live engine's `CEPHEUS_OUT_OF_ORDERNESS_MS` for a replay to reproduce its alerts. @defaultValue 0 */
  outOfOrdernessMs?: number;
  decoder?: EventDecoderOptions;
}

/**
 * Evaluates rules over events exactly as the live Kafka job does (libs/kafka/src/job/kafka-rule-job.ts, `onMessage`
 * and `advance`): per partition, the watermark is the largest event time seen minus the allowed disorder, events wait
 * until the watermark passes them and are then processed in event-time order (stable for equal times), events behind
 * the watermark are late. Same processor, same decoder, same event ids: the same alert ids.
 */
export class ReplayEvaluator {
  readonly processor: RulesPartitionProcessor;
  readonly rules: Array<{ ruleId: string; version: number | null; status: string; reason?: string }> = [];
  readonly deadLetters: Partial<Record<DecodeFailureReason | 'LATE_EVENT', number>> = {};
  readonly alertsByRule: Record<string, number> = {};
  eventsRead = 0;
  alerts = 0;
  private readonly runs = new Map<number, PartitionRun>();
  private readonly decoder: EventDecoder;
  private readonly outOfOrdernessMs: number;

  constructor(ruleDocuments: readonly unknown[], options: ReplayEvaluatorOptions = {}) {
    this.processor = new RulesPartitionProcessor(options);
    this.decoder = new EventDecoder(options.decoder);
    this.outOfOrdernessMs = options.outOfOrdernessMs ?? 0;
    ruleDocuments.forEach((rule, i) => {
      const ruleId = String((rule as { id?: unknown } | null)?.id ?? `#${i}`);
      const report = this.processor.applyRule({ ruleId, value: JSON.stringify(rule), offset: String(i), timestamp: 0 });
      this.rules.push({ ruleId, version: report.version, status: report.status, reason: report.reason });
    });
  }

  /** Feeds one partition's messages in offset order; returns the alerts they raised. */
  process(partition: number, messages: readonly RawMessage[]): EmittedAlert[] {
    let run = this.runs.get(partition);
    if (!run) {
      run = {
        state: this.processor.createPartitionState(),
        watermark: NO_WATERMARK,
        maxTimestamp: NO_WATERMARK,
        buffer: [],
      };
      this.runs.set(partition, run);
    }
    const out: EmittedAlert[] = [];
    for (const message of messages) {
      this.eventsRead += 1;
      const decoded = this.decoder.decode(message);
      if (!decoded.ok) {
        this.deadLetters[decoded.reason] = (this.deadLetters[decoded.reason] ?? 0) + 1;
        continue;
      }
      const event = decoded.event;
      if (event.timestamp < run.watermark) {
        this.deadLetters.LATE_EVENT = (this.deadLetters.LATE_EVENT ?? 0) + 1;
        continue;
      }
      run.buffer.push(event);
      if (event.timestamp > run.maxTimestamp) run.maxTimestamp = event.timestamp;
      const watermark = run.maxTimestamp - this.outOfOrdernessMs;
      if (watermark > run.watermark) this.advance(run, watermark, out);
    }
    return out;
  }

  /**
   * Moves every partition's watermark to `to` (e.g. +Infinity to close open windows). The live engine never does this
   * on its own, so a replay that should match it leaves this out.
   */
  flush(to: number): EmittedAlert[] {
    const out: EmittedAlert[] = [];
    for (const run of this.runs.values()) if (to > run.watermark) this.advance(run, to, out);
    return out;
  }

  private advance(run: PartitionRun, watermark: number, out: EmittedAlert[]): void {
    const ready: DecodedEvent[] = [];
    const waiting: DecodedEvent[] = [];
    for (const event of run.buffer) (event.timestamp <= watermark ? ready : waiting).push(event);
    ready.sort((a, b) => a.timestamp - b.timestamp);
    run.buffer = waiting;
    for (const event of ready) this.collect(this.processor.processEvent(run.state, event), out);
    run.watermark = watermark;
    this.collect(this.processor.advanceWatermark(run.state, watermark), out);
  }

  private collect(alerts: EmittedAlert[], out: EmittedAlert[]): void {
    for (const alert of alerts) {
      const ruleId = String(alert.body.ruleId);
      this.alertsByRule[ruleId] = (this.alertsByRule[ruleId] ?? 0) + 1;
      this.alerts += 1;
      out.push(alert);
    }
  }
}
