import type { MessagePort } from 'node:worker_threads';
import { decodeFrame, encodeFrame, type DataFrame } from './data-frame';

/** Turns a frame into bytes to transfer, and back. */
export interface FrameCodec {
  encode(frame: DataFrame): ArrayBuffer;
  decode(buf: ArrayBuffer): DataFrame;
}

/** JSON text in an ArrayBuffer: works for any JSON-safe record. */
export const JSON_FRAME_CODEC: FrameCodec = { encode: encodeFrame, decode: decodeFrame };

/** Messages on a connection: data frames one way, credit grants the other way. */
export type ConnectionMessage = { t: 'data'; ch: number; buf: ArrayBuffer } | { t: 'credit'; ch: number; n: number };

/** A grant of `n` more frames on logical channel `ch` (Flink's `AddCredit` message). */
export interface CreditGrant {
  ch: number;
  n: number;
}

/** The port-like thing a connection runs over: a `MessagePort` or, in tests, anything with the same two methods. */
export interface ConnectionPort {
  postMessage(message: ConnectionMessage, transfer?: ArrayBuffer[]): void;
  on(event: 'message', listener: (message: ConnectionMessage) => void): unknown;
}

/**
 * Sending end of one logical channel (Flink's credit-based `CreditBasedSequenceNumberingViewReader`, sender side): a
 * frame leaves only against a credit the receiver granted; without credit it waits in a small backlog, and a full
 * backlog tells the producer to stop (back-pressure). Because a frame never travels without a free buffer waiting at
 * the receiver, a slow receiver can never clog the connection that other logical channels share.
 */
export class OutputChannel {
  #credits = 0;
  readonly #backlog: ArrayBuffer[] = [];
  #sent = 0;
  #onCredit: (() => void) | undefined;

  constructor(
    private readonly port: ConnectionPort,
    readonly channelId: number,
    /** Frames that may wait for credit before the producer is told to stop. */
    private readonly maxBacklog = 2,
    private readonly codec: FrameCodec = JSON_FRAME_CODEC,
  ) {}

  /** Queues or sends a frame. */
  send(frame: DataFrame): void {
    const buf = this.codec.encode(frame);
    if (this.#credits > 0 && this.#backlog.length === 0) this.#post(buf);
    else this.#backlog.push(buf);
  }

  #post(buf: ArrayBuffer): void {
    this.#credits--;
    this.#sent++;
    this.port.postMessage({ t: 'data', ch: this.channelId, buf }, [buf]);
  }

  /** Called by the connection when the receiver grants credit. */
  addCredit(n: number): void {
    this.#credits += n;
    while (this.#credits > 0 && this.#backlog.length > 0) this.#post(this.#backlog.shift()!);
    const cb = this.#onCredit;
    this.#onCredit = undefined;
    cb?.();
  }

  /** True when the producer should stop: the backlog is full. */
  get backlogged(): boolean {
    return this.#backlog.length >= this.maxBacklog;
  }

  get credits(): number {
    return this.#credits;
  }

  get framesSent(): number {
    return this.#sent;
  }

  /** Resolves on the next credit grant (or at once if not backlogged). */
  whenWritable(): Promise<void> {
    if (!this.backlogged) return Promise.resolve();
    return new Promise((resolve) => {
      const prev = this.#onCredit;
      this.#onCredit = () => {
        prev?.();
        resolve();
      };
    });
  }
}

/**
 * Receiving end of one logical channel: it grants `credits` frames up front, and one more each time a frame has been
 * processed (released), so that at most `credits` frames of this channel are ever buffered at the receiver.
 */
export class InputChannel {
  #received = 0;

  constructor(
    private readonly port: ConnectionPort,
    readonly channelId: number,
    credits: number,
    private readonly deliver: (frame: DataFrame, release: () => void) => void,
    private readonly codec: FrameCodec = JSON_FRAME_CODEC,
  ) {
    port.postMessage({ t: 'credit', ch: channelId, n: credits });
  }

  /** Called by the connection with a data message. */
  receive(buf: ArrayBuffer): void {
    this.#received++;
    let released = false;
    this.deliver(this.codec.decode(buf), () => {
      if (released) return;
      released = true;
      this.port.postMessage({ t: 'credit', ch: this.channelId, n: 1 });
    });
  }

  get framesReceived(): number {
    return this.#received;
  }
}

/**
 * One physical connection (a `MessagePort`) multiplexing logical channels in both directions: data messages go to the
 * input channel with their id, credit grants to the output channel with their id (Flink's `PartitionRequestClient` /
 * `NettyMessage` demultiplexing, over a MessagePort instead of TCP).
 */
export class Connection {
  readonly #outputs = new Map<number, OutputChannel>();
  readonly #inputs = new Map<number, InputChannel>();

  constructor(private readonly port: ConnectionPort | MessagePort) {
    (port as ConnectionPort).on('message', (m: ConnectionMessage) => {
      if (m.t === 'data') this.#inputs.get(m.ch)?.receive(m.buf);
      else this.#outputs.get(m.ch)?.addCredit(m.n);
    });
  }

  output(channelId: number, maxBacklog?: number, codec?: FrameCodec): OutputChannel {
    const ch = new OutputChannel(this.port as ConnectionPort, channelId, maxBacklog, codec);
    this.#outputs.set(channelId, ch);
    return ch;
  }

  input(
    channelId: number,
    credits: number,
    deliver: (frame: DataFrame, release: () => void) => void,
    codec?: FrameCodec,
  ): InputChannel {
    const ch = new InputChannel(this.port as ConnectionPort, channelId, credits, deliver, codec);
    this.#inputs.set(channelId, ch);
    return ch;
  }
}
