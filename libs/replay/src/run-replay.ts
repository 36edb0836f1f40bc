import type { EmittedAlert, RawMessage } from '@cepheus/kafka';
import type { Kafka, Producer } from 'kafkajs';
import { readBoundedRanges } from './bounded-kafka-source';
import { resolveKafkaRange } from './kafka-range';
import { ParallelEvaluator, parallelReplayAvailable } from './parallel-evaluator';
import { ReplayEvaluator, type ReplayEvaluatorOptions } from './replay-evaluator';
import type { PartitionRange, ReplayProgress, ReplayRange, ReplaySummary } from './replay-types';

/** Where a replay reads its events. */
export type ReplaySource =
  | { type: 'kafka'; topic: string; range: ReplayRange }
  /** JSON lines (an uploaded file): one partition, line numbers as offsets. */
  | { type: 'lines'; lines: readonly string[]; name?: string };

export interface ReplayOptions extends ReplayEvaluatorOptions {
  kafka: Kafka;
  /** `[A-Za-z0-9._-]+`; names the output topic. */
  replayId: string;
  /** The rule documents to evaluate (current rules, chosen versions, or a candidate). */
  rules: readonly unknown[];
  source: ReplaySource;
  /** @defaultValue `alerts.replay.<replayId>` */
  outputTopic?: string;
  /** Partitions of the output topic when it is created. @defaultValue 1 */
  outputPartitions?: number;
  /** Event time to move the watermark to at the end (closes windows the live run would still hold). @defaultValue none */
  flushTo?: number;
  signal?: AbortSignal;
  /** Called at most every `progressIntervalMs` and once at the end. */
  onProgress?: (progress: ReplayProgress) => void | Promise<void>;
  /** @defaultValue 500 ms */
  progressIntervalMs?: number;
  /**
   * Worker threads evaluating partitions in parallel (partition p on thread p mod n). 0 evaluates in this thread. Only
   * with the default facts (functions cannot cross threads) and from the compiled build; otherwise in this thread.
   * @defaultValue 0
   */
  threads?: number;
}

/** What the replay drives: the evaluator in this thread, or partitions spread over worker threads. */
interface Evaluation {
  readonly eventsRead: number;
  readonly alerts: number;
  readonly alertsByRule: Record<string, number>;
  readonly deadLetters: ReplaySummary['deadLetters'];
  readonly rules: ReplaySummary['rules'];
  submit(partition: number, messages: RawMessage[]): Promise<void>;
  /** Returns true when the signal aborted it before the end. */
  finish(flushTo: number | undefined, signal?: AbortSignal): Promise<boolean>;
  close(): Promise<void>;
}

class InThreadEvaluation implements Evaluation {
  constructor(
    private readonly evaluator: ReplayEvaluator,
    private readonly output: (alerts: EmittedAlert[]) => Promise<void>,
  ) {}
  get eventsRead() {
    return this.evaluator.eventsRead;
  }
  get alerts() {
    return this.evaluator.alerts;
  }
  get alertsByRule() {
    return this.evaluator.alertsByRule;
  }
  get deadLetters() {
    return this.evaluator.deadLetters;
  }
  get rules() {
    return this.evaluator.rules;
  }
  async submit(partition: number, messages: RawMessage[]): Promise<void> {
    await this.output(this.evaluator.process(partition, messages));
  }
  async finish(flushTo: number | undefined): Promise<boolean> {
    if (flushTo !== undefined) await this.output(this.evaluator.flush(flushTo));
    return false;
  }
  async close(): Promise<void> {}
}

/** The output topic of a replay: never the live alerts topic. */
export function replayOutputTopic(replayId: string): string {
  return `alerts.replay.${replayId}`;
}

/**
 * Runs a replay to its end (or until the signal aborts): reads the bounded range, evaluates it like the live job, and
 * writes the alerts to the replay's own topic (created when missing), with the live alert's key, body and
 * `cepheus-alert-id` header. Output uses an idempotent producer, not transactions: the topic belongs to this replay
 * alone, and a replay that fails is run again into a new topic.
 */
export async function runReplay(options: ReplayOptions): Promise<ReplaySummary> {
  if (!/^[A-Za-z0-9._-]+$/.test(options.replayId)) throw new RangeError(`invalid replay id "${options.replayId}"`);
  const started = Date.now();
  const outputTopic = options.outputTopic ?? replayOutputTopic(options.replayId);
  const admin = options.kafka.admin();
  await admin.connect();
  let ranges: PartitionRange[] | undefined;
  let producer: Producer | undefined;
  let cancelled = false;
  let evaluator: Evaluation | undefined;
  try {
    const existing = new Set(await admin.listTopics());
    if (!existing.has(outputTopic)) {
      await admin.createTopics({
        topics: [{ topic: outputTopic, numPartitions: options.outputPartitions ?? 1, replicationFactor: 1 }],
        waitForLeaders: true,
      });
    }
    if (options.source.type === 'kafka')
      ranges = await resolveKafkaRange(admin, options.source.topic, options.source.range);
    producer = options.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const output = new AlertOutput(producer, outputTopic);
    const partitionCount = options.source.type === 'kafka' ? (ranges ?? []).filter((r) => r.end > r.start).length : 1;
    const threads = Math.min(options.threads ?? 0, partitionCount);
    const parallel = threads > 1 && options.facts === undefined && parallelReplayAvailable();
    const evaluation: Evaluation = parallel
      ? new ParallelEvaluator(options.rules, options, threads, (alerts) => output.add(alerts))
      : new InThreadEvaluation(new ReplayEvaluator(options.rules, options), (alerts) => output.add(alerts));
    evaluator = evaluation;
    const eventsTotal =
      options.source.type === 'kafka'
        ? Number((ranges ?? []).reduce((sum, r) => sum + (r.end - r.start), 0n))
        : options.source.lines.filter((l) => l.trim() !== '').length;
    let lastProgress = 0;
    const interval = options.progressIntervalMs ?? 500;
    const report = async (force = false) => {
      if (!options.onProgress || (!force && Date.now() - lastProgress < interval)) return;
      lastProgress = Date.now();
      await options.onProgress({
        eventsRead: evaluation.eventsRead,
        eventsTotal,
        alerts: evaluation.alerts,
        fraction: eventsTotal === 0 ? 1 : Math.min(1, evaluation.eventsRead / eventsTotal),
      });
    };
    const onMessages = async (partition: number, messages: RawMessage[]) => {
      await evaluation.submit(partition, messages);
      await report();
    };
    if (options.source.type === 'kafka') {
      const result = await readBoundedRanges({
        kafka: options.kafka,
        topic: options.source.topic,
        ranges: ranges ?? [],
        onMessages,
        signal: options.signal,
        groupPrefix: `cepheus-replay-${options.replayId}`,
      });
      cancelled = result.aborted;
    } else {
      const name = options.source.name ?? 'upload';
      const messages: RawMessage[] = [];
      const fileKey = Buffer.from(name);
      options.source.lines.forEach((line, i) => {
        if (line.trim() === '') return;
        // Like the local runner: one partition, one Kafka key for all (rules route by their own groupBy fields).
        messages.push({ topic: name, partition: 0, offset: String(i + 1), key: fileKey, value: Buffer.from(line) });
      });
      for (let i = 0; i < messages.length && !cancelled; i += 5000) {
        await onMessages(0, messages.slice(i, i + 5000));
        cancelled = options.signal?.aborted ?? false;
      }
    }
    // Batches handed to worker threads may still be running after the reading ended: a cancel stops those too.
    if (await evaluation.finish(cancelled ? undefined : options.flushTo, options.signal)) cancelled = true;
    await output.flush();
    await report(true);
  } finally {
    await evaluator?.close().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  const durationMs = Date.now() - started;
  // Set before anything that could throw past the try.
  const done = evaluator as Evaluation;
  return {
    replayId: options.replayId,
    outputTopic,
    status: cancelled ? 'cancelled' : 'completed',
    eventsRead: done.eventsRead,
    eventsTotal:
      options.source.type === 'kafka'
        ? Number((ranges ?? []).reduce((sum, r) => sum + (r.end - r.start), 0n))
        : done.eventsRead,
    alerts: done.alerts,
    alertsByRule: { ...done.alertsByRule },
    deadLetters: { ...done.deadLetters },
    rules: done.rules,
    durationMs,
    eventsPerSecond: durationMs > 0 ? Math.round((done.eventsRead * 1000) / durationMs) : 0,
    partitions: ranges?.map((r) => ({ partition: r.partition, start: r.start.toString(), end: r.end.toString() })),
  };
}

/** Batches alerts into few sends; awaited when full so that a slow broker slows the replay instead of its memory. */
class AlertOutput {
  private pending: EmittedAlert[] = [];

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
  ) {}

  async add(alerts: EmittedAlert[]): Promise<void> {
    if (alerts.length === 0) return;
    for (const alert of alerts) this.pending.push(alert);
    if (this.pending.length >= 2000) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: batch.map((alert) => ({
        key: alert.key,
        value: JSON.stringify(alert.body),
        headers: { 'cepheus-alert-id': alert.id },
      })),
    });
  }
}
