import {
  EventDecoder,
  EventTimeGate,
  type DecodedEvent,
  type DecodeFailureReason,
  type EmittedAlert,
  type EventDecoderOptions,
  type RawMessage,
} from '@cepheus/kafka';
import { RulesPartitionProcessor, type RulesPartitionProcessorOptions, type RulesPartitionState } from '@cepheus/job';

interface PartitionRun {
  state: RulesPartitionState;
  /** The live job's own event-time gate, so that events reach the processor in the same order at the same watermarks. */
  time: EventTimeGate<DecodedEvent>;
}

export interface ReplayEvaluatorOptions extends RulesPartitionProcessorOptions {
  /** Must equal the live engine's `CEPHEUS_OUT_OF_ORDERNESS_MS` for a replay to reproduce its alerts. @defaultValue 0 */
  outOfOrdernessMs?: number;
  decoder?: EventDecoderOptions;
}

/**
 * Evaluates rules over events exactly as the live Kafka job does (its `onMessage`, with the same `EventTimeGate`): per
 * partition, the watermark is the largest event time seen minus the allowed disorder, events wait until the watermark
 * passes them and are then processed in event-time order (stable for equal times), events behind the watermark are
 * late. Same processor, same decoder, same event ids: the same alert ids.
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
      run = { state: this.processor.createPartitionState(), time: new EventTimeGate(this.outOfOrdernessMs) };
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
      const watermarkBefore = run.time.watermark;
      const ready = run.time.offer(decoded.event);
      if (ready === undefined) {
        this.deadLetters.LATE_EVENT = (this.deadLetters.LATE_EVENT ?? 0) + 1;
        continue;
      }
      this.release(run, ready, watermarkBefore, out);
    }
    return out;
  }

  /**
   * Moves every partition's watermark to `to` (e.g. +Infinity to close open windows). The live engine never does this
   * on its own, so a replay that should match it leaves this out.
   */
  flush(to: number): EmittedAlert[] {
    const out: EmittedAlert[] = [];
    for (const run of this.runs.values()) {
      const watermarkBefore = run.time.watermark;
      this.release(run, run.time.advanceTo(to), watermarkBefore, out);
    }
    return out;
  }

  /** What the live job's `onMessage` does with released events: process them, then advance the watermark if it moved. */
  private release(
    run: PartitionRun,
    ready: readonly DecodedEvent[],
    watermarkBefore: number,
    out: EmittedAlert[],
  ): void {
    for (const event of ready) this.collect(this.processor.processEvent(run.state, event), out);
    if (run.time.watermark > watermarkBefore) {
      this.collect(this.processor.advanceWatermark(run.state, run.time.watermark), out);
    }
  }

  private collect(alerts: readonly EmittedAlert[], out: EmittedAlert[]): void {
    for (const alert of alerts) {
      const ruleId = String(alert.body.ruleId);
      this.alertsByRule[ruleId] = (this.alertsByRule[ruleId] ?? 0) + 1;
      this.alerts += 1;
      out.push(alert);
    }
  }
}
