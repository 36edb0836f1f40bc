import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FileSink,
  JobRunner,
  MemoryCheckpointStorage,
  type CheckpointStorage,
  type JobResult,
  type JobRunnerOptions,
  type JsonValue,
} from '@cepheus/runtime';
import type { EmittedAlert, RuleStatusReport } from '@cepheus/kafka';
import { LinesSource, MemorySink, RuleDocumentsSource, type LinesInput } from './embedded-connectors';
import { EMBEDDED_OUTPUT_NAME, type EmbeddedRuleJobParams } from './embedded-job-module';
import type { DeadLetter, RuleJobOutput } from './rule-job-records';
import { buildRuleJob, type RuleJobOptions } from './rule-job';

/** Options of {@link runRuleJob}. */
export interface RunRuleJobOptions extends RuleJobOptions {
  /** Parallel instances of the job. @defaultValue 1 */
  parallelism?: number;
  /**
   * Run each instance in a worker thread (all cores of the machine), rather than all in this thread. Custom `facts`
   * are code and cannot cross threads: with threads the default facts apply. @defaultValue false
   */
  threads?: boolean;
  /** Interval between checkpoints; 0: only the final one. @defaultValue 0 */
  checkpointIntervalMs?: number;
  /** Checkpoint store. @defaultValue in memory */
  storage?: CheckpointStorage;
  /** Called for every alert once it is committed (in this thread only; with threads, after the run). */
  onAlert?: (alert: EmittedAlert) => void;
  /** Runtime tuning (records per step and per frame, buffer timeout). */
  tuning?: Pick<JobRunnerOptions, 'batchSize' | 'frameSize' | 'bufferTimeoutMs'>;
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
 * `cepheus run` and the demo): the same job graph as the engine on Kafka, with file or in-memory sources and sinks.
 * `events` maps each input (a split: a file, a partition) to its JSON lines; the watermark of each input follows its
 * own event time, and at the end every window and `within` deadline resolves.
 */
export async function runRuleJob(
  rules: readonly unknown[],
  events: ReadonlyMap<string, LinesInput> | readonly string[],
  options: RunRuleJobOptions = {},
): Promise<RuleJobRun> {
  const inputs = Array.isArray(events)
    ? new Map<string, LinesInput>([['events', events as readonly string[]]])
    : (events as ReadonlyMap<string, LinesInput>);
  const run: Omit<RuleJobRun, 'job'> = { alerts: [], deadLetters: [], rules: [] };
  const collect = (out: RuleJobOutput): void => {
    if (out.type === 'alert') {
      run.alerts.push(out.alert);
      options.onAlert?.(out.alert);
    } else if (out.type === 'dead-letter') run.deadLetters.push(out.deadLetter);
    else run.rules.push(out.report);
  };
  const runnerOptions: JobRunnerOptions = {
    parallelism: options.parallelism ?? 1,
    storage: options.storage ?? new MemoryCheckpointStorage(),
    checkpointIntervalMs: options.checkpointIntervalMs ?? 0,
    restore: 'none',
    ...options.tuning,
  };
  if (!options.threads) {
    const sink = new MemorySink<RuleJobOutput>('output', collect);
    const env = buildRuleJob(
      { events: new LinesSource(inputs), rules: new RuleDocumentsSource(rules) },
      { output: sink },
      options,
    );
    const job = await new JobRunner(env, { ...runnerOptions, threads: false }).run();
    return { ...run, job };
  }
  const dir = await mkdtemp(join(tmpdir(), 'cepheus-run-'));
  try {
    const params: EmbeddedRuleJobParams = {
      rulesFile: join(dir, 'rules.json'),
      inputs: [],
      outputDir: join(dir, 'out'),
      options: {
        jobName: options.jobName,
        maxParallelism: options.maxParallelism,
        outOfOrdernessMs: options.outOfOrdernessMs,
        idleTimeoutMs: options.idleTimeoutMs,
        decoder: options.decoder,
        maxPartialMatches: options.maxPartialMatches,
      },
    };
    await writeFile(params.rulesFile, JSON.stringify(rules));
    let n = 0;
    for (const [name, input] of inputs) {
      const path = 'path' in input ? input.path : join(dir, `input-${n++}.jsonl`);
      if (!('path' in input)) await writeFile(path, input.join('\n'));
      params.inputs.push({ name, path });
    }
    const job = await new JobRunner(
      {
        module: require.resolve('./embedded-job-module'),
        exportName: 'embeddedRuleJob',
        params: params as unknown as JsonValue,
      },
      { ...runnerOptions, threads: true },
    ).run();
    for (const out of await FileSink.readCommitted<RuleJobOutput>(params.outputDir, EMBEDDED_OUTPUT_NAME)) collect(out);
    return { ...run, job };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
