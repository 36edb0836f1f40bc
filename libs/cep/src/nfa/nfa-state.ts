import { CepheusError } from '@cepheus/common';
import * as sharedBuffer from '../shared-buffer/shared-buffer';
import type { SharedBufferData } from '../shared-buffer/shared-buffer';

// Bound once: tsx reads an imported binding through a getter at every use (see nfa.ts), and states are created often.
const { EVENT_WIDTH, NO_NUMBERS, NODE_WIDTH } = sharedBuffer;

/**
 * Numbers per partial match in `NfaState.pm` (Flink's `ComputationState`, flattened). In order:
 * - `s` step the match stands in (the compiled pattern's `final` for a match waiting out a NOT at the end);
 * - `c` events taken so far by step `s`;
 * - `k` contiguity (0 strict, 1 relaxed, 2 any) for the first event of step `s` while `c` is 0;
 * - `l` step that took the last event;
 * - `f` 1 when the last event seen was taken by this match: only then may it leave its step (Flink's PROCEED);
 * - `t` timestamp of the first event;
 * - `i` sequence number of the first event;
 * - `n` buffer node of the last event taken.
 *
 * Flat numbers rather than one object per partial match: a partial match lives as long as its window, long enough
 * to be promoted to the old generation, so objects would make every window's worth of partial matches old garbage
 * (and box a timestamp that is not a small integer).
 */
export const PM_WIDTH = 8;

/**
 * Numbers per completed match held back until no partial match that began earlier is still running, in
 * `NfaState.held`: `n` buffer node of the last event, `i` sequence number of the first event, `q` sequence number of
 * the event that completed it.
 */
export const HELD_WIDTH = 3;

/**
 * Per-key NFA state (Flink's `NFAState` and its `SharedBuffer` in one object, so that a busy key costs one object
 * plus its number columns): plain JSON-safe data, mutated in place by `NFA.process` and `NFA.advanceTime`. Treat it
 * as opaque; checkpoint it with `NFA.snapshot`.
 */
export interface NfaState<E> extends SharedBufferData<E> {
  /** Partial matches, `PM_WIDTH` numbers each. */
  pm: number[];
  /** Held matches, `HELD_WIDTH` numbers each. */
  held: number[];
  /** Sequence number the next event gets. */
  seq: number;
  /** Partial matches dropped because of `maxPartialMatches`. */
  dropped: number;
  /**
   * Derived from `pm` and `held` after every change, so that `NFA.process` can answer from this object alone without
   * reading the lists (with many busy keys each list is a cache miss): `WAIT_IDLE`, `WAIT_GENERAL`, the step at
   * which every partial match waits for its first event after ignoring some (relaxed or any contiguity, no NOT
   * after the last taken step, nothing held), so that an event failing that step's condition leaves them all as
   * they are; or `WAIT_PROCEED - s` for a single partial match right after taking the last event step `s` can take,
   * whose only way on is one relaxed or any edge, so that an event failing the next step's condition only turns it
   * into a match waiting at that step. Not part of the snapshot.
   */
  wait: number;
  /** Earliest first-event timestamp of the partial matches while `wait` is neither idle nor general. */
  oldest: number;
}

/** `NfaState.wait` of a state with no partial and no held match. */
export const WAIT_IDLE = -2;
/** `NfaState.wait` of a state that only the general path may change. */
export const WAIT_GENERAL = -1;
/** `NfaState.wait` is `WAIT_PROCEED - s` (below it) for a single partial match ready to leave step `s`. */
export const WAIT_PROCEED = -3;

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
  /** Partial matches as octuples in `NfaState.pm` order: s, c, k, l, f, t, i, n. */
  partial: number[];
  /** Held matches as triples: n, i, q. */
  held: number[];
}

/**
 * A fresh state for one key: one object, its lists the shared frozen empty array until it first holds something (most
 * states of a store come and go with one partial match). Every state is built here, so all share one hidden class.
 */
export function createNfaState<E>(): NfaState<E> {
  const none = NO_NUMBERS;
  const ev = NO_NUMBERS as unknown as (E | null)[];
  return {
    ev,
    em: none,
    nd: none,
    ef: -1,
    nf: -1,
    events: 0,
    nodes: 0,
    pm: none,
    held: none,
    seq: 0,
    dropped: 0,
    wait: WAIT_IDLE,
    oldest: 0,
  };
}

/** Copies a state into its compact checkpoint form; the state is not changed. */
export function snapshotNfaState<E>(state: NfaState<E>): NfaSnapshot<E> {
  const { ev, em, nd } = state;
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
  const partial = state.pm.slice();
  for (let j = PM_WIDTH - 1; j < partial.length; j += PM_WIDTH) partial[j] = nodeMap.get(partial[j]) as number;
  const held = state.held.slice();
  for (let j = 0; j < held.length; j += HELD_WIDTH) held[j] = nodeMap.get(held[j]) as number;
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
  const state = createNfaState<E>();
  state.ev = data.events.slice();
  state.events = state.ev.length;
  const em: number[] = [];
  for (let slot = 0; slot < state.ev.length; slot++) em.push(data.eventTs[slot], data.eventSeq[slot], 0);
  const count = data.nodes.length / 3;
  state.nodes = count;
  const nd: number[] = [];
  for (let n = 0; n < count; n++) nd.push(data.nodes[3 * n], data.nodes[3 * n + 1], data.nodes[3 * n + 2], 0);
  state.em = em;
  state.nd = nd;
  // Reference counts follow from the references, so the snapshot leaves them out. A parent may come after its child
  // (slots are reused), hence the second pass.
  for (let n = 0; n < count; n++) {
    em[data.nodes[3 * n] * EVENT_WIDTH + 2]++;
    const parent = data.nodes[3 * n + 2];
    if (parent >= 0) nd[parent * NODE_WIDTH + 3]++;
  }
  state.pm = data.partial.slice();
  for (let j = PM_WIDTH - 1; j < state.pm.length; j += PM_WIDTH) nd[state.pm[j] * NODE_WIDTH + 3]++;
  state.held = data.held.slice();
  for (let j = 0; j < state.held.length; j += HELD_WIDTH) nd[state.held[j] * NODE_WIDTH + 3]++;
  state.seq = data.seq;
  state.dropped = data.dropped;
  // NFA.restore narrows this; the general path is right for any state.
  if (state.pm.length > 0 || state.held.length > 0) state.wait = WAIT_GENERAL;
  return state;
}
