import { CepheusError } from '@cepheus/common';
import { createSharedBuffer, EVENT_WIDTH, NODE_WIDTH, type SharedBufferData } from '../shared-buffer/shared-buffer';

/**
 * One partial match (Flink's `ComputationState`): where it stands and which buffer node ends its path. Short field
 * names keep per-key state small; it is plain data.
 */
export interface PartialMatch {
  /** Step the match stands in (the compiled pattern's `final` for a match waiting out a NOT at the end). */
  s: number;
  /** Events taken so far by step `s`. */
  c: number;
  /** Contiguity (0 strict, 1 relaxed, 2 any) for the first event of step `s` while `c` is 0. */
  k: number;
  /** Step that took the last event. */
  l: number;
  /** 1 when the last event seen was taken by this match: only then may it leave its step (Flink's PROCEED). */
  f: number;
  /** Timestamp of the first event. */
  t: number;
  /** Sequence number of the first event. */
  i: number;
  /** Buffer node of the last event taken. */
  n: number;
}

/** A completed match held back until no partial match that began earlier is still running. */
export interface HeldMatch {
  /** Buffer node of the last event. */
  n: number;
  /** Sequence number of the first event. */
  i: number;
  /** Sequence number of the event that completed it. */
  q: number;
}

/**
 * Per-key NFA state (Flink's `NFAState` plus its `SharedBuffer`): plain JSON-safe data, mutated in place by
 * `NFA.process` and `NFA.advanceTime`. Treat it as opaque; checkpoint it with `NFA.snapshot`.
 */
export interface NfaState<E> {
  pm: PartialMatch[];
  held: HeldMatch[];
  buf: SharedBufferData<E>;
  /** Sequence number the next event gets. */
  seq: number;
  /** Partial matches dropped because of `maxPartialMatches`. */
  dropped: number;
}

/** Current snapshot format. */
export const NFA_SNAPSHOT_VERSION = 1;

/**
 * Checkpoint form of an `NfaState`: versioned, compact (free slots dropped, numbers in flat columns, reference counts
 * left out because they follow from the references) and JSON-safe when the events are.
 */
export interface NfaSnapshot<E> {
  version: 1;
  seq: number;
  dropped: number;
  /** Live events, in slot order. */
  events: E[];
  eventTs: number[];
  eventSeq: number[];
  /** Nodes as triples: event index, step, previous node (-1 for none). */
  nodes: number[];
  /** Partial matches as octuples in `PartialMatch` field order: s, c, k, l, f, t, i, n. */
  partial: number[];
  /** Held matches as triples: n, i, q. */
  held: number[];
}

/** A fresh state for one key. */
export function createNfaState<E>(): NfaState<E> {
  return { pm: [], held: [], buf: createSharedBuffer<E>(), seq: 0, dropped: 0 };
}

/** Copies a state into its compact checkpoint form; the state is not changed. */
export function snapshotNfaState<E>(state: NfaState<E>): NfaSnapshot<E> {
  const { ev, em, nd } = state.buf;
  const eventMap = new Map<number, number>();
  const events: E[] = [];
  const eventTs: number[] = [];
  const eventSeq: number[] = [];
  for (let slot = 0; slot < ev.length; slot++) {
    if (em[slot * EVENT_WIDTH + 2] > 0) {
      eventMap.set(slot, events.length);
      events.push(ev[slot] as E);
      eventTs.push(em[slot * EVENT_WIDTH]);
      eventSeq.push(em[slot * EVENT_WIDTH + 1]);
    }
  }
  const nodeMap = new Map<number, number>();
  for (let n = 0; n < nd.length / NODE_WIDTH; n++) if (nd[n * NODE_WIDTH + 3] > 0) nodeMap.set(n, nodeMap.size);
  const nodes: number[] = [];
  for (const [n] of nodeMap) {
    const parent = nd[n * NODE_WIDTH + 2];
    nodes.push(
      eventMap.get(nd[n * NODE_WIDTH]) as number,
      nd[n * NODE_WIDTH + 1],
      parent < 0 ? -1 : (nodeMap.get(parent) as number),
    );
  }
  const partial: number[] = [];
  for (const p of state.pm) partial.push(p.s, p.c, p.k, p.l, p.f, p.t, p.i, nodeMap.get(p.n) as number);
  const held: number[] = [];
  for (const h of state.held) held.push(nodeMap.get(h.n) as number, h.i, h.q);
  return { version: 1, seq: state.seq, dropped: state.dropped, events, eventTs, eventSeq, nodes, partial, held };
}

/** Rebuilds a state from a snapshot; throws `CEP_STATE_VERSION` for a format it does not know. */
export function restoreNfaState<E>(data: NfaSnapshot<E>): NfaState<E> {
  const version = (data as { version?: unknown } | null)?.version;
  if (version !== NFA_SNAPSHOT_VERSION) {
    throw new CepheusError('CEP_STATE_VERSION', `Unknown NFA state version ${String(version)}; this build reads 1.`, {
      details: { version },
    });
  }
  const buf = createSharedBuffer<E>();
  buf.ev = data.events.slice();
  buf.events = buf.ev.length;
  for (let slot = 0; slot < buf.ev.length; slot++) buf.em.push(data.eventTs[slot], data.eventSeq[slot], 0);
  const count = data.nodes.length / 3;
  buf.nodes = count;
  for (let n = 0; n < count; n++) buf.nd.push(data.nodes[3 * n], data.nodes[3 * n + 1], data.nodes[3 * n + 2], 0);
  // Reference counts follow from the references, so the snapshot leaves them out. A parent may come after its child
  // (slots are reused), hence the second pass.
  for (let n = 0; n < count; n++) {
    buf.em[data.nodes[3 * n] * EVENT_WIDTH + 2]++;
    const parent = data.nodes[3 * n + 2];
    if (parent >= 0) buf.nd[parent * NODE_WIDTH + 3]++;
  }
  const pm: PartialMatch[] = [];
  const d = data.partial;
  for (let j = 0; j < d.length; j += 8) {
    const p: PartialMatch = {
      s: d[j],
      c: d[j + 1],
      k: d[j + 2],
      l: d[j + 3],
      f: d[j + 4],
      t: d[j + 5],
      i: d[j + 6],
      n: d[j + 7],
    };
    buf.nd[p.n * NODE_WIDTH + 3]++;
    pm.push(p);
  }
  const held: HeldMatch[] = [];
  for (let j = 0; j < data.held.length; j += 3) {
    const h: HeldMatch = { n: data.held[j], i: data.held[j + 1], q: data.held[j + 2] };
    buf.nd[h.n * NODE_WIDTH + 3]++;
    held.push(h);
  }
  return { pm, held, buf, seq: data.seq, dropped: data.dropped };
}
