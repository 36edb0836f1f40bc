import type { KafkaRuleJobStats } from '@cepheus/kafka';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one engine instance. Counters are fed from the job's own counters at scrape time, so the
 * hot path never touches prom-client.
 */
export class EngineMetrics {
  readonly registry = new Registry();
  private readonly last = new Map<string, number>();
  private readonly eventsIn: Counter;
  private readonly alertsOut: Counter;
  private readonly dlq: Counter<'reason'>;
  private readonly checkpoints: Counter;
  private readonly checkpointFailures: Counter;
  private readonly checkpointDuration: Gauge;
  private readonly checkpointBytes: Gauge;
  private readonly ruleUpdates: Counter<'result'>;
  private readonly lag: Gauge<'partition'>;
  private readonly ownedPartitions: Gauge;
  private readonly digest: Gauge<'digest'>;
  private readonly ruleMatches: Gauge<'rule'>;
  private readonly partialMatches: Gauge;
  private readonly evaluations: Counter;
  private readonly pausedPartitions: Gauge;
  private readonly backPressure: Counter;

  constructor(
    private readonly read: () => {
      job: KafkaRuleJobStats;
      ruleMatches: Record<string, number>;
      partialMatches: number;
      evaluations: number;
    },
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'cepheus_process_' });
    const registers = [this.registry];
    this.eventsIn = new Counter({
      name: 'cepheus_events_in_total',
      help: 'Events read from the events topic',
      registers,
    });
    this.alertsOut = new Counter({
      name: 'cepheus_alerts_out_total',
      help: 'Alerts committed to the alerts topic',
      registers,
    });
    this.dlq = new Counter({
      name: 'cepheus_events_dead_lettered_total',
      help: 'Events sent to the DLQ, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.checkpoints = new Counter({ name: 'cepheus_checkpoints_total', help: 'Completed checkpoints', registers });
    this.checkpointFailures = new Counter({
      name: 'cepheus_checkpoint_failures_total',
      help: 'Failed checkpoints (each restarts from the committed offsets)',
      registers,
    });
    this.checkpointDuration = new Gauge({
      name: 'cepheus_checkpoint_duration_ms',
      help: 'Duration of the last checkpoint',
      registers,
    });
    this.checkpointBytes = new Gauge({
      name: 'cepheus_checkpoint_size_bytes',
      help: 'State bytes written by the last checkpoint',
      registers,
    });
    this.ruleUpdates = new Counter({
      name: 'cepheus_rule_updates_total',
      help: 'Rule records applied or rejected',
      labelNames: ['result'],
      registers,
    });
    this.lag = new Gauge({
      name: 'cepheus_consumer_lag',
      help: 'Messages behind the high watermark, per events partition',
      labelNames: ['partition'],
      registers,
    });
    this.ownedPartitions = new Gauge({
      name: 'cepheus_owned_partitions',
      help: 'Events partitions this instance owns',
      registers,
    });
    this.digest = new Gauge({
      name: 'cepheus_broadcast_state_info',
      help: 'Digest of the broadcast (rules) state; value is always 1',
      labelNames: ['digest'],
      registers,
    });
    this.ruleMatches = new Gauge({
      name: 'cepheus_rule_matches',
      help: 'Alerts raised per rule since start',
      labelNames: ['rule'],
      registers,
    });
    this.evaluations = new Counter({
      name: 'cepheus_rule_evaluations_total',
      help: 'Rule evaluations: an event meeting a rule that can use it',
      registers,
    });
    this.pausedPartitions = new Gauge({
      name: 'cepheus_backpressure_paused_partitions',
      help: 'Events partitions paused because their uncommitted output reached the bound',
      registers,
    });
    this.backPressure = new Counter({
      name: 'cepheus_backpressure_ms_total',
      help: 'Milliseconds partitions spent paused for back-pressure',
      registers,
    });
    this.partialMatches = new Gauge({
      name: 'cepheus_partial_matches',
      help: 'Open CEP partial matches and window entries',
      registers,
    });
  }

  async render(): Promise<string> {
    const { job, ruleMatches, partialMatches, evaluations } = this.read();
    this.bump(this.evaluations, 'eval', evaluations);
    this.bump(this.backPressure, 'bp', job.backPressureMs);
    this.pausedPartitions.set(job.pausedPartitions.length);
    this.bump(this.eventsIn, 'in', job.eventsIn);
    this.bump(this.alertsOut, 'out', job.alertsOut);
    this.bump(this.checkpoints, 'cp', job.checkpoints);
    this.bump(this.checkpointFailures, 'cpf', job.checkpointFailures);
    for (const [reason, count] of Object.entries(job.dlq)) {
      const previous = this.last.get(`dlq:${reason}`) ?? 0;
      if (count > previous) this.dlq.inc({ reason }, count - previous);
      this.last.set(`dlq:${reason}`, count);
    }
    for (const [result, count] of [
      ['applied', job.rulesApplied],
      ['rejected', job.rulesRejected],
    ] as const) {
      const previous = this.last.get(`rule:${result}`) ?? 0;
      if (count > previous) this.ruleUpdates.inc({ result }, count - previous);
      this.last.set(`rule:${result}`, count);
    }
    this.checkpointDuration.set(job.lastCheckpointMs);
    this.checkpointBytes.set(job.lastCheckpointBytes);
    this.lag.reset();
    for (const [partition, lag] of Object.entries(job.lagByPartition)) this.lag.set({ partition }, lag);
    this.ownedPartitions.set(job.ownedPartitions.length);
    this.digest.reset();
    this.digest.set({ digest: job.broadcastDigest }, 1);
    this.ruleMatches.reset();
    for (const [rule, count] of Object.entries(ruleMatches)) this.ruleMatches.set({ rule }, count);
    this.partialMatches.set(partialMatches);
    return this.registry.metrics();
  }

  private bump(counter: Counter, name: string, value: number): void {
    const previous = this.last.get(name) ?? 0;
    if (value > previous) counter.inc(value - previous);
    this.last.set(name, value);
  }
}
