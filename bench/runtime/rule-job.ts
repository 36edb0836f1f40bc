// The product's own job on the runtime: the fraud rules over a generated payment stream through `runRuleJob` (decode,
// route by grouping, keyBy, the keyed broadcast rule processor), one instance in this thread against two instances on
// worker threads. Bounded runs, whole process: wall-clock events/s and CPU per event over every thread.
import { runRuleJob } from '@cepheus/job';
import { FRAUD_RULES, generateFraud } from '@cepheus/rules';

export interface RuleJobFigures {
  rate: number;
  cpuUs: number;
}

/** The payment stream as JSON lines, split round-robin into `inputs` inputs (each stays in time order). */
export function paymentInputs(payments: number, inputs: number): Map<string, string[]> {
  const stream = generateFraud({ seed: 17, payments });
  const out = new Map<string, string[]>();
  stream.events.forEach((e, i) => {
    const name = `input-${i % inputs}`;
    let lines = out.get(name);
    if (lines === undefined) out.set(name, (lines = []));
    lines.push(JSON.stringify({ ...e.event, timestamp: e.timestamp }));
  });
  return out;
}

export async function ruleJobRun(inputs: Map<string, string[]>, parallelism: number): Promise<RuleJobFigures> {
  const events = [...inputs.values()].reduce((n, l) => n + l.length, 0);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const run = await runRuleJob(FRAUD_RULES, inputs, { parallelism, threads: parallelism > 1 });
  const cpu = process.cpuUsage(c0);
  const seconds = (performance.now() - t0) / 1000;
  if (run.alerts.length === 0) throw new Error('the rule job raised no alert: the benchmark stream is wrong');
  return { rate: events / seconds, cpuUs: (cpu.user + cpu.system) / events };
}
