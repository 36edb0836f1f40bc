import { readFileSync } from 'node:fs';
import { FileSink, type JsonValue, type StreamEnvironment } from '@cepheus/runtime';
import { LinesSource, RuleDocumentsSource } from './embedded-connectors';
import type { RuleJobOutput } from './rule-job-records';
import { buildRuleJob, type RuleJobOptions } from './rule-job';

/** What a worker thread needs to build the embedded rule job: plain data, since functions cannot cross threads. */
export interface EmbeddedRuleJobParams {
  /** A JSON file holding the array of rule documents. */
  rulesFile: string;
  /** The events inputs: split name and JSON-lines file. */
  inputs: { name: string; path: string }[];
  /** Where the file sink writes its committed JSON-lines files. */
  outputDir: string;
  /** The job's options, JSON-safe (custom facts are code, so the embedded job uses the default facts). */
  options: Omit<RuleJobOptions, 'facts'>;
}

/** The name the embedded job's file sink gives its files. */
export const EMBEDDED_OUTPUT_NAME = 'output';

/**
 * The rule job over files: what every worker thread of an embedded run builds (the runtime loads this module in each
 * worker and calls this export with the same parameters, the way Flink ships a jar and calls `main`).
 */
export function embeddedRuleJob(params: JsonValue | undefined): StreamEnvironment {
  const p = params as unknown as EmbeddedRuleJobParams;
  const rules = JSON.parse(readFileSync(p.rulesFile, 'utf8')) as unknown[];
  const inputs = new Map(p.inputs.map((i) => [i.name, { path: i.path }] as const));
  return buildRuleJob(
    { events: new LinesSource(inputs), rules: new RuleDocumentsSource(rules) },
    {
      output: new FileSink<RuleJobOutput>({ directory: p.outputDir, name: EMBEDDED_OUTPUT_NAME, fsync: false }),
    },
    p.options,
  );
}
