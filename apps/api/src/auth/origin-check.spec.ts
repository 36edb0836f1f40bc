import type { IncomingMessage } from 'node:http';
import { allowedOrigins, originRefusal } from './origin-check';

function request(method: string, headers: Record<string, string>): IncomingMessage {
  return { method, headers } as unknown as IncomingMessage;
}

describe('originRefusal', () => {
  const allowed = allowedOrigins('https://ops.example.com, http://localhost:8080/');

  it('refuses writes from a foreign origin, an opaque one, or a malformed one, naming the origin', () => {
    const foreign = originRefusal(request('POST', { host: 'api:3000', origin: 'https://evil.example' }), allowed);
    expect(foreign).toMatch(/Origin "https:\/\/evil.example" may not change anything here/);
    expect(originRefusal(request('DELETE', { host: 'api:3000', origin: 'null' }), allowed)).toBeDefined();
    expect(originRefusal(request('PUT', { host: 'api:3000', origin: 'not a url' }), allowed)).toBeDefined();
    // Same host, other port: another origin.
    expect(originRefusal(request('POST', { host: 'api:3000', origin: 'http://api:3001' }), allowed)).toBeDefined();
  });

  it('lets through reads, requests without Origin, the own origin and the allowed ones', () => {
    expect(
      originRefusal(request('GET', { host: 'api:3000', origin: 'https://evil.example' }), allowed),
    ).toBeUndefined();
    expect(originRefusal(request('POST', { host: 'api:3000' }), allowed)).toBeUndefined();
    expect(originRefusal(request('POST', { host: 'api:3000', origin: 'http://api:3000' }), allowed)).toBeUndefined();
    expect(
      originRefusal(request('POST', { host: 'api:3000', origin: 'https://OPS.example.com' }), allowed),
    ).toBeUndefined();
    expect(
      originRefusal(request('POST', { host: 'api:3000', origin: 'http://localhost:8080' }), allowed),
    ).toBeUndefined();
  });
});
