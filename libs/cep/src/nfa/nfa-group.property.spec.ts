import fc from 'fast-check';
import type { TimedEvent } from '../testing/nfa-test-harness';
import {
  build,
  eventsOf,
  ids,
  longEventsArb,
  patternSpec,
  skipOf,
  stepSpec,
  type,
  type Ev,
  type PatternSpec,
} from '../testing/pattern-arbitraries';
import { NFA, type NfaOptions, type NfaResult } from './nfa';
import { NfaGroup, type NfaGroupResult, type NfaGroupState } from './nfa-group';

// Patterns of single-event steps without NOT or skip: the ones the group runs itself rather than with their NFA.
const sequenceSpec: fc.Arbitrary<PatternSpec> = fc
  .record({ spec: patternSpec, steps: fc.array(stepSpec, { minLength: 1, maxLength: 4 }) })
  .map(({ spec, steps }) => ({
    ...spec,
    skip: { kind: 'noSkip' as const, step: 0 },
    steps: steps.map((step) => ({
      ...step,
      quantifier: 'one' as const,
      optional: false,
      until: undefined,
      not: undefined,
    })),
  }));

interface GroupSpec {
  specs: PatternSpec[];
  reportTimeouts: boolean;
  /** Small caps now and then, so that dropping the oldest partial matches is exercised. */
  maxPartialMatches: number | undefined;
}

const groupSpec: fc.Arbitrary<GroupSpec> = fc.record({
  specs: fc.array(fc.oneof(sequenceSpec, patternSpec), { minLength: 1, maxLength: 4 }),
  reportTimeouts: fc.boolean(),
  maxPartialMatches: fc.option(fc.integer({ min: 1, max: 3 }), { freq: 3 }).map((x) => x ?? undefined),
});

/** The group's NFAs, or undefined when a pattern is one the API refuses. */
function nfasOf(spec: GroupSpec): NFA<Ev>[] | undefined {
  const nfas: NFA<Ev>[] = [];
  for (const one of spec.specs) {
    const pattern = build(one);
    if (pattern === undefined) return undefined;
    const options: NfaOptions = { skip: skipOf(one), reportTimeouts: spec.reportTimeouts };
    if (spec.maxPartialMatches !== undefined) options.maxPartialMatches = spec.maxPartialMatches;
    nfas.push(NFA.compile(pattern, options));
  }
  return nfas;
}

/** One call's outputs, pattern by pattern, in order. */
function showGroup(r: NfaGroupResult<Ev>): string[] {
  return [
    ...r.matches.map((m) => `match ${m.pattern} ${ids(m.match)}`),
    ...r.timedOut.map((t) => `timeout ${t.pattern} ${t.timeoutTimestamp} ${ids(t.match)}`),
  ];
}

function showOneByOne(results: NfaResult<Ev>[]): string[] {
  return [
    ...results.flatMap((r, j) => r.matches.map((m) => `match ${j} ${ids(m)}`)),
    ...results.flatMap((r, j) => r.timedOut.map((t) => `timeout ${j} ${t.timeoutTimestamp} ${ids(t.match)}`)),
  ];
}

/** Every call's outputs of a group run, with a JSON round trip of the state before event `restoreAt`. */
function runGroup(group: NfaGroup<Ev>, events: readonly TimedEvent<Ev>[], restoreAt = -1): string[][] {
  let state: NfaGroupState<Ev> = group.createState();
  const calls: string[][] = [];
  events.forEach(({ event, timestamp }, at) => {
    if (at === restoreAt) state = group.restore(JSON.parse(JSON.stringify(group.snapshot(state))));
    calls.push(showGroup(group.process(state, event, timestamp)));
  });
  calls.push(showGroup(group.advanceTime(state, Infinity)));
  return calls;
}

// Streams of pattern types only (many matches), and longer ones with noise (partial matches that wait).
const streams = fc.oneof(eventsOf(type, 12), longEventsArb);

const params = {
  numRuns: Number(process.env.CEP_PROPERTY_RUNS ?? 1500),
  seed: Number(process.env.CEP_PROPERTY_SEED ?? 42),
};

describe('NfaGroup against one NFA per pattern', () => {
  it('gives every call the same matches and timeouts, in the same order per pattern, and the same stats', () => {
    let sequences = 0;
    let byNfa = 0;
    let outputs = 0;
    let timeouts = 0;
    let dropping = 0;
    fc.assert(
      fc.property(groupSpec, streams, (spec, events) => {
        const nfas = nfasOf(spec);
        if (nfas === undefined) return;
        const group = NfaGroup.of(nfas);
        sequences += group.sequenceCount;
        byNfa += nfas.length - group.sequenceCount;
        const groupState = group.createState();
        const states = nfas.map((nfa) => nfa.createState());
        const sumStats = () => {
          const all = nfas.map((nfa, j) => nfa.stats(states[j]));
          return {
            partialMatches: all.reduce((x, s) => x + s.partialMatches, 0),
            bufferedEvents: all.reduce((x, s) => x + s.bufferedEvents, 0),
            droppedPartialMatches: all.reduce((x, s) => x + s.droppedPartialMatches, 0),
          };
        };
        for (const { event, timestamp } of events) {
          const got = showGroup(group.process(groupState, event, timestamp));
          const want = showOneByOne(nfas.map((nfa, j) => nfa.process(states[j], event, timestamp)));
          expect(got).toEqual(want);
          outputs += got.length;
          timeouts += got.filter((line) => line.startsWith('timeout')).length;
          expect(group.stats(groupState)).toEqual(sumStats());
          expect(group.isIdle(groupState)).toBe(nfas.every((nfa, j) => nfa.isIdle(states[j])));
        }
        const end = showGroup(group.advanceTime(groupState, Infinity));
        timeouts += end.filter((line) => line.startsWith('timeout')).length;
        expect(end).toEqual(showOneByOne(nfas.map((nfa, j) => nfa.advanceTime(states[j], Infinity))));
        expect(group.stats(groupState)).toEqual(sumStats());
        if (group.stats(groupState).droppedPartialMatches > 0) dropping++;
      }),
      params,
    );
    // Both ways of running a pattern must be exercised, and produce output.
    expect(sequences).toBeGreaterThan(params.numRuns / 2);
    expect(byNfa).toBeGreaterThan(params.numRuns / 4);
    expect(outputs).toBeGreaterThan(params.numRuns / 2);
    expect(timeouts).toBeGreaterThan(params.numRuns / 10);
    expect(dropping).toBeGreaterThan(params.numRuns / 50);
  });

  it('snapshot and restore in the middle of any stream change nothing', () => {
    fc.assert(
      fc.property(groupSpec, streams, fc.nat(), (spec, events, cut) => {
        const nfas = nfasOf(spec);
        if (nfas === undefined) return;
        const group = NfaGroup.of(nfas);
        const plain = runGroup(group, events);
        expect(runGroup(group, events, events.length === 0 ? 0 : cut % events.length)).toEqual(plain);
      }),
      { ...params, numRuns: 500 },
    );
  });
});
