import { CepheusError } from '@cepheus/common';
import type { JsonValue } from '../checkpoint/checkpoint-storage';
import { StreamEnvironment } from './stream-environment';

/**
 * A job named by module and export, so that every worker thread can build the same graph: functions (processors,
 * key selectors, map steps) cannot cross threads, so each thread imports the module and calls the export with the
 * same JSON parameters (the way Flink ships a jar and calls `main`). A `.ts` module works when the process runs
 * TypeScript (tsx, ts-jest); workers then load tsx themselves.
 */
export interface JobModuleRef {
  /** Absolute path of the module. */
  module: string;
  /** Name of the export: a function `(params) => StreamEnvironment`. @defaultValue 'default' */
  exportName?: string;
  params?: JsonValue;
}

/**
 * Imports the module and builds the job. `importer` defaults to dynamic `import()`; worker threads pass a CommonJS
 * `require` so that tsx's CommonJS hook handles `.ts` modules there.
 */
export async function loadJob(
  ref: JobModuleRef,
  importer: (path: string) => Promise<unknown> = (path) => import(path),
): Promise<StreamEnvironment> {
  const mod = (await importer(ref.module)) as Record<string, unknown>;
  const name = ref.exportName ?? 'default';
  const build = mod[name];
  if (typeof build !== 'function') {
    throw new CepheusError('CONFIG_INVALID', `module '${ref.module}' has no function export '${name}'`);
  }
  const env = (build as (params: JsonValue | undefined) => unknown)(ref.params);
  if (!(env instanceof StreamEnvironment)) {
    throw new CepheusError('CONFIG_INVALID', `'${name}' of '${ref.module}' did not return a StreamEnvironment`);
  }
  return env;
}
