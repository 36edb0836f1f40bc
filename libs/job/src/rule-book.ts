import { createHash } from 'node:crypto';
import { isCepheusError } from '@cepheus/common';
import type { RuleRecord, RuleStatusReport } from '@cepheus/kafka';
import { canonicalJson } from '@cepheus/runtime';
import {
  compileRule,
  EXAMPLE_FACTS,
  FactRegistry,
  RuleEvaluator,
  type CompiledRule,
  type FactDefinition,
  type RuleValidationError,
} from '@cepheus/rules';

/** Options of a {@link RuleBook}. */
export interface RuleBookOptions {
  /** Custom facts rules may use, besides the built-in ones. @defaultValue the example facts (`travelSpeedKmh`) */
  facts?: readonly FactDefinition[];
  /** Bound on CEP partial matches per key and rule. @defaultValue 1000 */
  maxPartialMatches?: number;
}

interface AppliedRule {
  compiled: CompiledRule;
  document: unknown;
}

/**
 * The rules in force, as the broadcast side of the rule job keeps them: rule records are validated and compiled (a bad
 * record is rejected with its field errors and the previous version keeps running), and every change makes a new
 * evaluator. Two books that applied the same records hold the same documents and give the same digest.
 */
export class RuleBook {
  readonly #applied = new Map<string, AppliedRule>();
  readonly #facts: FactRegistry;
  readonly #maxPartialMatches: number;
  #evaluator = new RuleEvaluator([]);
  #generation = 0;
  #digest = digestOf(new Map());

  constructor(options: RuleBookOptions = {}) {
    this.#facts = new FactRegistry(options.facts ?? EXAMPLE_FACTS);
    this.#maxPartialMatches = options.maxPartialMatches ?? 1000;
  }

  /** The evaluator of the rules in force; replaced by every change. */
  get evaluator(): RuleEvaluator {
    return this.#evaluator;
  }

  /** +1 on every change of the rules in force. */
  get generation(): number {
    return this.#generation;
  }

  /** sha256 over the rule documents in id order: identical on every instance that applied the same records. */
  get digest(): string {
    return this.#digest;
  }

  /** The document of the version in force, if the rule is in force (active or paused). */
  documentOf(ruleId: string): unknown {
    return this.#applied.get(ruleId)?.document;
  }

  /** The rules in force: id, version, status, kind, in id order. */
  describe(): Array<{ id: string; version: number; status: string; type: string }> {
    return [...this.#applied.values()]
      .map(({ compiled }) => ({
        id: compiled.id,
        version: compiled.version,
        status: compiled.rule.status,
        type: compiled.kind,
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Applies one record of the rules stream: a new version, a deletion (null value), or a rejection with reasons. */
  apply(record: RuleRecord): RuleStatusReport {
    const { ruleId } = record;
    if (record.value === null) {
      const existed = this.#applied.delete(ruleId);
      this.#rebuild();
      return { ruleId, version: null, status: 'deleted', reason: existed ? undefined : 'no such rule was running' };
    }
    let document: unknown;
    try {
      document = JSON.parse(record.value);
    } catch (error) {
      return this.#reject(ruleId, null, `the record is not JSON: ${(error as Error).message}`);
    }
    const version = versionOf(document);
    let compiled: CompiledRule;
    try {
      compiled = this.#compile(document);
    } catch (error) {
      const errors = isCepheusError(error) ? (error.details?.errors as RuleValidationError[] | undefined) : undefined;
      return this.#reject(ruleId, version, (error as Error).message, errors);
    }
    if (compiled.id !== ruleId) {
      return this.#reject(ruleId, version, `the record key "${ruleId}" differs from the rule id "${compiled.id}"`, [
        { field: '/id', reason: `must equal the record key "${ruleId}"` },
      ]);
    }
    const running = this.#applied.get(ruleId);
    if (running && compiled.version <= running.compiled.version) {
      return this.#reject(
        ruleId,
        compiled.version,
        `version ${compiled.version} is not newer than the running v${running.compiled.version}`,
        [{ field: '/version', reason: `must be greater than ${running.compiled.version}` }],
      );
    }
    if (compiled.rule.status === 'deleted') this.#applied.delete(ruleId);
    else this.#applied.set(ruleId, { compiled, document });
    this.#rebuild();
    return { ruleId, version: compiled.version, status: compiled.rule.status === 'deleted' ? 'deleted' : 'applied' };
  }

  /**
   * Replaces the rules in force by these documents, each already accepted once (a restore from broadcast state).
   * A document that no longer compiles (a fact gone from this build) is left out, and named in the result.
   */
  load(documents: Iterable<readonly [string, unknown]>): string[] {
    this.#applied.clear();
    const refused: string[] = [];
    for (const [ruleId, document] of documents) {
      try {
        this.#applied.set(ruleId, { compiled: this.#compile(document), document });
      } catch {
        refused.push(ruleId);
      }
    }
    this.#rebuild();
    return refused;
  }

  #compile(document: unknown): CompiledRule {
    return compileRule(document, { facts: this.#facts, maxPartialMatches: this.#maxPartialMatches });
  }

  #reject(ruleId: string, version: number | null, reason: string, errors?: RuleValidationError[]): RuleStatusReport {
    const running = this.#applied.get(ruleId);
    const keeps = running ? `; v${running.compiled.version} keeps running` : '';
    return { ruleId, version, status: 'rejected', reason: `${reason}${keeps}`, errors };
  }

  #rebuild(): void {
    this.#evaluator = new RuleEvaluator([...this.#applied.values()].map((a) => a.compiled));
    this.#generation += 1;
    this.#digest = digestOf(this.#applied);
  }
}

function versionOf(document: unknown): number | null {
  const version = (document as { version?: unknown } | null)?.version;
  return typeof version === 'number' ? version : null;
}

function digestOf(applied: Map<string, AppliedRule>): string {
  const hash = createHash('sha256');
  for (const id of [...applied.keys()].sort()) hash.update(canonicalJson([id, applied.get(id)!.document])).update('\n');
  return hash.digest('hex');
}
