import type { EmittedAlert, RawMessage } from '@cepheus/kafka';
import type { ReplayEvaluatorOptions } from './replay-evaluator';

/** What a worker gets at start (workerData). */
export interface WorkerInit {
  rules: readonly unknown[];
  /** Functions cannot cross threads: workers run with the default facts (the example facts, as the engine does). */
  options: Pick<ReplayEvaluatorOptions, 'outOfOrdernessMs' | 'decoder' | 'maxPartialMatches'>;
}

/**
 * One batch of one partition, packed so that crossing the thread costs one transfer: the values back to back in one
 * buffer (transferred, not cloned), their lengths, and the small fields as arrays.
 */
export interface PackedBatch {
  type: 'batch';
  seq: number;
  topic: string;
  partition: number;
  offsets: string[];
  keys: Array<string | null>;
  lengths: Int32Array;
  values: ArrayBuffer;
}

export type WorkerRequest = PackedBatch | { type: 'finish'; seq: number; flushTo?: number };

export type WorkerReply =
  | { type: 'batch'; seq: number; alerts: EmittedAlert[]; events: number }
  | {
      type: 'finish';
      seq: number;
      alerts: EmittedAlert[];
      deadLetters: Record<string, number>;
      rules: Array<{ ruleId: string; version: number | null; status: string; reason?: string }>;
    }
  | { type: 'error'; seq: number; message: string };

export function packBatch(seq: number, partition: number, messages: readonly RawMessage[]): PackedBatch {
  const lengths = new Int32Array(messages.length);
  let total = 0;
  messages.forEach((m, i) => {
    // -1 marks a null value (a tombstone), which the decoder reports as NOT_JSON like the live job.
    lengths[i] = m.value === null ? -1 : m.value.length;
    total += m.value?.length ?? 0;
  });
  const values = new Uint8Array(total);
  let at = 0;
  for (const m of messages) {
    if (m.value === null) continue;
    values.set(m.value, at);
    at += m.value.length;
  }
  return {
    type: 'batch',
    seq,
    topic: messages[0]?.topic ?? '',
    partition,
    offsets: messages.map((m) => m.offset),
    keys: messages.map((m) => (m.key === null ? null : m.key.toString('latin1'))),
    lengths,
    values: values.buffer,
  };
}

export function unpackBatch(batch: PackedBatch): RawMessage[] {
  const out: RawMessage[] = new Array(batch.offsets.length);
  let at = 0;
  for (let i = 0; i < batch.offsets.length; i++) {
    const length = batch.lengths[i];
    const key = batch.keys[i];
    out[i] = {
      topic: batch.topic,
      partition: batch.partition,
      offset: batch.offsets[i],
      key: key === null ? null : Buffer.from(key, 'latin1'),
      value: length < 0 ? null : Buffer.from(batch.values, at, length),
    };
    if (length > 0) at += length;
  }
  return out;
}
