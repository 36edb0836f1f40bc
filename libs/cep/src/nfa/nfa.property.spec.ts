import fc from 'fast-check';
import { runNfa } from '../testing/nfa-test-harness';
import {
  build,
  eventsArb,
  ids,
  longEventsArb,
  patternSpec,
  skipOf,
  waitingPatternSpec,
  type Ev,
} from '../testing/pattern-arbitraries';
import { referenceMatches } from '../testing/reference-matcher';
import { NFA, type InternalNfaOptions, type Match, type NfaResult } from './nfa';

// Fixed seed by default so CI is reproducible; CEP_PROPERTY_SEED / CEP_PROPERTY_RUNS explore further.
const params = {
  numRuns: Number(process.env.CEP_PROPERTY_RUNS ?? 3000),
  seed: Number(process.env.CEP_PROPERTY_SEED ?? 42),
};

describe('NFA against the reference matcher', () => {
  let built = 0;
  let withMatches = 0;
  afterAll(() => {
    // Guard against a generator that only produces refused patterns or empty results.
    expect(built).toBeGreaterThan(params.numRuns / 3);
    expect(withMatches).toBeGreaterThan(params.numRuns / 10);
  });

  it('finds the same matches for every contiguity, quantifier, NOT and skip strategy', () => {
    fc.assert(
      fc.property(patternSpec, eventsArb, (spec, events) => {
        // With a skip strategy, matches wait for earlier partial matches; a window lets the final advanceTime end
        // them all, so that every match the reference expects is eventually emitted.
        // The reference matcher knows the simple semantics; greedy, until and NOT steps follow Flink's automaton
        // (stop and greedy-guarded states), which the differential test against Flink itself holds the NFA to
        // (test/cep/flink-differential.e2e-spec.ts, npm run test:flink).
        const plain = {
          ...spec,
          steps: spec.steps.map((s) => ({ ...s, greedy: false, until: undefined, not: undefined })),
        };
        const pattern = build(
          plain.skip.kind !== 'noSkip' && plain.window === undefined ? { ...plain, window: 100 } : plain,
        );
        if (pattern === undefined) return;
        built++;
        const skip = skipOf(spec);
        const got = runNfa(NFA.compile(pattern, { skip }), events).matches;
        const want = referenceMatches(pattern, events, skip);
        if (want.length > 0) withMatches++;
        if (skip.prunes) {
          // Held matches come out later than they complete; compare the matches themselves.
          expect(got.map((m) => ids(m.match)).sort()).toEqual(want.map((m) => ids(m.match)).sort());
        } else {
          const key = (at: number, m: Match<Ev>): string => `${at}|${ids(m)}`;
          expect(got.map((m) => key(m.at, m.match)).sort()).toEqual(want.map((m) => key(m.at, m.match)).sort());
        }
      }),
      params,
    );
  });

  it('snapshot and restore in the middle of any sequence change nothing', () => {
    fc.assert(
      fc.property(patternSpec, eventsArb, fc.nat(), (spec, events, cut) => {
        const pattern = build(spec);
        if (pattern === undefined) return;
        const nfa = NFA.compile(pattern, { skip: skipOf(spec) });
        const plain = runNfa(nfa, events);
        const restored = runNfa(nfa, events, { restoreAt: events.length === 0 ? 0 : cut % events.length });
        const show = (r: typeof plain) => ({
          matches: r.matches.map((m) => `${m.at}|${ids(m.match)}`),
          timedOut: r.timedOut.map((t) => `${t.at}|${t.timeoutTimestamp}|${ids(t.match)}`),
        });
        expect(show(restored)).toEqual(show(plain));
        expect(nfa.stats(restored.state)).toEqual(nfa.stats(plain.state));
      }),
      { ...params, numRuns: 500 },
    );
  });
  it('the fast paths answer exactly as the general path, call by call, and leave the same state', () => {
    const show = (r: NfaResult<Ev>): string =>
      JSON.stringify([r.matches.map(ids), r.timedOut.map((t) => `${t.timeoutTimestamp}|${ids(t.match)}`)]);
    let idleCalls = 0;
    let waitingCalls = 0;
    let proceedCalls = 0;
    fc.assert(
      fc.property(fc.oneof(patternSpec, waitingPatternSpec), longEventsArb, (spec, events) => {
        const pattern = build(spec);
        if (pattern === undefined) return;
        const fast = NFA.compile(pattern, { skip: skipOf(spec) });
        const general = NFA.compile(pattern, { skip: skipOf(spec), noFastPath: true } as InternalNfaOptions);
        const a = fast.createState();
        const b = general.createState();
        const inGeneral = jest.spyOn(fast as unknown as { processInGeneral: () => unknown }, 'processInGeneral');
        const proceed = jest.spyOn(fast as unknown as { proceedQuietly: () => boolean }, 'proceedQuietly');
        for (const { event, timestamp } of events) {
          const idle = fast.isIdle(a);
          const wait = a.wait;
          const generalCalls = inGeneral.mock.calls.length;
          const quietCalls = proceed.mock.results.filter((r) => r.value === true).length;
          const out = show(fast.process(a, event, timestamp));
          expect(out).toEqual(show(general.process(b, event, timestamp)));
          if (idle && fast.isIdle(a) && out === '[[],[]]') idleCalls++;
          // Calls with partial matches running that a fast path answered: waiting at a step, or ready to proceed.
          if (wait >= 0 && inGeneral.mock.calls.length === generalCalls) waitingCalls++;
          if (proceed.mock.results.filter((r) => r.value === true).length > quietCalls) proceedCalls++;
          expect(fast.snapshot(a)).toEqual(general.snapshot(b));
          // isIdle reads the derived summary: it must agree with the lists themselves.
          expect(fast.isIdle(a)).toBe(a.pm.length === 0 && a.held.length === 0 && a.events === 0);
        }
        expect(show(fast.advanceTime(a, Infinity))).toEqual(show(general.advanceTime(b, Infinity)));
        expect(fast.snapshot(a)).toEqual(general.snapshot(b));
      }),
      params,
    );
    // Calls that found the state idle and left it idle without output: the ones the idle fast path answers.
    expect(idleCalls).toBeGreaterThan(params.numRuns / 4);
    // Rarer: the state must wait (or be ready to proceed), and the event must start nothing (seed 42 gives ~120).
    expect(waitingCalls).toBeGreaterThan(params.numRuns / 40);
    expect(proceedCalls).toBeGreaterThan(params.numRuns / 100); // seed 42 gives ~60
  });
});
