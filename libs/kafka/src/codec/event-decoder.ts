/** Why an event could not be read. Each reason has its own DLQ counter. */
export type DecodeFailureReason =
  'NOT_JSON' | 'NOT_AN_OBJECT' | 'MISSING_KEY' | 'MISSING_TIMESTAMP' | 'TOO_LARGE' | 'TOO_DEEP' | 'FUTURE_EVENT';

/** An event read off the events topic, with where it came from. */
export interface DecodedEvent {
  /** Stable id: the event's own id field, else `topic/partition/offset`, so alert ids stay deterministic. */
  id: string;
  key: string;
  /** Event time, milliseconds since the epoch. */
  timestamp: number;
  payload: Record<string, unknown>;
  partition: number;
  offset: string;
}

export type DecodeResult =
  { ok: true; event: DecodedEvent } | { ok: false; reason: DecodeFailureReason; message: string };

export interface EventDecoderOptions {
  /** Field holding event time (epoch ms number or ISO-8601 string). @defaultValue `timestamp` */
  timestampField?: string;
  /** Field holding the event id. @defaultValue `id` */
  idField?: string;
  /** Field used as the key when the Kafka message has none. @defaultValue `key` */
  keyField?: string;
  /** Largest accepted message value in bytes. @defaultValue 1 MiB */
  maxBytes?: number;
  /**
   * Deepest nesting of objects and arrays accepted in an event: deeper ones are refused at once rather than left to
   * overflow the stack of whatever walks them later (an id hash, a snapshot). @defaultValue 64
   */
  maxDepth?: number;
  /**
   * How far ahead of processing time an event's time may be. A later one (a clock set to 2099) would move its
   * partition's watermark so far that every later event counted as late and pending deadlines fired early: it goes
   * to the dead letters as FUTURE_EVENT and moves nothing. @defaultValue 1 day
   */
  maxFutureSkewMs?: number;
  /** Processing time, for `maxFutureSkewMs`. @defaultValue Date.now */
  now?: () => number;
}

export interface RawMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

/** Turns Kafka messages into events, or says exactly why not (the reason goes to the DLQ). */
export class EventDecoder {
  private readonly timestampField: string;
  private readonly idField: string;
  private readonly keyField: string;
  private readonly maxBytes: number;
  private readonly maxDepth: number;
  private readonly maxFutureSkewMs: number;
  private readonly now: () => number;

  constructor(options: EventDecoderOptions = {}) {
    this.timestampField = options.timestampField ?? 'timestamp';
    this.idField = options.idField ?? 'id';
    this.keyField = options.keyField ?? 'key';
    this.maxBytes = options.maxBytes ?? 1024 * 1024;
    this.maxDepth = options.maxDepth ?? 64;
    this.maxFutureSkewMs = options.maxFutureSkewMs ?? 24 * 3600_000;
    this.now = options.now ?? Date.now;
  }

  decode(message: RawMessage): DecodeResult {
    const bytes = message.value?.length ?? 0;
    if (bytes > this.maxBytes) {
      return { ok: false, reason: 'TOO_LARGE', message: `value is ${bytes} bytes; the limit is ${this.maxBytes}` };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(message.value?.toString('utf8') ?? '');
    } catch (error) {
      return { ok: false, reason: 'NOT_JSON', message: `value is not JSON: ${(error as Error).message}` };
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { ok: false, reason: 'NOT_AN_OBJECT', message: 'value must be a JSON object' };
    }
    if (deeperThan(parsed, this.maxDepth)) {
      return { ok: false, reason: 'TOO_DEEP', message: `the event nests deeper than ${this.maxDepth} levels` };
    }
    const payload = parsed as Record<string, unknown>;
    const key = message.key?.toString('utf8') || stringField(payload[this.keyField]);
    if (!key) {
      return {
        ok: false,
        reason: 'MISSING_KEY',
        message: `the message has no key and the event no "${this.keyField}" field`,
      };
    }
    const timestamp = toEpochMillis(payload[this.timestampField]);
    if (timestamp === undefined) {
      return {
        ok: false,
        reason: 'MISSING_TIMESTAMP',
        message: `field "${this.timestampField}" must be epoch milliseconds or an ISO-8601 date`,
      };
    }
    const ahead = timestamp - this.now();
    if (ahead > this.maxFutureSkewMs) {
      return {
        ok: false,
        reason: 'FUTURE_EVENT',
        message: `event time ${new Date(timestamp).toISOString()} is ${ahead} ms ahead of processing time (limit ${this.maxFutureSkewMs} ms)`,
      };
    }
    const id = stringField(payload[this.idField]) ?? `${message.topic}/${message.partition}/${message.offset}`;
    return { ok: true, event: { id, key, timestamp, payload, partition: message.partition, offset: message.offset } };
  }
}

/** Whether objects and arrays nest deeper than `limit` levels, found without recursion (the input may be hostile). */
function deeperThan(root: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(value) ? value : Object.values(value as object)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

function stringField(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function toEpochMillis(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value === 'string' && value.length > 0) {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

/** Longest value text a dead letter carries: it always fits the DLQ topic, and its source position finds the rest. */
export const DEAD_LETTER_VALUE_CHARS = 16 * 1024;

/** The value text a dead letter keeps, cut to {@link DEAD_LETTER_VALUE_CHARS}. */
export function deadLetterValue(value: Buffer | string | null): string | null {
  if (value === null) return null;
  const text =
    typeof value === 'string' ? value : value.toString('utf8', 0, Math.min(value.length, DEAD_LETTER_VALUE_CHARS * 4));
  return text.length > DEAD_LETTER_VALUE_CHARS ? text.slice(0, DEAD_LETTER_VALUE_CHARS) : text;
}
