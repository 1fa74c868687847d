import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CredentialCipher } from '../../db/credentials.js';
import { uploadStateVault } from '../../db/uploadStates.js';

describe('upload states in the ledger', () => {
  const vault = uploadStateVault(new CredentialCipher(randomBytes(32)));
  const state = { offset: 8_388_608, sessionUri: 'https://www.googleapis.com/upload/drive/v3/files?upload_id=SECRET-ID', md5: 'ab' };

  it('keeps the offset in clear and nothing else', () => {
    const stored = vault.seal(42, state);
    expect(stored.offset).toBe(state.offset);
    expect(JSON.stringify(stored)).not.toContain('SECRET-ID');
    expect(JSON.stringify(stored)).not.toContain('googleapis');
    expect(vault.open(42, JSON.parse(JSON.stringify(stored)))).toEqual(state);
  });

  it("a state copied to another item's row does not open", () => {
    expect(() => vault.open(43, vault.seal(42, state))).toThrow();
  });

  it('reads a row written before states were sealed, and no state as none', () => {
    expect(vault.open(1, { offset: 5, path: '/x' })).toEqual({ offset: 5, path: '/x' });
    expect(vault.open(1, null)).toBeNull();
  });
});
