import { JobRunner, MemoryCheckpointStorage, type CheckpointStorage, type JobResult } from '@cepheus/runtime';
import type { EmittedAlert, RuleStatusReport } from '@cepheus/kafka';
import { LinesSource, MemorySink, RuleDocumentsSource, type LinesInput } from './embedded-connectors';
import type { DeadLetter, RuleJobOutput } from './rule-job-records';
import { buildRuleJob, type RuleJobOptions } from './rule-job';

/** Options of {@link runRuleJob}. */
export interface RunRuleJobOptions extends RuleJobOptions {
  /** Parallel instances of the keyed stage (in this thread). @defaultValue 1 */
  parallelism?: number;
  /** Interval between checkpoints; 0: only the final one. @defaultValue 0 */
  checkpointIntervalMs?: number;
  /** Checkpoint store. @defaultValue in memory */
  storage?: CheckpointStorage;
  /** Called for every alert once it is committed. */
  onAlert?: (alert: EmittedAlert) => void;
}

/** What a run of the rule job over bounded inputs produced. */
export interface RuleJobRun {
  alerts: EmittedAlert[];
  deadLetters: DeadLetter[];
  rules: RuleStatusReport[];
  /** The runtime's account of the run (checkpoints, instances). */
  job: JobResult;
}

/**
 * Runs the rule job over bounded inputs in this process, on the streaming runtime (the embedded mode behind
 * `cepheus run` and the demo): the same job graph as the engine on Kafka, with in-memory sources and sink. `events`
 * maps each input (a split: a file, a partition) to its JSON lines; the watermark of each input follows its own event
 * time, and at the end every window and `within` deadline resolves.
 */
export async function runRuleJob(
  rules: readonly unknown[],
  events: ReadonlyMap<string, LinesInput> | readonly string[],
  options: RunRuleJobOptions = {},
): Promise<RuleJobRun> {
  const inputs = Array.isArray(events)
    ? new Map<string, LinesInput>([['events', events as readonly string[]]])
    : (events as ReadonlyMap<string, LinesInput>);
  const alerts: EmittedAlert[] = [];
  const deadLetters: DeadLetter[] = [];
  const statuses: RuleStatusReport[] = [];
  const sink = new MemorySink<RuleJobOutput>('output', (out) => {
    if (out.type === 'alert') {
      alerts.push(out.alert);
      options.onAlert?.(out.alert);
    } else if (out.type === 'dead-letter') deadLetters.push(out.deadLetter);
    else statuses.push(out.report);
  });
  const env = buildRuleJob(
    { events: new LinesSource(inputs), rules: new RuleDocumentsSource(rules) },
    { output: sink },
    options,
  );
  const runner = new JobRunner(env, {
    parallelism: options.parallelism ?? 1,
    threads: false,
    storage: options.storage ?? new MemoryCheckpointStorage(),
    checkpointIntervalMs: options.checkpointIntervalMs ?? 0,
    restore: 'none',
  });
  const job = await runner.run();
  return { alerts, deadLetters, rules: statuses, job };
}
