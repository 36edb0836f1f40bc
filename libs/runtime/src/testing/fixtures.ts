import type { CheckpointManifest, CheckpointStorage } from '../checkpoint/checkpoint-storage';
import type { TimedValue } from '../connectors/collection-source';
import { readKeyedChunk, type KeyedChunk } from '../job/instance-task';
import { decodeKeyGroupState } from '../state/keyed-state-backend';
import { broadcastStateDigest } from '../state/broadcast-state-store';
import type { FixtureEvent, FixtureRule } from './jobs/rules-job';

/**
 * Events for the fixture job: `count` events over `keys` keys, each key always in the same split (so that per-key
 * order is the same in every run), numbered `n` = 0.. in global order, timestamps increasing per split.
 */
export function fixtureEvents(
  count: number,
  keys: number,
  splits: number,
  seed = 1,
): Record<string, TimedValue<FixtureEvent>[]> {
  const out: Record<string, TimedValue<FixtureEvent>[]> = {};
  for (let s = 0; s < splits; s++) out[`p${s}`] = [];
  let x = seed >>> 0 || 1;
  for (let n = 0; n < count; n++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const k = (x >>> 0) % keys;
    out[`p${k % splits}`]!.push({ value: { k: `key-${k}`, n, v: (x >>> 8) % 100 }, timestamp: n });
  }
  return out;
}

/** Rule updates: puts, changes and deletes over `ids` rule ids. */
export function fixtureRules(count: number, ids: number, seed = 7): TimedValue<FixtureRule>[] {
  const out: TimedValue<FixtureRule>[] = [];
  let x = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const id = `rule-${(x >>> 0) % ids}`;
    out.push({
      value: { id, version: i, op: (x >>> 4) % 5 === 0 ? 'delete' : 'put', limit: (x >>> 9) % 1000 },
      timestamp: i,
    });
  }
  return out;
}

/** The digest of the broadcast state obtained by applying the rule stream in order (the fixture job's semantics). */
export function expectedRulesDigest(rules: readonly TimedValue<FixtureRule>[]): string {
  const state = new Map<string, FixtureRule>();
  for (const { value } of rules) {
    if (value.op === 'put') state.set(value.id, value);
    else state.delete(value.id);
  }
  return broadcastStateDigest(new Map([['rules', state]]));
}

/** Reads the keyed state of a checkpoint: key -> state name -> value. */
export async function readKeyedState(
  storage: CheckpointStorage,
  manifest: CheckpointManifest,
): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const c of manifest.chunks) {
    if (c.keyGroup === undefined) continue;
    const bytes = await storage.readChunk(manifest.jobId, manifest.checkpointId, c.name);
    const states =
      bytes[0] === 0x7b // '{': a JSON chunk
        ? Object.values(JSON.parse(Buffer.from(bytes).toString('utf8')) as KeyedChunk).map((g) => g.states)
        : [...readKeyedChunk(bytes)].map((s) => decodeKeyGroupState(s.state));
    for (const [name, data] of states.flatMap((g) => Object.entries(g))) {
      data.keys.forEach((key, i) => {
        const rec = out.get(key) ?? {};
        rec[name] = data.values[i];
        out.set(key, rec);
      });
    }
  }
  return out;
}

/** Output records in a canonical order, for comparing runs whose interleaving across keys differs. */
export function sortedOutput(records: readonly unknown[]): string[] {
  return records.map((r) => JSON.stringify(r)).sort();
}
