import type { Match, NFA, TimedOutMatch } from '../nfa/nfa';
import type { NfaState } from '../nfa/nfa-state';

/** One input of a harness run. */
export interface TimedEvent<E> {
  event: E;
  timestamp: number;
}

/** A match with the position of the call that emitted it (`events.length` for the final `advanceTime`). */
export interface EmittedMatch<E> {
  at: number;
  match: Match<E>;
}

/** Everything a harness run produced. */
export interface HarnessRun<E> {
  matches: EmittedMatch<E>[];
  timedOut: (TimedOutMatch<E> & { at: number })[];
  state: NfaState<E>;
}

/** Options of `runNfa`. */
export interface RunOptions {
  /** Snapshot the state before this event, serialize it through JSON and go on with the restored copy. */
  restoreAt?: number;
  /** Time passed to the final `advanceTime` (default: Infinity, which closes every window). */
  endTime?: number;
}

/**
 * Drives one key through an NFA, like Flink's `NFATestHarness`: events in order, then a final `advanceTime` that
 * flushes what waits on a window. Used by the specs and the property tests.
 */
export function runNfa<E>(nfa: NFA<E>, events: readonly TimedEvent<E>[], options: RunOptions = {}): HarnessRun<E> {
  let state = nfa.createState();
  const matches: EmittedMatch<E>[] = [];
  const timedOut: (TimedOutMatch<E> & { at: number })[] = [];
  events.forEach(({ event, timestamp }, at) => {
    if (options.restoreAt === at) state = nfa.restore(JSON.parse(JSON.stringify(nfa.snapshot(state))));
    const r = nfa.process(state, event, timestamp);
    for (const match of r.matches) matches.push({ at, match });
    for (const t of r.timedOut) timedOut.push({ ...t, at });
  });
  const end = nfa.advanceTime(state, options.endTime ?? Infinity);
  for (const match of end.matches) matches.push({ at: events.length, match });
  for (const t of end.timedOut) timedOut.push({ ...t, at: events.length });
  return { matches, timedOut, state };
}

/** Events named by strings with timestamps 0, 1, 2, ... */
export function namedEvents(...names: string[]): TimedEvent<{ name: string }>[] {
  return names.map((name, timestamp) => ({ event: { name }, timestamp }));
}

/** A match as a readable string: `a b1 b2 c` (events in order of their position). */
export function showMatch(match: Match<{ name: string }>, order: readonly string[]): string {
  const all = Object.values(match).flat();
  all.sort((x, y) => order.indexOf(x.name) - order.indexOf(y.name));
  return all.map((e) => e.name).join(' ');
}
