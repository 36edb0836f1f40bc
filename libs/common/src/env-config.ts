import Ajv, { type ErrorObject } from 'ajv';
import { CepheusError } from './cepheus-error';
import { redactSecrets } from './redact';

/** A JSON Schema for an app's environment: one property per variable, with its type, bounds and default. */
export interface EnvSchema {
  type: 'object';
  properties: Record<string, object>;
  required?: readonly string[];
}

export interface LoadEnvConfigOptions {
  /** Names the app in the error, e.g. `engine`. */
  app: string;
  /** Variables whose values must never be echoed in an error (API keys). */
  secrets?: readonly string[];
  /** Plain-words rule per variable, said instead of a raw pattern when the value does not match it. */
  patternHints?: Readonly<Record<string, string>>;
}

const ajv = new Ajv({ useDefaults: true, coerceTypes: true, allErrors: true });
const compiled = new WeakMap<EnvSchema, ReturnType<typeof ajv.compile>>();

/**
 * Reads an app's configuration from the environment once at start-up, with ajv: defaults filled, numbers and booleans
 * converted, and every wrong value reported at once, naming the variable, what it holds (unless secret) and what it
 * must be. Empty variables count as unset.
 */
export function loadEnvConfig<T>(schema: EnvSchema, env: NodeJS.ProcessEnv, options: LoadEnvConfigOptions): T {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  const candidate: Record<string, unknown> = {};
  for (const name of Object.keys(schema.properties)) {
    if (env[name] !== undefined && env[name] !== '') candidate[name] = env[name];
  }
  if (!validate(candidate)) {
    const problems = (validate.errors ?? []).map((e: ErrorObject) => {
      const name = e.instancePath.replace(/^\//, '') || String(e.params.missingProperty ?? '');
      const shown = name in candidate && !(options.secrets ?? []).includes(name);
      const hint = e.keyword === 'pattern' ? options.patternHints?.[name] : undefined;
      // Values are quoted with their passwords hidden: a wrong REDIS_URL must not print the Redis password.
      return `  ${name}${shown ? ` (got ${redactSecrets(JSON.stringify(env[name]))})` : ''}: ${hint ?? e.message}`;
    });
    throw new CepheusError('CONFIG_INVALID', `invalid ${options.app} configuration:\n${problems.join('\n')}`, {
      details: { errors: validate.errors ?? [] },
    });
  }
  return candidate as T;
}

/**
 * The variables every app that talks to the job reads the same way: where Kafka and Redis are, the job id, and the
 * topic names (an API must name the same topics as the engines it manages).
 */
export const SHARED_ENV_PROPERTIES = {
  KAFKA_BROKERS: { type: 'string', pattern: '^[^,\\s]+:\\d+(,[^,\\s]+:\\d+)*$' },
  REDIS_URL: { type: 'string', pattern: '^rediss?://', default: 'redis://127.0.0.1:6379' },
  CEPHEUS_JOB_ID: { type: 'string', pattern: '^[A-Za-z0-9_-]+$', default: 'cepheus' },
  CEPHEUS_EVENTS_TOPIC: { type: 'string', minLength: 1, default: 'events' },
  CEPHEUS_RULES_TOPIC: { type: 'string', minLength: 1, default: 'rules' },
  CEPHEUS_ALERTS_TOPIC: { type: 'string', minLength: 1, default: 'alerts' },
  CEPHEUS_RULES_STATUS_TOPIC: { type: 'string', minLength: 1, default: 'rules-status' },
  CEPHEUS_LOG_LEVEL: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
} as const;
