import { ByteReader, ByteWriter, CepheusError } from '@cepheus/common';
import { deadLetterValue, type DecodedEvent, type EventDecoderOptions, type RuleRecord } from '@cepheus/kafka';
import {
  broadcastState,
  StreamEnvironment,
  valueState,
  type BroadcastContext,
  type KeyedContext,
  type Processor,
  type ReadOnlyBroadcastState,
  type RuntimeContext,
  type Sink,
  type Source,
  type StateCodec,
  type TimerContext,
  type ValueState,
} from '@cepheus/runtime';
import type { Alert, KeyState } from '@cepheus/rules';
import { DecodingSource, type DecodedRecord, type RawEvent } from './decoding-source';
import { KeyedRecordCodec } from './keyed-record-codec';
import { RuleBook, type RuleBookOptions } from './rule-book';
import {
  DEAD_LETTER_KEY,
  type DeadLetter,
  type EventOrigin,
  type KeyedRecord,
  type RoutedEvent,
  type RuleJobOutput,
  RuleIdLists,
} from './rule-job-records';

/** The rule documents in force, by rule id: the job's broadcast state (identical on every instance). */
export const RULES_STATE = broadcastState<unknown>('rules');

/** Sources of the rule job: raw events (keyed or not) and the rules stream. */
export interface RuleJobSources {
  events: Source<RawEvent>;
  rules: Source<RuleRecord>;
}

/** Where the rule job writes alerts, dead letters and rule statuses (one sink: one transaction per checkpoint). */
export interface RuleJobSinks {
  output: Sink<RuleJobOutput>;
}

/** Options of {@link buildRuleJob}; every field has a default. */
export interface RuleJobOptions extends RuleBookOptions {
  /** The job's name and its id in checkpoint storage. @defaultValue 'cepheus-rules' */
  jobName?: string;
  /** Key groups: the most instances the job's state can ever be spread over. @defaultValue 128 */
  maxParallelism?: number;
  /** Event-time disorder tolerated before an event counts as late. @defaultValue 0 */
  outOfOrdernessMs?: number;
  /** A split without records for this long stops holding the watermark back. @defaultValue never */
  idleTimeoutMs?: number;
  /** How events are read (time field, id field, size limit). */
  decoder?: EventDecoderOptions;
}

/**
 * The rule job, the one dataflow every mode runs (the engine on Kafka, `cepheus run`, the demo, replays); only the
 * sources and the sink differ:
 *
 * ```
 * events -> decode (dead letters) -> route by the rules' groupings -> keyBy(grouping key) --+
 *                                                                                            +-> rule processor -> output
 * rules  -> broadcast (rules as broadcast state) -------------------------------------------+
 * ```
 *
 * An event is routed once per distinct grouping key the rules in force need (Flink's dynamic-key pattern), so a rule
 * grouped by device sees every event of the device whatever the events' own key and whichever instance read it.
 * Alerts are decided per key in event time only (see {@link RuleKeyProcessor}): the same events and rules give the same
 * alerts, ids included, at any parallelism and in any arrival order within the out-of-orderness bound.
 */
export function buildRuleJob(
  sources: RuleJobSources,
  sinks: RuleJobSinks,
  options: RuleJobOptions = {},
): StreamEnvironment {
  const env = new StreamEnvironment({
    jobName: options.jobName ?? 'cepheus-rules',
    maxParallelism: options.maxParallelism,
  });
  const books = new RuleBooks(options);
  const rules = env.fromSource(sources.rules, { name: 'rules' }).broadcast(RULES_STATE);
  env
    .fromSource(
      new DecodingSource(sources.events, { ...options.decoder, outOfOrdernessMs: options.outOfOrdernessMs }),
      {
        name: 'events',
        watermarks: { outOfOrdernessMs: options.outOfOrdernessMs ?? 0, idleTimeoutMs: options.idleTimeoutMs },
      },
    )
    .flatMap(
      (record: DecodedRecord, context) => route(record, books.of(context.getBroadcastState(RULES_STATE))),
      'route',
    )
    .keyBy((record: KeyedRecord) => (record.kind === 'event' ? record.key : DEAD_LETTER_KEY), {
      name: 'by-grouping-key',
      codec: new KeyedRecordCodec(),
    })
    .connect(rules)
    .process<RuleJobOutput>((runtime) => new RuleKeyProcessor(books, runtime), { name: 'evaluate' })
    .sinkTo(sinks.output, 'output');
  return env;
}

const NO_RECORDS: readonly KeyedRecord[] = [];

/** One copy of the event per grouping key the rules in force need; a dead letter passes as it is. */
function route(record: DecodedRecord, book: RuleBook): readonly KeyedRecord[] {
  if (record.kind === 'dead-letter') return [record];
  const event: DecodedEvent = record.event;
  // Alert ids name events by id: an event without an id field is named by where it was read.
  const payload = event.payload.id === undefined ? { ...event.payload, id: event.id } : event.payload;
  const routes = book.evaluator.route(payload);
  if (routes.length === 0) return NO_RECORDS;
  const origin = { split: record.split, offset: event.offset };
  return routes.map((r, i): RoutedEvent => ({
    kind: 'event',
    key: r.key,
    ruleIds: r.ruleIds,
    id: event.id,
    timestamp: event.timestamp,
    payload,
    origin,
    primary: i === 0,
  }));
}

/**
 * The rule books of the instances of one job, by their broadcast state: the routing step and the processor of an
 * instance read the same handle, so they share one compiled book. A book is rebuilt from the documents in broadcast
 * state the first time an instance asks after a restore.
 */
class RuleBooks {
  readonly #books = new WeakMap<object, RuleBook>();
  constructor(readonly options: RuleBookOptions) {}

  of(state: ReadOnlyBroadcastState<unknown>): RuleBook {
    let book = this.#books.get(state);
    if (book === undefined) {
      book = new RuleBook(this.options);
      book.load([...state.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      this.#books.set(state, book);
    }
    return book;
  }
}

/** An event of a key waiting for the watermark, in the key's state. */
interface PendingEvent {
  readonly ts: number;
  readonly id: string;
  readonly ruleIds: readonly string[];
  readonly payload: Readonly<Record<string, unknown>>;
  readonly origin: EventOrigin;
}

/** Everything the rule job keeps for one grouping key. */
interface KeyRecord {
  /** The rules' state of the key (windows, partial matches). */
  state: KeyState;
  /** Events not yet under the watermark, in (time, id) order. */
  pending: PendingEvent[];
  /** The event time the key's state stands at: the last event or wake-up processed. */
  moment: number;
  /**
   * The event-time timers registered for the key and not fired yet, ascending. An event later than the first needs no
   * timer of its own (that timer's call takes every event the watermark passed), and a wake-up already registered is
   * not registered again: registering is most of what a timer costs.
   */
  timers: number[];
  /** The book whose rules wrote `state`: its evaluator encodes the state (sequence states need their rule's NFA). */
  book: RuleBook;
}

const KEY_RECORD_FORMAT = 2;

/**
 * The binary form of a {@link KeyRecord}: format byte, moment, the pending events as JSON text, then the rules' state
 * in `RuleEvaluator.writeState`'s format. Decoding needs the rules in force, so the processor names its book before
 * every state access ({@link KeyRecordCodec.use}); decoding happens only inside such an access.
 */
class KeyRecordCodec implements StateCodec<KeyRecord> {
  #book: RuleBook | undefined;
  readonly #ruleIds = new RuleIdLists();

  use(book: RuleBook): void {
    this.#book = book;
  }

  encode(record: KeyRecord): Uint8Array {
    const w = new ByteWriter(256);
    w.u8(KEY_RECORD_FORMAT);
    w.f64(record.moment);
    w.varuint(record.timers.length);
    for (const t of record.timers) w.f64(t);
    w.str(JSON.stringify(record.pending));
    record.book.evaluator.writeState(record.state, w);
    return w.take();
  }

  decode(bytes: Uint8Array): KeyRecord {
    const book = this.#book;
    if (book === undefined) throw new CepheusError('STATE_RESTORE_FAILED', 'rule key state read outside a processor');
    const r = new ByteReader(bytes);
    const format = r.u8();
    if (format !== KEY_RECORD_FORMAT) {
      throw new CepheusError('STATE_RESTORE_FAILED', `rule key state format ${format} is not ${KEY_RECORD_FORMAT}`);
    }
    const moment = r.f64();
    const timers: number[] = [];
    for (let n = r.varuint(); n > 0; n--) timers.push(r.f64());
    const pending = (JSON.parse(r.str()) as PendingEvent[]).map((e) => ({
      ...e,
      ruleIds: this.#ruleIds.of(e.ruleIds.join('\u0000')),
    }));
    const state = book.evaluator.readState(bytes.subarray(r.position));
    return { state, pending, moment, timers, book };
  }
}

/** Wake-ups processed for one key in one timer call before the processor suspects a rule that never settles. */
const MAX_WAKE_UPS_PER_TIMER = 100_000;

/**
 * The keyed broadcast processor of the rule job (Flink's `KeyedBroadcastProcessFunction`): rule records change the
 * broadcast state (`processBroadcastElement`); events of a grouping key are evaluated by the rules in force.
 *
 * When a rule fires is decided per key and in event time only, so that it does not depend on which other keys share an
 * instance, on how far their watermarks are, or on arrival order:
 * - an event waits in its key's state until the watermark passes it, then the key's events are taken in (time, id)
 *   order;
 * - between events the key's own wake-ups (the moment a window's oldest member leaves, a sequence's `within` runs out)
 *   are taken at their exact times, each before the events of the same time;
 * - an aggregate is compared after each event it takes and at each wake-up, and alerts when the comparison turns
 *   true (docs/rules.md, "When a rule fires").
 */
export class RuleKeyProcessor implements Processor<KeyedRecord, RuleJobOutput, RuleRecord> {
  readonly #books: RuleBooks;
  readonly #codec = new KeyRecordCodec();
  readonly #keys: ValueState<KeyRecord>;
  readonly #subtask: number;

  constructor(books: RuleBooks, runtime: RuntimeContext) {
    this.#books = books;
    this.#subtask = runtime.subtaskIndex;
    this.#keys = runtime.getState(valueState<KeyRecord>('rule-keys', { codec: this.#codec }));
  }

  processBroadcastElement(record: RuleRecord, context: BroadcastContext<RuleJobOutput>): void {
    const state = context.getBroadcastState(RULES_STATE);
    const book = this.#books.of(state);
    const report = book.apply(record);
    if (report.status !== 'rejected') {
      const document = book.documentOf(record.ruleId);
      if (document === undefined) state.remove(record.ruleId);
      else state.put(record.ruleId, document);
    }
    // Every instance applies every record; one reports it.
    if (this.#subtask === 0) context.emit({ type: 'rule-status', report });
  }

  processElement(record: KeyedRecord, context: KeyedContext<RuleJobOutput>): void {
    if (record.kind === 'dead-letter') {
      context.emit({ type: 'dead-letter', deadLetter: record });
      return;
    }
    const watermark = context.currentWatermark();
    if (record.timestamp <= watermark) {
      if (record.primary) {
        context.emit({
          type: 'dead-letter',
          deadLetter: {
            kind: 'dead-letter',
            reason: 'LATE_EVENT',
            message: `event time ${record.timestamp} is behind the watermark ${watermark}`,
            origin: record.origin,
            value: deadLetterValue(JSON.stringify(record.payload)),
          },
        });
      }
      return;
    }
    const book = this.#books.of(context.getBroadcastState(RULES_STATE));
    this.#codec.use(book);
    const keyRecord: KeyRecord = this.#keys.value() ?? {
      state: new Map(),
      pending: [],
      moment: -Infinity,
      timers: [],
      book,
    };
    insertPending(keyRecord.pending, {
      ts: record.timestamp,
      id: record.id,
      ruleIds: record.ruleIds,
      payload: record.payload,
      origin: record.origin,
    });
    const timers = keyRecord.timers;
    if (timers.length === 0 || record.timestamp < timers[0]!) {
      timers.unshift(record.timestamp);
      context.timers.registerEventTimeTimer(record.timestamp);
    }
    this.#keys.update(keyRecord);
  }

  onTimer(timestamp: number, context: TimerContext<RuleJobOutput>): void {
    const book = this.#books.of(context.getBroadcastState(RULES_STATE));
    this.#codec.use(book);
    const record = this.#keys.value();
    if (record === undefined) return;
    record.book = book;
    const evaluator = book.evaluator;
    const key = context.key;
    const pending = record.pending;
    let wakeUps = 0;
    // The key's next wake-up, as of its state now: the loop leaves only right after computing it, so it stays exact.
    let wake: number | undefined;
    for (;;) {
      const next = pending.length > 0 && pending[0]!.ts <= timestamp ? pending[0] : undefined;
      wake = evaluator.nextWakeUp(record.state);
      if (wake !== undefined && wake <= timestamp && (next === undefined || wake <= next.ts)) {
        // -Infinity: state of a rule no longer in force, dropped at the moment the key stands at.
        const at = Math.max(wake, record.moment);
        this.#emitAlerts(evaluator.advanceTime(record.state, key, at), at, context);
        record.moment = at;
        if (++wakeUps > MAX_WAKE_UPS_PER_TIMER) {
          throw new CepheusError('JOB_FAILED', `key '${key}': rule state does not settle at event time ${at}`);
        }
        continue;
      }
      if (next === undefined) break;
      pending.shift();
      record.moment = next.ts;
      this.#process(record, key, next, context);
    }
    if (pending.length === 0 && record.state.size === 0) {
      this.#keys.clear();
      return;
    }
    const due = Math.min(pending.length > 0 ? pending[0]!.ts : Infinity, wake ?? Infinity);
    const timers = record.timers;
    while (timers.length > 0 && timers[0]! <= timestamp) timers.shift();
    if (due !== Infinity) {
      const at = Math.max(due, timestamp + 1);
      if (!timers.includes(at)) {
        // At most a few per key (the next event, the next wake-up): a sorted insert into a short list.
        let i = timers.length;
        while (i > 0 && timers[i - 1]! > at) i--;
        timers.splice(i, 0, at);
        context.timers.registerEventTimeTimer(at);
      }
    }
    this.#keys.update(record);
  }

  #process(record: KeyRecord, key: string, event: PendingEvent, context: TimerContext<RuleJobOutput>): void {
    let alerts: readonly Alert[];
    try {
      alerts = record.book.evaluator.process(record.state, { key, ruleIds: event.ruleIds }, event.payload, event.ts);
    } catch (error) {
      // One event that breaks a rule must not stop the key, let alone the job: it goes to the dead letters.
      const deadLetter: DeadLetter = {
        kind: 'dead-letter',
        reason: 'PROCESSING_ERROR',
        message: `key '${key}': ${(error as Error).message}`,
        origin: event.origin,
        value: deadLetterValue(JSON.stringify(event.payload)),
      };
      context.emit({ type: 'dead-letter', deadLetter });
      return;
    }
    this.#emitAlerts(alerts, event.ts, context);
  }

  #emitAlerts(alerts: readonly Alert[], at: number, context: TimerContext<RuleJobOutput>): void {
    for (const alert of alerts) {
      context.emit(
        {
          type: 'alert',
          alert: { id: alert.alertId, key: alert.key, body: alert as unknown as Record<string, unknown> },
        },
        at,
      );
    }
  }
}

/** Inserts in (time, id) order: a key's events are evaluated in an order that does not depend on their arrival. */
function insertPending(pending: PendingEvent[], event: PendingEvent): void {
  let i = pending.length;
  while (i > 0 && comparePending(pending[i - 1]!, event) > 0) i--;
  pending.splice(i, 0, event);
}

function comparePending(a: PendingEvent, b: PendingEvent): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
