import pino from 'pino';
import { nestLogSink } from './nest-log';
import { redactingLogOptions } from './redact';

describe('nestLogSink', () => {
  it("writes Nest's errors as pino lines with their context and stack, secrets redacted", () => {
    const lines: string[] = [];
    const logger = pino({ ...redactingLogOptions(), base: null }, { write: (line: string) => lines.push(line) });
    const sink = nestLogSink(logger);
    sink.error('cannot reach redis://:pw-1@h:1', 'Error: at redis://:pw-2@h:1\n    at x', 'ExceptionsHandler');
    sink.warn('careful', 'RouterExplorer');
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(first).toMatchObject({ level: 50, nest: 'ExceptionsHandler', msg: 'cannot reach redis://:***@h:1' });
    expect(first.stack).toBe('Error: at redis://:***@h:1\n    at x');
    expect(lines.join('')).not.toMatch(/pw-/);
    expect(JSON.parse(lines[1])).toMatchObject({ level: 40, nest: 'RouterExplorer', msg: 'careful' });
  });
});
