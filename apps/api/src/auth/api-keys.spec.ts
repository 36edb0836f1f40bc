import { ApiKeys, roleAtLeast } from './api-keys';

describe('ApiKeys', () => {
  const keys = new ApiKeys('key-admin-1:admin,key-editor-1:editor,key-reader-1:reader');

  it('identifies keys with their role and a fingerprint that does not reveal the key', () => {
    const admin = keys.identify('key-admin-1');
    expect(admin?.role).toBe('admin');
    expect(admin?.keyId).toMatch(/^admin-[0-9a-f]{8}$/);
    expect(admin?.keyId).not.toContain('key-admin-1');
    expect(keys.identify('key-reader-1')?.role).toBe('reader');
    expect(keys.identify('nope')).toBeUndefined();
  });

  it('orders roles reader < editor < admin', () => {
    expect(roleAtLeast('admin', 'editor')).toBe(true);
    expect(roleAtLeast('editor', 'editor')).toBe(true);
    expect(roleAtLeast('reader', 'editor')).toBe(false);
  });
});
