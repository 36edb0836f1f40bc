import { compileTemplate, unknownTemplateVariables } from './template';

describe('alert templates', () => {
  it('renders placeholders and formats values', () => {
    const t = compileTemplate('{{count}} payments on card {{ key }} ({{value}}, {{missing}}, {{obj}})');
    const vars: Record<string, unknown> = { count: 6, key: '4111', value: 1234.5678, obj: { a: 1 } };
    expect(t.render((n) => vars[n])).toBe('6 payments on card 4111 (1234.57, ?, {"a":1})');
    expect(t.variables).toEqual(['count', 'key', 'value', 'missing', 'obj']);
  });

  it('never evaluates anything: code-like text stays text', () => {
    expect(compileTemplate('{{constructor}} {{__proto__}} ${1+1}').render(() => undefined)).toBe('? ? ${1+1}');
  });

  it('flags unknown placeholders, allowing step and first/last fields', () => {
    expect(unknownTemplateVariables('{{key}} {{first.amount}} {{large.amount}} {{what}}', ['large'])).toEqual([
      'unknown placeholder {{what}}',
    ]);
  });
});
