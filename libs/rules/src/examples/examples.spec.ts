import { compileRule } from '../compile/compile-rule';
import { FactRegistry } from '../condition/facts';
import { RuleEvaluator } from '../evaluator/rule-evaluator';
import { validateRule } from '../schema/validate-rule';
import { runInMemory } from '../testing/in-memory-runner';
import { EXAMPLE_FACTS, FRAUD_RULES, SHAPES_RULES } from './example-rules';
import type { ExampleStream } from './example-stream';
import { generateFraud } from './fraud-generator';
import { generateShapes } from './shapes-generator';

const facts = new FactRegistry(EXAMPLE_FACTS);

function found(stream: ExampleStream, rules: readonly unknown[]): { got: string[]; want: string[] } {
  const evaluator = new RuleEvaluator(rules.map((r) => compileRule(r, { facts })));
  const { alerts } = runInMemory(evaluator, stream.events, stream.endTime);
  const got = alerts.map((a) => `${a.ruleId} ${a.key} ${a.events[a.events.length - 1].id}`).sort();
  const want = stream.expected.map((e) => `${e.ruleId} ${e.key} ${e.lastEventId}`).sort();
  return { got, want };
}

describe('example rules', () => {
  it.each([...SHAPES_RULES, ...FRAUD_RULES].map((r) => [(r as { id: string }).id, r]))('%s is valid', (_id, rule) => {
    expect(validateRule(rule, { facts })).toEqual({ ok: true, rule });
  });

  it('shapes: every planted case alerts once, clean colours never', () => {
    const stream = generateShapes({ seed: 11 });
    expect(stream.expected).toHaveLength(6);
    const { got, want } = found(stream, SHAPES_RULES);
    expect(got).toEqual(want);
  });

  it('fraud: every planted case alerts once, clean cards and devices never', () => {
    const stream = generateFraud({ seed: 5, payments: 3000 });
    expect(stream.expected).toHaveLength(15);
    const { got, want } = found(stream, FRAUD_RULES);
    expect(got).toEqual(want);
  });

  it('fraud: clean traffic alone raises nothing', () => {
    const stream = generateFraud({ seed: 9, payments: 3000, planted: 0 });
    expect(stream.expected).toEqual([]);
    expect(found(stream, FRAUD_RULES).got).toEqual([]);
  });

  it('generators are deterministic per seed', () => {
    expect(generateFraud({ seed: 3, payments: 100 })).toEqual(generateFraud({ seed: 3, payments: 100 }));
    expect(generateShapes({ seed: 3 })).toEqual(generateShapes({ seed: 3 }));
    expect(generateShapes({ seed: 3 })).not.toEqual(generateShapes({ seed: 4 }));
  });
});
