/**
 * The shared buffer as plain data: every event is stored once, and partial matches are paths through reference-counted
 * nodes, each node naming one event, the step that took it and the previous node of the path.
 *
 * This ports the idea of Flink's `nfa/sharedbuffer/SharedBuffer.java` (itself from the SASE paper, Agrawal et al.,
 * "Efficient pattern matching over event streams", SIGMOD 2008): branches share their common prefix, so memory grows
 * with the events in the window and the branching, not with partial matches times their length. Flink keys a node by
 * (event, state) and tells the paths through it apart with Dewey-numbered edges; here a node is keyed by
 * (event, step, predecessor), which makes a path explicit from its last node and needs no version to extract it.
 * Both store one edge per take that is still reachable.
 *
 * The arrays are parallel columns with free lists so that the hot path allocates no object per event, and so that
 * the whole buffer stays JSON-safe (it lives in keyed state).
 */
export interface SharedBufferData<E> {
  /** Event payloads by slot (`null` for a free slot). */
  ev: (E | null)[];
  /** Event timestamps by slot. */
  et: number[];
  /** Event sequence numbers by slot (position of the event in the key's stream). */
  eq: number[];
  /** Event reference counts (number of nodes naming the event). */
  er: number[];
  /** Free event slots. */
  ef: number[];
  /** Node: event slot. */
  ne: number[];
  /** Node: step index. */
  ns: number[];
  /** Node: previous node, -1 at the start of a path. */
  np: number[];
  /** Node: reference count (partial matches, held matches and successor nodes). */
  nr: number[];
  /** Free node slots. */
  nf: number[];
  /** Live events. */
  events: number;
  /** Live nodes. */
  nodes: number;
}

/** A new, empty buffer. */
export function createSharedBuffer<E>(): SharedBufferData<E> {
  return { ev: [], et: [], eq: [], er: [], ef: [], ne: [], ns: [], np: [], nr: [], nf: [], events: 0, nodes: 0 };
}

/** Stores an event and returns its slot; the slot is freed when the last node naming it is released. */
export function addEvent<E>(buf: SharedBufferData<E>, event: E, timestamp: number, seq: number): number {
  buf.events++;
  const slot = buf.ef.pop();
  if (slot === undefined) {
    buf.ev.push(event);
    buf.et.push(timestamp);
    buf.eq.push(seq);
    buf.er.push(0);
    return buf.ev.length - 1;
  }
  buf.ev[slot] = event;
  buf.et[slot] = timestamp;
  buf.eq[slot] = seq;
  buf.er[slot] = 0;
  return slot;
}

/** Adds a node with no holder yet (reference count 0): the caller retains it once per holder. */
export function addNode<E>(buf: SharedBufferData<E>, eventSlot: number, step: number, parent: number): number {
  buf.nodes++;
  buf.er[eventSlot]++;
  if (parent >= 0) buf.nr[parent]++;
  const id = buf.nf.pop();
  if (id === undefined) {
    buf.ne.push(eventSlot);
    buf.ns.push(step);
    buf.np.push(parent);
    buf.nr.push(0);
    return buf.ne.length - 1;
  }
  buf.ne[id] = eventSlot;
  buf.ns[id] = step;
  buf.np[id] = parent;
  buf.nr[id] = 0;
  return id;
}

/** Adds a holder to a node. */
export function retainNode<E>(buf: SharedBufferData<E>, node: number): void {
  buf.nr[node]++;
}

/**
 * Drops a holder of a node; a node left without holders is freed, and with it its event (when no other node names
 * it) and, transitively, its predecessors (Flink's `SharedBufferAccessor#releaseNode`).
 */
export function releaseNode<E>(buf: SharedBufferData<E>, node: number): void {
  let n = node;
  while (n >= 0) {
    if (--buf.nr[n] > 0) return;
    const slot = buf.ne[n];
    if (--buf.er[slot] === 0) {
      buf.ev[slot] = null;
      buf.ef.push(slot);
      buf.events--;
    }
    const parent = buf.np[n];
    buf.ne[n] = -1;
    buf.np[n] = -1;
    buf.nf.push(n);
    buf.nodes--;
    n = parent;
  }
}

/** Sequence numbers of the events on the path ending at `node`, oldest first. */
export function pathSeqs<E>(buf: SharedBufferData<E>, node: number): number[] {
  const out: number[] = [];
  for (let n = node; n >= 0; n = buf.np[n]) out.push(buf.eq[buf.ne[n]]);
  return out.reverse();
}

/** Step indices of the events on the path ending at `node`, oldest first. */
export function pathSteps<E>(buf: SharedBufferData<E>, node: number): number[] {
  const out: number[] = [];
  for (let n = node; n >= 0; n = buf.np[n]) out.push(buf.ns[n]);
  return out.reverse();
}
