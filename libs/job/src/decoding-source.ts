import {
  deadLetterValue,
  EventDecoder,
  type DecodedEvent,
  type EventDecoderOptions,
  type RawMessage,
} from '@cepheus/kafka';
import {
  MIN_WATERMARK,
  type JsonValue,
  type Source,
  type SourceReader,
  type SourceRecord,
  type SplitState,
} from '@cepheus/runtime';
import type { DeadLetter } from './rule-job-records';

/** A raw record of an events source: a Kafka message, or a line of a file. */
export type RawEvent = RawMessage;

/** An event as the decoding source gives it, with the split it was read from. */
export interface DecodedEventRecord {
  readonly kind: 'decoded';
  readonly event: DecodedEvent;
  readonly split: string;
}

/** What the decoding source gives: an event with its event time, or a dead letter. */
export type DecodedRecord = DecodedEventRecord | DeadLetter;

/** Options of a {@link DecodingSource}. */
export interface DecodingSourceOptions extends EventDecoderOptions {
  /** Event-time disorder tolerated within a split; an event further behind is late. @defaultValue 0 */
  outOfOrdernessMs?: number;
}

/** A split's position as this source checkpoints it: the inner source's, and the largest event time read so far. */
interface DecodingSplitOffset {
  inner: JsonValue;
  maxTimestamp: number;
}

/**
 * Decodes the records of a raw events source as they are read, in the source subtask: an event's time becomes the
 * record's timestamp, so that watermarks follow event time per split (Flink assigns timestamps in the source too). A
 * record that cannot be decoded becomes a dead letter with its reason; its timestamp is the lowest there is, so it
 * never moves a watermark.
 *
 * Lateness is decided here too, per split: an event more than the allowed disorder behind the largest event time of
 * its split is late. That depends only on the split's own order, not on how records were batched or how far other
 * splits are, so the same input always has the same late events (the split's largest time is checkpointed with its
 * offset). An event that is not late here is never behind the watermark downstream, which is a minimum over splits.
 */
export class DecodingSource implements Source<DecodedRecord> {
  readonly name: string;
  readonly bounded: boolean;
  readonly #inner: Source<RawEvent>;
  readonly #options: DecodingSourceOptions;

  constructor(inner: Source<RawEvent>, options: DecodingSourceOptions = {}) {
    this.#inner = inner;
    this.name = inner.name;
    this.bounded = inner.bounded;
    this.#options = options;
  }

  listSplits(): readonly string[] | Promise<readonly string[]> {
    return this.#inner.listSplits();
  }

  async createReader(context: Parameters<Source<RawEvent>['createReader']>[0]): Promise<SourceReader<DecodedRecord>> {
    const inner = await this.#inner.createReader(context);
    const decoder = new EventDecoder(this.#options);
    const bound = this.#options.outOfOrdernessMs ?? 0;
    const maxBySplit = new Map<string, number>();
    const deadLetter = (r: SourceRecord<RawEvent>, reason: DeadLetter['reason'], message: string): DeadLetter => ({
      kind: 'dead-letter',
      reason,
      message,
      origin: { split: r.split, offset: r.value.offset },
      value: deadLetterValue(r.value.value),
    });
    const decode = (records: SourceRecord<RawEvent>[]): SourceRecord<DecodedRecord>[] => {
      const out = new Array<SourceRecord<DecodedRecord>>(records.length);
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        const result = decoder.decode(r.value);
        if (result.ok) {
          const ts = result.event.timestamp;
          const max = maxBySplit.get(r.split) ?? MIN_WATERMARK;
          if (ts <= max - bound - 1) {
            const late = deadLetter(r, 'LATE_EVENT', `event time ${ts} is more than ${bound} ms behind ${max}`);
            out[i] = { value: late, timestamp: MIN_WATERMARK, split: r.split };
            continue;
          }
          if (ts > max) maxBySplit.set(r.split, ts);
          out[i] = {
            value: { kind: 'decoded', event: result.event, split: r.split },
            timestamp: result.event.timestamp,
            split: r.split,
          };
        } else {
          out[i] = { value: deadLetter(r, result.reason, result.message), timestamp: MIN_WATERMARK, split: r.split };
        }
      }
      return out;
    };
    return {
      addSplits: (splits: readonly SplitState[]) =>
        inner.addSplits(
          splits.map((s) => {
            const o = s.offset as DecodingSplitOffset | null;
            if (o === null) return s;
            maxBySplit.set(s.split, o.maxTimestamp);
            return { split: s.split, offset: o.inner };
          }),
        ),
      poll: (max) => {
        const polled = inner.poll(max);
        return Array.isArray(polled) ? decode(polled) : polled.then(decode);
      },
      snapshotState: () =>
        inner.snapshotState().map((s) => {
          const offset: DecodingSplitOffset = {
            inner: s.offset,
            maxTimestamp: maxBySplit.get(s.split) ?? MIN_WATERMARK,
          };
          return { split: s.split, offset: offset as unknown as JsonValue };
        }),
      isFinished: () => inner.isFinished(),
      isSplitFinished: inner.isSplitFinished ? (split) => inner.isSplitFinished!(split) : undefined,
      close: () => inner.close?.(),
    };
  }
}
