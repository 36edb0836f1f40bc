/**
 * Alert message templates: `{{name}}` placeholders, parsed once when the rule compiles. A template is data; it is
 * never evaluated as code, and an unknown placeholder is a validation error rather than an empty string at runtime.
 */

/** Placeholders every template may use. */
export const TEMPLATE_VARIABLES = [
  'key',
  'ruleId',
  'version',
  'severity',
  'window',
  'count',
  'value',
  'limit',
  'function',
  'field',
  'operator',
  'firstTime',
  'lastTime',
] as const;

type Part = string | { name: string };

/** A parsed template. */
export interface CompiledTemplate {
  readonly source: string;
  render(vars: (name: string) => unknown): string;
  /** The placeholder names it uses. */
  readonly variables: readonly string[];
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}/g;

/** Parses a template. */
export function compileTemplate(source: string): CompiledTemplate {
  const parts: Part[] = [];
  let last = 0;
  for (const m of source.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push(source.slice(last, m.index));
    parts.push({ name: m[1] });
    last = m.index + m[0].length;
  }
  if (last < source.length) parts.push(source.slice(last));
  return {
    source,
    variables: parts.filter((p): p is { name: string } => typeof p !== 'string').map((p) => p.name),
    render: (vars) => parts.map((p) => (typeof p === 'string' ? p : formatValue(vars(p.name)))).join(''),
  };
}

/** Checks the placeholders of a template: the reason for each unknown one. */
export function unknownTemplateVariables(source: string, stepNames: readonly string[]): string[] {
  const problems: string[] = [];
  for (const name of compileTemplate(source).variables) {
    const [head, ...rest] = name.split('.');
    if (rest.length === 0 && (TEMPLATE_VARIABLES as readonly string[]).includes(head)) continue;
    if (rest.length > 0 && (head === 'first' || head === 'last' || stepNames.includes(head))) continue;
    problems.push(`unknown placeholder {{${name}}}`);
  }
  return problems;
}

function formatValue(v: unknown): string {
  if (v === undefined) return '?';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Math.round(v * 100) / 100);
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}
