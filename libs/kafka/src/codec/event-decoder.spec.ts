import { EventDecoder, type RawMessage } from './event-decoder';

function message(value: string | Buffer | null, key: string | null = 'k1'): RawMessage {
  return {
    topic: 'events',
    partition: 2,
    offset: '17',
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(value),
  };
}

describe('EventDecoder', () => {
  const decoder = new EventDecoder({ maxBytes: 200 });

  it('reads a well-formed event, with its id, key and event time', () => {
    const result = decoder.decode(message(JSON.stringify({ id: 'e1', timestamp: 1000, colour: 'red' })));
    expect(result).toEqual({
      ok: true,
      event: {
        id: 'e1',
        key: 'k1',
        timestamp: 1000,
        payload: { id: 'e1', timestamp: 1000, colour: 'red' },
        partition: 2,
        offset: '17',
      },
    });
  });

  it('accepts ISO timestamps, takes the key from the event, and derives an id from the position', () => {
    const result = decoder.decode(message(JSON.stringify({ key: 'card-9', timestamp: '2026-01-01T00:00:00Z' }), null));
    expect(result.ok && result.event).toMatchObject({
      key: 'card-9',
      timestamp: Date.UTC(2026, 0, 1),
      id: 'events/2/17',
    });
  });

  it.each([
    ['not json', 'NOT_JSON'],
    ['[1,2]', 'NOT_AN_OBJECT'],
    ['null', 'NOT_AN_OBJECT'],
    [JSON.stringify({ timestamp: 'yesterday' }), 'MISSING_TIMESTAMP'],
    [JSON.stringify({ timestamp: -5 }), 'MISSING_TIMESTAMP'],
    [JSON.stringify({ colour: 'red' }), 'MISSING_TIMESTAMP'],
    [JSON.stringify({ pad: 'x'.repeat(300), timestamp: 1 }), 'TOO_LARGE'],
  ])('refuses %s with %s', (value, reason) => {
    const result = decoder.decode(message(value));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toBe(reason);
    expect(!result.ok && result.message.length).toBeGreaterThan(5);
  });

  it('refuses an event with no key anywhere', () => {
    const result = decoder.decode(message(JSON.stringify({ timestamp: 5 }), null));
    expect(!result.ok && result.reason).toBe('MISSING_KEY');
  });

  it('refuses deep nesting at once, without recursion, however deep', () => {
    const deep = `{"timestamp":1,"id":null,"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const result = new EventDecoder({ maxBytes: 1 << 20 }).decode(message(deep));
    expect(!result.ok && result.reason).toBe('TOO_DEEP');
    const ok = new EventDecoder({ maxDepth: 3 }).decode(message(JSON.stringify({ timestamp: 1, a: { b: [1] } })));
    expect(ok.ok).toBe(true);
    const over = new EventDecoder({ maxDepth: 3 }).decode(message(JSON.stringify({ timestamp: 1, a: { b: [[1]] } })));
    expect(!over.ok && over.reason).toBe('TOO_DEEP');
  });

  it('refuses an event further ahead of processing time than the allowed skew', () => {
    const now = Date.UTC(2026, 11, 7);
    const d = new EventDecoder({ now: () => now, maxFutureSkewMs: 60_000 });
    expect(d.decode(message(JSON.stringify({ timestamp: now + 60_000 }))).ok).toBe(true);
    const far = d.decode(message(JSON.stringify({ timestamp: '2099-01-01T00:00:00Z' })));
    expect(!far.ok && far.reason).toBe('FUTURE_EVENT');
    expect(!far.ok && far.message).toContain('2099-01-01');
  });
});
