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
 * Events and nodes live in flat number columns with free lists threaded through them, so that the hot path allocates
 * no object per event and the whole buffer stays JSON-safe (it is keyed state). An empty buffer shares one frozen
 * empty array for all three columns; the first event and node get columns of their exact size (a first `push` would
 * reserve room for about sixteen numbers), because most keys of a busy stream hold one or two events at a time.
 */
export interface SharedBufferData<E> {
  /** Event payloads by slot (`null` for a free slot). */
  ev: (E | null)[];
  /** Per event slot, three numbers: timestamp, sequence number, reference count (nodes naming the event). */
  em: number[];
  /** Per node, four numbers: event slot, step, previous node (-1 for none), reference count. */
  nd: number[];
  /** First free event slot (-1 for none); a free slot's sequence number holds the next one. */
  ef: number;
  /** First free node (-1 for none); a free node's previous-node field holds the next one. */
  nf: number;
  /** Live events. */
  events: number;
  /** Live nodes. */
  nodes: number;
}

/** Numbers per event slot in `em`. */
export const EVENT_WIDTH = 3;
/** Numbers per node in `nd`. */
export const NODE_WIDTH = 4;

/**
 * The columns of an empty buffer (and the empty lists of an empty NFA state). Frozen: a write that forgot to give the
 * state its own array throws instead of corrupting every state.
 */
export const NO_NUMBERS: number[] = Object.freeze([]) as unknown as number[];

/** Stores an event and returns its slot; the slot is freed when the last node naming it is released. */
export function addEvent<E>(buf: SharedBufferData<E>, event: E, timestamp: number, seq: number): number {
  buf.events++;
  const slot = buf.ef;
  if (slot < 0) {
    const at = buf.ev.length;
    if ((buf.ev as unknown) === NO_NUMBERS) {
      buf.ev = [event];
      buf.em = [timestamp, seq, 0];
    } else {
      buf.ev.push(event);
      buf.em.push(timestamp, seq, 0);
    }
    return at;
  }
  const em = buf.em;
  buf.ef = em[slot * 3 + 1];
  buf.ev[slot] = event;
  em[slot * 3] = timestamp;
  em[slot * 3 + 1] = seq;
  em[slot * 3 + 2] = 0;
  return slot;
}

/** Adds a node with no holder yet (reference count 0): the caller retains it once per holder. */
export function addNode<E>(buf: SharedBufferData<E>, eventSlot: number, step: number, parent: number): number {
  buf.nodes++;
  buf.em[eventSlot * 3 + 2]++;
  const nd = buf.nd;
  if (parent >= 0) nd[parent * 4 + 3]++;
  const id = buf.nf;
  if (id < 0) {
    if (nd === NO_NUMBERS) {
      buf.nd = [eventSlot, step, parent, 0];
      return 0;
    }
    nd.push(eventSlot, step, parent, 0);
    return nd.length / 4 - 1;
  }
  buf.nf = nd[id * 4 + 2];
  nd[id * 4] = eventSlot;
  nd[id * 4 + 1] = step;
  nd[id * 4 + 2] = parent;
  nd[id * 4 + 3] = 0;
  return id;
}

/** Adds a holder to a node. */
export function retainNode<E>(buf: SharedBufferData<E>, node: number): void {
  buf.nd[node * 4 + 3]++;
}

/** Holders of a node. */
export function nodeRefs<E>(buf: SharedBufferData<E>, node: number): number {
  return buf.nd[node * 4 + 3];
}

/** The event slot a node names. */
export function nodeEvent<E>(buf: SharedBufferData<E>, node: number): number {
  return buf.nd[node * 4];
}

/** The step that took a node's event. */
export function nodeStep<E>(buf: SharedBufferData<E>, node: number): number {
  return buf.nd[node * 4 + 1];
}

/** The previous node on a path, -1 at its start. */
export function nodeParent<E>(buf: SharedBufferData<E>, node: number): number {
  return buf.nd[node * 4 + 2];
}

/**
 * Drops a holder of a node; a node left without holders is freed, and with it its event (when no other node names
 * it) and, transitively, its predecessors (Flink's `SharedBufferAccessor#releaseNode`).
 */
export function releaseNode<E>(buf: SharedBufferData<E>, node: number): void {
  const nd = buf.nd;
  const em = buf.em;
  let n = node;
  while (n >= 0) {
    if (--nd[n * 4 + 3] > 0) return;
    const slot = nd[n * 4];
    if (--em[slot * 3 + 2] === 0) {
      buf.ev[slot] = null;
      em[slot * 3 + 1] = buf.ef;
      buf.ef = slot;
      buf.events--;
    }
    const parent = nd[n * 4 + 2];
    nd[n * 4 + 2] = buf.nf;
    buf.nf = n;
    buf.nodes--;
    n = parent;
  }
}

/** Sequence numbers of the events on the path ending at `node`, oldest first. */
export function pathSeqs<E>(buf: SharedBufferData<E>, node: number): number[] {
  const out: number[] = [];
  for (let n = node; n >= 0; n = buf.nd[n * 4 + 2]) out.push(buf.em[buf.nd[n * 4] * 3 + 1]);
  return out.reverse();
}

/** Step indices of the events on the path ending at `node`, oldest first. */
export function pathSteps<E>(buf: SharedBufferData<E>, node: number): number[] {
  const out: number[] = [];
  for (let n = node; n >= 0; n = buf.nd[n * 4 + 2]) out.push(buf.nd[n * 4 + 1]);
  return out.reverse();
}
