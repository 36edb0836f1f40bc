import { CepheusError } from '@cepheus/common';
import type { RecordCodec } from '../channel/frame-codec';
import type { Sink } from '../connectors/sink';
import type { Source } from '../connectors/source';
import type { ChainContext, ProcessorFactory } from '../operator/processor';
import type { WatermarkStrategy } from '../time/watermark-tracker';
import type { JobNode, LatenessOptions, StreamEnvironment } from './stream-environment';

/** Emits a record with its timestamp to the next step. */
export type Emit = (value: unknown, timestamp: number) => void;

/** A sink node of the compiled job. */
export interface SinkNode {
  readonly nodeId: number;
  readonly name: string;
  readonly sink: Sink<unknown>;
}

/**
 * The job graph checked and reduced to the shape this runtime executes (documented in docs/runtime.md):
 * one keyed event source with a linear chain up to `keyBy`, an optional broadcast source with a linear chain, one
 * keyed (broadcast) process step, and below it a tree of stateless steps, side outputs and sinks. Sources, pre-keyBy
 * steps, the keyed step and the sinks are chained in each parallel instance (Flink's operator chaining).
 */
export class CompiledJob {
  readonly jobName: string;
  readonly maxParallelism: number;
  readonly eventSource: {
    readonly name: string;
    readonly source: Source<unknown>;
    readonly watermarks: WatermarkStrategy;
  };
  readonly keySelector: (value: unknown) => string | number;
  /** Binary form of keyed records between threads, if the job gave one. */
  readonly keyCodec: RecordCodec<unknown> | undefined;
  readonly broadcastSource: { readonly name: string; readonly source: Source<unknown> } | undefined;
  readonly process: {
    readonly name: string;
    readonly factory: ProcessorFactory<unknown, unknown, unknown>;
    readonly lateness: LatenessOptions | undefined;
  };
  readonly sinks: readonly SinkNode[];
  readonly #nodes: readonly JobNode[];
  readonly #preChain: readonly JobNode[];
  readonly #broadcastChain: readonly JobNode[];
  readonly #processId: number;

  constructor(env: StreamEnvironment) {
    this.jobName = env.jobName;
    this.maxParallelism = env.maxParallelism;
    const nodes = (this.#nodes = env.nodes);
    const fail = (message: string): never => {
      throw new CepheusError('CONFIG_INVALID', `job '${env.jobName}': ${message}`);
    };
    const processes = nodes.filter((n) => n.kind === 'process');
    if (processes.length !== 1) fail(`needs exactly one keyed process step, has ${processes.length}`);
    const process = processes[0]!;
    this.#processId = process.id;
    if (process.impl.kind !== 'process') throw new Error('unreachable');
    this.process = { name: process.name, factory: process.impl.factory, lateness: process.impl.lateness };

    const keyBy = nodes[process.parents[0]!]!;
    if (keyBy.impl.kind !== 'keyBy') fail('the process step must follow keyBy');
    const keyImpl = keyBy.impl as { fn: (v: unknown) => string | number; codec: RecordCodec<unknown> | undefined };
    this.keySelector = keyImpl.fn;
    this.keyCodec = keyImpl.codec;
    const upstream = (from: JobNode, stopKind: string): JobNode[] => {
      const chain: JobNode[] = [];
      let node = nodes[from.parents[0]!]!;
      while (node.kind !== 'source') {
        if (node.parents.length !== 1 || !['map', 'filter', 'flatMap'].includes(node.kind)) {
          fail(`only map, filter and flatMap may stand between a source and ${stopKind}; found ${node.kind}`);
        }
        chain.unshift(node);
        node = nodes[node.parents[0]!]!;
      }
      chain.unshift(node);
      return chain;
    };
    const pre = upstream(keyBy, 'keyBy');
    const src = pre.shift()!;
    if (src.impl.kind !== 'source') throw new Error('unreachable');
    this.eventSource = { name: src.name, source: src.impl.source, watermarks: src.impl.watermarks };
    this.#preChain = pre;

    if (process.parents.length > 1) {
      const bnode = nodes[process.parents[1]!]!;
      if (bnode.impl.kind !== 'broadcast') fail('the second input of the process step must be a broadcast stream');
      const chain = upstream(bnode, 'broadcast');
      const bsrc = chain.shift()!;
      if (bsrc.impl.kind !== 'source') throw new Error('unreachable');
      this.broadcastSource = { name: bsrc.name, source: bsrc.impl.source };
      this.#broadcastChain = chain;
      if (bsrc.id === src.id) fail('the broadcast stream needs its own source');
    } else {
      this.broadcastSource = undefined;
      this.#broadcastChain = [];
    }
    const bsrcId = this.broadcastSource ? nodes.find((n) => n.name === this.broadcastSource!.name)?.id : undefined;
    for (const n of nodes) {
      if (n.kind === 'source' && n.id !== src.id && n.id !== bsrcId)
        fail(`source '${n.name}' feeds nothing this runtime runs`);
    }
    this.sinks = nodes
      .filter((n) => n.kind === 'sink' && this.#isDownstreamOfProcess(n))
      .map((n) => ({ nodeId: n.id, name: n.name, sink: (n.impl as { sink: Sink<unknown> }).sink }));
    const stray = nodes.filter((n) => n.kind === 'sink' && !this.#isDownstreamOfProcess(n));
    if (stray.length > 0) fail(`sinks must follow the process step: ${stray.map((n) => n.name).join(', ')}`);
  }

  #isDownstreamOfProcess(node: JobNode): boolean {
    let n: JobNode | undefined = node;
    while (n && n.parents.length === 1) {
      if (n.parents[0] === this.#processId) return true;
      n = this.#nodes[n.parents[0]!];
    }
    return false;
  }

  /** The steps between the event source and keyBy, composed in front of `next`. */
  preChain(next: Emit, context: ChainContext): Emit {
    return composeLinear(this.#preChain, next, context);
  }

  /** The steps between the broadcast source and the broadcast, composed in front of `next`. */
  broadcastChain(next: Emit): Emit {
    return composeLinear(this.#broadcastChain, next, BROADCAST_SIDE);
  }

  /**
   * The emitters below the process step: its main output, and one per side output tag. `writers` gives the sink
   * write function of each sink node.
   */
  downstream(
    writers: ReadonlyMap<number, Emit>,
    context: ChainContext,
  ): { main: Emit; sideOutputs: ReadonlyMap<string, Emit> } {
    const children = (id: number): JobNode[] =>
      this.#nodes.filter((n) => n.parents.length === 1 && n.parents[0] === id);
    const build = (id: number): Emit =>
      fanOut(
        children(id)
          .filter((c) => c.kind !== 'sideOutput')
          .map((c) => {
            if (c.kind !== 'sink') return wrap(c, build(c.id), context);
            const w = writers.get(c.id);
            if (!w) throw new Error(`no writer for sink node ${c.name}`);
            return w;
          }),
      );
    const sideOutputs = new Map<string, Emit>();
    for (const child of children(this.#processId)) {
      if (child.impl.kind !== 'sideOutput') continue;
      const prev = sideOutputs.get(child.impl.tag);
      const next = build(child.id);
      sideOutputs.set(child.impl.tag, prev ? fanOut([prev, next]) : next);
    }
    return { main: build(this.#processId), sideOutputs };
  }
}

function fanOut(outs: Emit[]): Emit {
  if (outs.length === 0) return () => {};
  if (outs.length === 1) return outs[0]!;
  return (v, ts) => {
    for (let i = 0; i < outs.length; i++) outs[i]!(v, ts);
  };
}

/** The context of the broadcast stream's own steps: they run before any instance, so there is no state to read. */
const BROADCAST_SIDE: ChainContext = {
  subtaskIndex: 0,
  getBroadcastState: () => {
    throw new CepheusError('CONFIG_INVALID', 'steps of the broadcast stream cannot read broadcast state');
  },
};

function wrap(node: JobNode, next: Emit, context: ChainContext): Emit {
  const impl = node.impl;
  switch (impl.kind) {
    case 'map': {
      const fn = impl.fn;
      return (v, ts) => next(fn(v, context), ts);
    }
    case 'filter': {
      const fn = impl.fn;
      return (v, ts) => {
        if (fn(v, context)) next(v, ts);
      };
    }
    case 'flatMap': {
      const fn = impl.fn;
      return (v, ts) => {
        for (const out of fn(v, context)) next(out, ts);
      };
    }
    default:
      throw new CepheusError('CONFIG_INVALID', `node '${node.name}' (${impl.kind}) cannot be chained here`);
  }
}

function composeLinear(chain: readonly JobNode[], next: Emit, context: ChainContext): Emit {
  let emit = next;
  for (let i = chain.length - 1; i >= 0; i--) emit = wrap(chain[i]!, emit, context);
  return emit;
}
