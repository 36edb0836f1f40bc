import type { FrameReader, FrameWriter, RecordCodec } from '@cepheus/runtime';
import { RuleIdLists, type DeadLetter, type KeyedRecord, type RoutedEvent } from './rule-job-records';

const EVENT = 0;
const DEAD_LETTER = 1;

/**
 * The binary form of the keyed stage's records between worker threads (with it the runtime uses its shared rings
 * rather than JSON over MessagePorts). An event's payload is written as JSON text once per event: the copies routed to
 * several grouping keys share the payload object, so its text is kept by object. Rule-id lists come back interned.
 */
export class KeyedRecordCodec implements RecordCodec<KeyedRecord> {
  readonly #payloadText = new WeakMap<object, string>();
  readonly #ruleIds = new RuleIdLists();

  write(record: KeyedRecord, out: FrameWriter): void {
    if (record.kind === 'dead-letter') {
      out.u32(DEAD_LETTER);
      out.string(JSON.stringify(record));
      return;
    }
    out.u32(EVENT);
    out.string(record.key);
    out.string(record.id);
    out.f64(record.timestamp);
    out.string(record.ruleIds.join('\u0000'));
    let text = this.#payloadText.get(record.payload);
    if (text === undefined) {
      text = JSON.stringify(record.payload);
      this.#payloadText.set(record.payload, text);
    }
    out.string(text);
    out.string(record.origin.split);
    out.string(record.origin.offset);
    out.u32(record.primary ? 1 : 0);
  }

  read(input: FrameReader): KeyedRecord {
    if (input.u32() === DEAD_LETTER) return JSON.parse(input.string()) as DeadLetter;
    const key = input.string();
    const id = input.string();
    const timestamp = input.f64();
    const ruleIds = this.#ruleIds.of(input.string());
    const payload = JSON.parse(input.string()) as Record<string, unknown>;
    const split = input.string();
    const offset = input.string();
    const primary = input.u32() === 1;
    const event: RoutedEvent = {
      kind: 'event',
      key,
      ruleIds,
      id,
      timestamp,
      payload,
      origin: { split, offset },
      primary,
    };
    return event;
  }
}
