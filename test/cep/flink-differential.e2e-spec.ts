import { spawnSync } from 'node:child_process';
import { sampleCases } from './flink/arbitraries';
import { describeDifference, runDifferential } from './flink/differential';

// The differential test of libs/cep against Apache Flink CEP 1.20.3, on a fixed-seed sample that fits CI
// (`npm run test:flink` runs 1,000 cases or more). The first run resolves Flink from Maven Central and compiles the
// runner (scripts/flink-cep.mjs); Java 17 and Maven are required: without them this test fails, it never skips.
const SEED = 20261207;
const CASES = Number(process.env.CEPHEUS_FLINK_CI_CASES ?? 300);

describe('libs/cep against Flink CEP 1.20.3 (differential)', () => {
  it('needs Java and Maven', () => {
    for (const [tool, args] of [
      ['java', ['-version']],
      ['javac', ['-version']],
      ['mvn', ['-v']],
    ] as const) {
      const run = spawnSync(tool, [...args], { encoding: 'utf8' });
      if (run.error !== undefined || run.status !== 0) {
        throw new Error(
          `${tool} is required by the Flink differential test and could not run: ${run.error?.message ?? run.stderr}`,
        );
      }
    }
  });

  it(`gives Flink's answers on ${CASES} generated patterns and keyed streams, or a documented difference`, () => {
    const summary = runDifferential(sampleCases(SEED, CASES));
    const documented = Object.values(summary.documented).reduce((a, b) => a + b, 0);
    expect(summary.run).toBe(CASES);
    expect(summary.equal + documented + summary.unexplained.length).toBe(CASES);
    // Guard against a sample that proves nothing: most cases must run (not be refused) and agree.
    expect(summary.equal - summary.refused).toBeGreaterThan(CASES / 2);
    expect(summary.unexplained.map(describeDifference)).toEqual([]);
  }, 600_000);
});
