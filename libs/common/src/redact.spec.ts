import { redactDeep, redactingLogOptions, redactSecrets } from './redact';

describe('redactSecrets', () => {
  it('hides the password of connection URLs and keeps the rest', () => {
    expect(redactSecrets('REDIS_URL (got "http://:s3cret@redis:6379/0")')).toBe(
      'REDIS_URL (got "http://:***@redis:6379/0")',
    );
    expect(redactSecrets('rediss://admin:p%40ss@10.0.0.1:6380')).toBe('rediss://admin:***@10.0.0.1:6380');
    expect(redactSecrets('connect to redis://127.0.0.1:6379 failed')).toBe('connect to redis://127.0.0.1:6379 failed');
    expect(redactSecrets('https://user@host/x')).toBe('https://user@host/x');
  });

  it('hides password= and token= values', () => {
    expect(redactSecrets('redis://host:6379/?password=hunter2&db=1')).toBe('redis://host:6379/?password=***&db=1');
    expect(redactSecrets('token=abc123 next')).toBe('token=*** next');
  });
});

describe('redactDeep', () => {
  it('redacts every string of a log record, errors included, without walking for ever', () => {
    const error = new Error('cannot parse redis://u:topsecret@h:1');
    const record: Record<string, unknown> = { url: 'redis://:pw1@h:1', nested: [{ v: 'x password=pw2' }], err: error };
    record.self = record;
    const out = JSON.stringify(redactDeep(record));
    expect(out).not.toMatch(/topsecret|pw1|pw2/);
    expect(out).toContain('redis://u:***@h:1');
    expect(out).toContain('[circular]');
    let deep: Record<string, unknown> = { s: 'leaf' };
    for (let i = 0; i < 100; i++) deep = { d: deep };
    expect(JSON.stringify(redactDeep(deep, 5))).toContain('[too deep]');
  });
});

describe('redactingLogOptions', () => {
  it('keeps passwords out of pino lines, in the message and in the merged object', async () => {
    const pino = (await import('pino')).default;
    const lines: string[] = [];
    const logger = pino({ ...redactingLogOptions(), base: null }, { write: (line: string) => lines.push(line) });
    logger.error(
      { url: 'redis://:pw-in-object@h:1', err: new Error('bad redis://:pw-in-error@h:1') },
      'at redis://:pw-in-msg@h',
    );
    logger.info('plain %s', 'redis://u:pw-in-arg@h:1');
    const text = lines.join('');
    expect(lines).toHaveLength(2);
    expect(text).not.toMatch(/pw-in-/);
    expect(text).toContain('redis://:***@h:1');
    expect(text).toContain('redis://u:***@h:1');
  });
});
