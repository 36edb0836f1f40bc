import type { AfterMatchSkipStrategy } from '../after-match/after-match-skip-strategy';
import type { Match } from '../nfa/nfa';
import type { ConditionContext } from '../pattern/condition';
import type { Pattern, PatternElement } from '../pattern/pattern';
import type { TimedEvent } from './nfa-test-harness';

/** A match the reference finds: its events by step, where it completes, and its event positions. */
export interface ReferenceMatch<E> {
  match: Match<E>;
  /** Position of the event whose call emits it without a skip strategy (`events.length`: the final advanceTime). */
  at: number;
  /** Positions of its events, in order. */
  positions: number[];
}

interface Taken {
  pos: number;
  step: number;
}

/**
 * A deliberately simple matcher: it enumerates every assignment of events to steps and keeps those that satisfy
 * the written rules, one by one. It shares no code with the compiler or the NFA and is exponential; it exists to
 * hold the NFA to the semantics on small inputs (property tests). Groups are not supported.
 *
 * The rules, for consecutive matched events x (step i, its last) and y (step j):
 * - j = i (a loop): `consecutive` means y right after x; relaxed means no event in between satisfies i's condition;
 *   `allowCombinations` allows anything. No event in (x, y] satisfies `until`.
 * - j > i (steps between are optional and take nothing): j's contiguity rules the gap as above with j's condition;
 *   a NOT after i: `notNext` means the event right after x does not satisfy it, `notFollowedBy` that no event in
 *   between does; a greedy i that could still take the event right after x may not end; a greedy optional step
 *   passed over may not be passed when that event satisfies it.
 * - every event lies within `within` of the first; conditions see the events matched before them.
 * - a NOT at the end: `notNext` needs the next event (inside the window) not to satisfy it and completes there;
 *   `notFollowedBy` needs no satisfying event inside the window and completes when the window closes.
 * Skip strategies: matches are taken in order of first event, completion and positions; one is dropped when a kept
 * match's strategy prunes its first event.
 */
export function referenceMatches<E>(
  pattern: Pattern<E>,
  events: readonly TimedEvent<E>[],
  skip: AfterMatchSkipStrategy,
): ReferenceMatch<E>[] {
  const elements = pattern.toElements();
  if (elements.some((e) => e.kind === 'group')) throw new Error('the reference matcher does not support groups');
  const steps: PatternElement<E>[] = [];
  const notsAfter: PatternElement<E>[][] = [];
  for (const el of elements) {
    if (el.kind === 'step') {
      steps.push(el);
      notsAfter.push([]);
    } else notsAfter[notsAfter.length - 1].push(el);
  }
  const tail = notsAfter[steps.length - 1];
  const window = pattern.getWindow() ?? Infinity;
  const n = events.length;
  const ev = (p: number): E => events[p].event;
  const ts = (p: number): number => events[p].timestamp;

  const ctxOf = (taken: readonly Taken[]): ConditionContext<E> => ({
    getEventsForPattern: (name) => taken.filter((t) => steps[t.step].name === name).map((t) => ev(t.pos)),
  });
  const between = (from: number, to: number): number[] => {
    const out: number[] = [];
    for (let u = from + 1; u < to; u++) out.push(u);
    return out;
  };
  const min = (i: number): number => steps[i].quantifier.min;
  const max = (i: number): number => steps[i].quantifier.max;
  const optional = (i: number): boolean => steps[i].quantifier.optional;

  const found: ReferenceMatch<E>[] = [];

  const gapOk = (cont: string, cond: (e: E) => boolean, last: number, t: number): boolean => {
    if (cont === 'strict') return t === last + 1;
    if (cont === 'relaxed') return between(last, t).every((u) => !cond(ev(u)));
    return true;
  };

  const finish = (taken: Taken[]): void => {
    const start = taken[0].pos;
    const last = taken[taken.length - 1].pos;
    const ctx = ctxOf(taken);
    let at = last;
    for (const not of tail) {
      if (not.kind === 'notNext') {
        const u = last + 1;
        if (u >= n || ts(u) - ts(start) >= window || not.condition(ev(u), ctx)) return;
        at = u;
      } else {
        let u = last + 1;
        for (; u < n && ts(u) - ts(start) < window; u++) if (not.condition(ev(u), ctx)) return;
        at = u;
      }
    }
    const match: Match<E> = {};
    for (const t of taken) (match[steps[t.step].name as string] ??= []).push(ev(t.pos));
    found.push({ match, at, positions: taken.map((t) => t.pos) });
  };

  const dfs = (taken: Taken[], i: number, c: number): void => {
    const start = taken[0].pos;
    const last = taken[taken.length - 1].pos;
    const ctx = ctxOf(taken);
    const step = steps[i];
    const inWindow = (t: number): boolean => ts(t) - ts(start) < window;
    if (c < max(i)) {
      for (let t = last + 1; t < n && inWindow(t); t++) {
        const until = step.until;
        if (until !== undefined && [...between(last, t), t].some((u) => until(ev(u), ctx))) continue;
        if (!gapOk(step.quantifier.inner, (e) => step.condition(e, ctx), last, t)) continue;
        if (!step.condition(ev(t), ctx)) continue;
        dfs([...taken, { pos: t, step: i }], i, c + 1);
      }
    }
    if (c < min(i)) return;
    const next = last + 1;
    const nextEv = next < n ? ev(next) : undefined;
    if (step.quantifier.greedy && c < max(i) && nextEv !== undefined) {
      const untilHit = step.until !== undefined && step.until(nextEv, ctx);
      if (step.condition(nextEv, ctx) && !untilHit) return;
    }
    // A notNext after this step forbids entering any later step when the very next event satisfies it; a match that
    // ends here (later steps optional) is not concerned.
    const nextForbidden =
      i < steps.length - 1 &&
      nextEv !== undefined &&
      notsAfter[i].some((not) => not.kind === 'notNext' && not.condition(nextEv, ctx));
    let allOptional = true;
    for (let j = i + 1; j < steps.length; j++) {
      const target = steps[j];
      for (let t = last + 1; t < n && inWindow(t) && !nextForbidden; t++) {
        if (!gapOk(target.contiguity, (e) => target.condition(e, ctx), last, t)) continue;
        const blocked = notsAfter[i].some((not) =>
          not.kind === 'notNext' ? false : between(last, t).some((u) => not.condition(ev(u), ctx)),
        );
        if (blocked) continue;
        if (!target.condition(ev(t), ctx)) continue;
        dfs([...taken, { pos: t, step: j }], j, 1);
      }
      if (!optional(j)) {
        allOptional = false;
        break;
      }
      // Passing over a greedy optional step is refused when it could take the next event.
      if (target.quantifier.greedy && nextEv !== undefined && target.condition(nextEv, ctx)) {
        allOptional = false;
        break;
      }
    }
    if (allOptional) finish(taken);
  };

  for (let t0 = 0; t0 < n; t0++) {
    for (let i = 0; i < steps.length; i++) {
      if (steps[i].condition(ev(t0), ctxOf([]))) dfs([{ pos: t0, step: i }], i, 1);
      if (!optional(i)) break;
    }
  }

  const lex = (a: number[], b: number[]): number => {
    for (let k = 0; k < Math.min(a.length, b.length); k++) if (a[k] !== b[k]) return a[k] - b[k];
    return a.length - b.length;
  };
  if (!skip.prunes) return found.sort((a, b) => a.at - b.at || lex(a.positions, b.positions));
  found.sort((a, b) => a.positions[0] - b.positions[0] || a.at - b.at || lex(a.positions, b.positions));
  const kept: ReferenceMatch<E>[] = [];
  const bounds: number[] = [];
  for (const m of found) {
    if (bounds.some((b) => m.positions[0] < b)) continue;
    kept.push(m);
    const names = m.positions.map((p) => {
      for (const [name, list] of Object.entries(m.match)) if (list.includes(ev(p))) return name;
      return '';
    });
    bounds.push(skip.keepFrom(m.positions, names));
  }
  return kept;
}
