import { createHash, timingSafeEqual } from 'node:crypto';

/** Roles in increasing power: each includes the ones before it. */
export const ROLES = ['reader', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who made a request, as the audit log records it: the role and a fingerprint of the key, never the key. */
export interface Principal {
  role: Role;
  keyId: string;
}

export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** The keys of `CEPHEUS_API_KEYS` (`key:role,...`), compared in constant time. */
export class ApiKeys {
  private readonly entries: Array<{ digest: Buffer; principal: Principal }>;

  constructor(spec: string) {
    this.entries = spec
      .split(',')
      .filter((pair) => pair.length > 0)
      .map((pair) => {
        const at = pair.lastIndexOf(':');
        const key = pair.slice(0, at);
        const role = pair.slice(at + 1) as Role;
        if (!ROLES.includes(role)) throw new Error(`unknown role "${role}": use ${ROLES.join(', ')}`);
        const digest = sha256(key);
        return { digest, principal: { role, keyId: `${role}-${digest.toString('hex').slice(0, 8)}` } };
      });
  }

  /** The principal of a presented key, or undefined when no configured key matches. */
  identify(key: string): Principal | undefined {
    const digest = sha256(key);
    let found: Principal | undefined;
    // Every entry is compared, so the time taken says nothing about which key came close.
    for (const entry of this.entries) if (timingSafeEqual(entry.digest, digest)) found ??= entry.principal;
    return found;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
