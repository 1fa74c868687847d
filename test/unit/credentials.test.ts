import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { CredentialCipher, CredentialError } from '../../db/credentials.js';
import { loadMasterKey, MasterKeyError } from '../../runtime/masterKey.js';

const SECRET = 'pl-token-7f3a9c';
const secrets = { loginToken: SECRET, refresh: { token: 'r-1', expires: 1_700_000_000 }, note: 'ünïcødé ✓' };

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('CredentialCipher', () => {
  const key = randomBytes(32);
  const cipher = new CredentialCipher(key);

  it('round-trips a secrets object', () => {
    const sealed = cipher.seal(secrets);
    expect(cipher.open(sealed)).toEqual(secrets);
    expect(sealed.includes(Buffer.from(SECRET))).toBe(false);
    // Any instance built from the same key bytes opens it (a restarted process).
    expect(new CredentialCipher(Buffer.from(key)).open(sealed)).toEqual(secrets);
  });

  it('lays the bytes out as version, key id, iv, ciphertext, tag', () => {
    const sealed = cipher.seal(secrets);
    const json = Buffer.byteLength(JSON.stringify(secrets));
    expect(sealed[0]).toBe(1);
    expect(sealed.subarray(1, 5).toString('hex')).toBe(cipher.keyId);
    expect(sealed.length).toBe(1 + 4 + 12 + json + 16);
    // A fresh IV each time: equal secrets never seal to equal bytes.
    const again = cipher.seal(secrets);
    expect(again.subarray(5, 17).equals(sealed.subarray(5, 17))).toBe(false);
    expect(again.equals(sealed)).toBe(false);
  });

  it('opens a plain Uint8Array view as well as a Buffer', () => {
    const sealed = cipher.seal(secrets);
    const padded = new Uint8Array(sealed.length + 8);
    padded.set(sealed, 8);
    expect(cipher.open(padded.subarray(8))).toEqual(secrets);
  });

  it.each([
    ['the key id', 2, 'wrong_key'],
    ['the iv', 10, 'tampered'],
    ['the ciphertext', 20, 'tampered'],
    ['the tag', -1, 'tampered'],
  ] as const)('detects a flipped bit in %s', (_what, offset, kind) => {
    const sealed = cipher.seal(secrets);
    sealed[offset < 0 ? sealed.length + offset : offset] ^= 0x01;
    const err = caught(() => cipher.open(sealed));
    expect(err).toBeInstanceOf(CredentialError);
    expect((err as CredentialError).kind).toBe(kind);
    expect(err.message).not.toContain(SECRET);
  });

  it('refuses an unknown version and truncated data', () => {
    const sealed = cipher.seal(secrets);
    sealed[0] = 2;
    expect(caught(() => cipher.open(sealed))).toMatchObject({ kind: 'unsupported_version' });
    expect(caught(() => cipher.open(cipher.seal(secrets).subarray(0, 20)))).toMatchObject({ kind: 'malformed' });
    expect(caught(() => cipher.open(Buffer.alloc(0)))).toMatchObject({ kind: 'malformed' });
  });

  it('refuses a different key with a clear message and no plaintext', () => {
    const sealed = cipher.seal(secrets);
    const other = new CredentialCipher(randomBytes(32));
    const err = caught(() => other.open(sealed));
    expect(err).toMatchObject({ name: 'CredentialError', kind: 'wrong_key' });
    expect(err.message).toMatch(/different master key/);
    expect(err.message).toContain(cipher.keyId);
    expect(err.message).not.toContain(SECRET);
    expect(inspect(err)).not.toContain(SECRET);
  });

  it('binds a sealed value to its context', () => {
    const sealed = cipher.seal(secrets, 'remote:1');
    expect(cipher.open(sealed, 'remote:1')).toEqual(secrets);
    expect(caught(() => cipher.open(sealed, 'remote:2'))).toMatchObject({ kind: 'tampered' });
    expect(caught(() => cipher.open(sealed))).toMatchObject({ kind: 'tampered' });
  });

  it('needs a 32-byte key and a JSON object', () => {
    expect(() => new CredentialCipher(randomBytes(16))).toThrow(/32 bytes, got 16/);
    expect(() => cipher.seal([] as never)).toThrow(/JSON object/);
    expect(() => cipher.seal(null as never)).toThrow(/JSON object/);
  });

  it('keeps the key out of inspection and JSON', () => {
    const hex = key.toString('hex');
    const b64 = key.toString('base64');
    for (const shown of [inspect(cipher, { showHidden: true, depth: 5 }), JSON.stringify(cipher), String(cipher)]) {
      expect(shown).not.toContain(hex);
      expect(shown).not.toContain(b64);
    }
  });

  it('is unaffected by the caller zeroing its key buffer', () => {
    const k = randomBytes(32);
    const c = new CredentialCipher(k);
    const sealed = c.seal(secrets);
    k.fill(0);
    expect(c.open(sealed)).toEqual(secrets);
  });
});

describe('loadMasterKey', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'knarr-key-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  describe('from KNARR_MASTER_KEY', () => {
    const key = randomBytes(32);
    it.each([
      ['base64', key.toString('base64')],
      ['base64 without padding', key.toString('base64').replace(/=+$/, '')],
      ['base64url', key.toString('base64url')],
      ['hex', key.toString('hex')],
      ['upper-case hex with whitespace', ` ${key.toString('hex').toUpperCase()}\n`],
    ])('accepts %s', async (_what, value) => {
      const dataDir = tempDir();
      const mk = await loadMasterKey({ env: { KNARR_MASTER_KEY: value }, dataDir });
      expect(mk.key.equals(key)).toBe(true);
      expect(mk).toMatchObject({ source: 'env', created: false });
      // The environment wins: no key file appears.
      expect(() => statSync(join(dataDir, 'master.key'))).toThrow();
    });

    it.each([
      ['too short', randomBytes(16).toString('base64'), /decodes to 16 bytes/],
      ['too long', randomBytes(48).toString('base64'), /decodes to 48 bytes/],
      ['short hex', randomBytes(31).toString('hex'), /decodes to/],
      ['not base64', 'this is not a key!', /not base64 or hex/],
    ])('refuses a key that is %s, in one line saying how to make one', async (_what, value, why) => {
      const err = await loadMasterKey({ env: { KNARR_MASTER_KEY: value }, dataDir: tempDir() }).then(() => undefined, (e: Error) => e);
      expect(err).toBeInstanceOf(MasterKeyError);
      expect(err!.message).toMatch(why);
      expect(err!.message).toContain('KNARR_MASTER_KEY');
      expect(err!.message).toContain('openssl rand -base64 32');
      expect(err!.message).not.toContain('\n');
      expect(err!.message).not.toContain(value);
    });

    it('treats an empty variable as unset', async () => {
      const mk = await loadMasterKey({ env: { KNARR_MASTER_KEY: '  ' }, dataDir: tempDir() });
      expect(mk.source).toBe('file');
    });
  });

  describe('from the key file', () => {
    it('creates it with mode 0600 on first start, then reuses it', async () => {
      const dataDir = join(tempDir(), 'nested', 'data');
      const logs: string[] = [];
      const first = await loadMasterKey({ env: {}, dataDir, log: (m) => logs.push(m) });
      const path = join(dataDir, 'master.key');
      expect(first).toMatchObject({ source: 'file', path, created: true });
      expect(first.key).toHaveLength(32);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64').equals(first.key)).toBe(true);
      expect(logs.join('\n')).toMatch(/created a new master key.*back it up/);
      expect(logs.join('\n')).not.toContain(first.key.toString('base64'));

      const second = await loadMasterKey({ env: {}, dataDir });
      expect(second).toMatchObject({ source: 'file', created: false });
      expect(second.key.equals(first.key)).toBe(true);
    });

    it('gives every concurrent first start the same key', async () => {
      const dataDir = tempDir();
      const all = await Promise.all(Array.from({ length: 8 }, () => loadMasterKey({ env: {}, dataDir })));
      expect(all.filter((k) => k.created)).toHaveLength(1);
      for (const k of all) expect(k.key.equals(all[0].key)).toBe(true);
    });

    it.each([0o644, 0o640, 0o604, 0o660])('refuses a key file with mode %s', async (mode) => {
      const dataDir = tempDir();
      await loadMasterKey({ env: {}, dataDir });
      const path = join(dataDir, 'master.key');
      chmodSync(path, mode);
      const err = await loadMasterKey({ env: {}, dataDir }).then(() => undefined, (e: Error) => e);
      expect(err).toBeInstanceOf(MasterKeyError);
      expect(err!.message).toContain(`chmod 600 ${path}`);
      expect(err!.message).toContain(`mode 0${mode.toString(8)}`);
    });

    it('accepts a hand-made key file with a stricter mode', async () => {
      const dataDir = tempDir();
      const key = randomBytes(32);
      const path = join(dataDir, 'master.key');
      writeFileSync(path, key.toString('hex'), { mode: 0o400 });
      const mk = await loadMasterKey({ env: {}, dataDir });
      expect(mk.key.equals(key)).toBe(true);
    });

    it('refuses a corrupt key file, naming it', async () => {
      const dataDir = tempDir();
      const path = join(dataDir, 'master.key');
      writeFileSync(path, 'c2hvcnQ=\n', { mode: 0o600 });
      await expect(loadMasterKey({ env: {}, dataDir })).rejects.toThrow(`master key file ${path} must be 32 bytes`);
    });

    it('does not invent a key where it must be shared', async () => {
      const dataDir = tempDir();
      const err = await loadMasterKey({ env: {}, dataDir, createIfMissing: false }).then(() => undefined, (e: Error) => e);
      expect(err).toBeInstanceOf(MasterKeyError);
      expect(err!.message).toMatch(/set KNARR_MASTER_KEY, the same on every knarr process.*openssl rand -base64 32/);
      expect(() => statSync(join(dataDir, 'master.key'))).toThrow();
      // An existing file is still used.
      const made = await loadMasterKey({ env: {}, dataDir });
      expect((await loadMasterKey({ env: {}, dataDir, createIfMissing: false })).key.equals(made.key)).toBe(true);
    });

    it('seals with one load and opens with the next', async () => {
      const dataDir = tempDir();
      const sealed = new CredentialCipher((await loadMasterKey({ env: {}, dataDir })).key).seal(secrets);
      expect(new CredentialCipher((await loadMasterKey({ env: {}, dataDir })).key).open(sealed)).toEqual(secrets);
    });
  });
});
