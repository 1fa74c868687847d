import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConnectorError } from '../../connectors/errors.js';
import { sftpDefinition } from '../../connectors/sftp/definition.js';
import { createSftpConnector, type SftpConfig, type SftpConnector, type SftpUploadState } from '../../connectors/sftp/index.js';
import { resendTail } from '../../connectors/sftp/upload.js';
import { unrestrictedHost, type UploadState } from '../../connectors/types.js';
import { bufferSource, expectKind, KiB, readAll, rejectionOf } from '../conformance/suite.js';
import { startCutProxy, type CutProxy } from '../support/cutProxy.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { startSshd, type SftpTestServer } from '../support/servers/sftp.js';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

describe('sftp against OpenSSH', () => {
  let server: SftpTestServer;
  let proxy: CutProxy;
  const open: SftpConnector[] = [];

  const connector = (config: Partial<SftpConfig> = {}, secrets: Record<string, unknown> = { privateKey: server.privateKey }, privateNetworks = true) => {
    const c = createSftpConnector(
      { host: server.host, port: server.port, user: server.user, root: server.dataDir, hostKey: server.hostKey, ...config },
      { remoteName: 'nas', host: { ...unrestrictedHost, privateNetworks }, credentials: memoryCredentials(secrets) },
    );
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    server = await startSshd();
    proxy = await startCutProxy({ host: server.host, port: server.port });
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    await proxy?.close();
    await server?.stop();
  });

  it('resumes a file whose connection was cut mid-way, sending only what the server does not hold', async () => {
    const c = connector({ host: proxy.host, port: proxy.port });
    await c.mkdir('crash');
    const data = randomBytes(8 * 1024 * KiB + 123);
    const checkpoints: UploadState[] = [];
    await c.stat('crash');
    const cut = proxy.cutAfter(5 * 1024 * KiB);
    const err = await rejectionOf(() => c.write('crash/big.bin', bufferSource(data), { chunkSize: 1024 * KiB, onCheckpoint: (s) => void checkpoints.push(structuredClone(s)) }));
    await cut;
    expect(isConnectorError(err, 'transient'), String(err)).toBe(true);
    await expectKind(() => c.stat('crash/big.bin'), 'not_found');
    const state = checkpoints.at(-1) as SftpUploadState;
    expect(state.offset).toBeGreaterThanOrEqual(3 * 1024 * KiB);
    const held = (await stat(join(server.dataDir, 'crash', state.temp))).size;
    expect(held).toBeGreaterThanOrEqual(state.offset);
    expect(held).toBeLessThanOrEqual(5 * 1024 * KiB);

    proxy.resetCounts();
    const source = bufferSource(data);
    const res = await c.write('crash/big.bin', source, { chunkSize: 1024 * KiB, resume: state });
    expect(res.resumedFrom).toBe(Math.max(state.offset, held - resendTail));
    expect(source.opens).toEqual([res.resumedFrom]);
    // What went upstream on the resumed attempt: the bytes the server lacked, the re-sent tail,
    // a new SSH login and the SFTP framing (well under 5 % here).
    const lacking = data.length - held;
    expect(proxy.bytesUp).toBeLessThan(lacking + resendTail + 0.05 * lacking + 64 * KiB);
    expect(md5(await readFile(join(server.dataDir, 'crash/big.bin')))).toBe(md5(data));
    // A resumed file's MD5 comes from the server (md5sum over exec): the engine need not read it back.
    expect(res.entry.hashes.md5).toBe(md5(data));
    expect((await readdir(join(server.dataDir, 'crash'))).sort()).toEqual(['big.bin']);
  });

  it('writes parts in parallel and keeps the parts done across a resume', async () => {
    const c = connector();
    const partSize = 256 * KiB;
    const data = randomBytes(4 * partSize + 17);
    const part = (i: number) => data.subarray(i * partSize, Math.min(data.length, (i + 1) * partSize));
    const w1 = await c.openChunkWriter('parts/f.bin', { size: data.length, mtimeMs: 1_600_000_000_000, hashes: {} }, { partSize });
    await Promise.all([w1.writeChunk(0, part(0)), w1.writeChunk(2, part(2))]);
    const state = w1.state();
    expect(state.offset).toBe(2 * partSize);
    await w1.abandon();
    await expectKind(() => c.stat('parts/f.bin'), 'not_found');
    const w2 = await c.openChunkWriter('parts/f.bin', { size: data.length, mtimeMs: 1_600_000_000_000, hashes: {} }, { partSize: 999, resume: JSON.parse(JSON.stringify(state)) });
    expect(w2.partSize).toBe(partSize);
    expect([0, 1, 2, 3, 4].map((i) => w2.isDone(i))).toEqual([true, false, true, false, false]);
    await Promise.all([1, 3, 4].map((i) => w2.writeChunk(i, part(i))));
    const res = await w2.close();
    expect(res.resumedFrom).toBe(2 * partSize);
    expect(res.entry).toMatchObject({ path: 'parts/f.bin', size: data.length, mtimeMs: 1_600_000_000_000 });
    expect(md5(await readFile(join(server.dataDir, 'parts/f.bin')))).toBe(md5(data));
  });

  describe('host key pinning', () => {
    it('refuses an unknown host, showing the fingerprint to paste', async () => {
      const err = await expectKind(() => connector({ hostKey: undefined }).stat(''), 'auth');
      expect(err.message).toContain(server.hostKey);
      expect(err.message).toMatch(/no hostKey/);
    });

    it('refuses a host whose key differs from the pinned one, showing the actual fingerprint', async () => {
      const other = `SHA256:${createHash('sha256').update('another key').digest('base64').replace(/=+$/, '')}`;
      const err = await expectKind(() => connector({ hostKey: other }).stat(''), 'auth');
      expect(err.message).toContain(server.hostKey);
      expect(err.message).toMatch(/does not match/);
    });

    it('accepts the key pinned by fingerprint and by public key line', async () => {
      expect((await connector({ hostKey: server.hostKey }).stat('')).isDir).toBe(true);
      expect((await connector({ hostKey: `${server.hostPublicKey} some comment` }).stat('')).isDir).toBe(true);
    });
  });

  describe('authentication', () => {
    it('logs in with a password, and refuses a wrong one as auth', async () => {
      expect((await connector({}, { password: server.password }).stat('')).isDir).toBe(true);
      const err = await expectKind(() => connector({}, { password: 'wrong' }).stat(''), 'auth');
      expect(err.message).toMatch(/refused the credentials of remote "nas"/);
      expect(err.message).not.toContain('wrong');
    });

    it('refuses a key the server does not know as auth', async () => {
      const { generateKeyPairSync } = await import('node:crypto');
      const { privateKey } = generateKeyPairSync('ed25519');
      const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      await expectKind(() => connector({}, { privateKey: pem }).stat(''), 'auth');
    });
  });

  it('hashes through md5sum and sha1sum on the server, quoting hostile names for the shell', async () => {
    const c = connector();
    const data = randomBytes(300 * KiB);
    for (const name of ["it's a $(touch pwned) `id` ;x.bin", '-rf', 'back\\slash\nnewline']) {
      await c.write(`hash/${name}`, bufferSource(data));
      expect(await c.remoteHash(`hash/${name}`, 'md5')).toBe(md5(data));
      expect(await c.remoteHash(`hash/${name}`, 'sha1')).toBe(createHash('sha1').update(data).digest('hex'));
    }
    expect(existsSync(join(server.dataDir, 'hash/pwned'))).toBe(false);
    expect(existsSync('/home/knarrtest/pwned')).toBe(false);
  });

  it('refuses loopback and private addresses when private networks are not allowed', async () => {
    for (const host of ['127.0.0.1', 'localhost', '10.1.2.3', '169.254.169.254']) {
      const err = await expectKind(() => connector({ host }, undefined, false).stat(''), 'forbidden');
      expect(err.message).toMatch(/private or local address/);
    }
  });

  it('discardUpload removes the partial file of an unfinished upload and nothing else', async () => {
    const c = connector();
    await c.write('discard/f.bin', bufferSource(Buffer.from('committed')));
    const checkpoints: UploadState[] = [];
    const data = randomBytes(1024 * KiB);
    await rejectionOf(() => c.write('discard/f.bin', bufferSource(data, { failAfter: 700 * KiB }), { chunkSize: 256 * KiB, onCheckpoint: (s) => void checkpoints.push(s) }));
    const state = checkpoints.at(-1) as SftpUploadState;
    expect(existsSync(join(server.dataDir, 'discard', state.temp))).toBe(true);
    expect((await c.stat('discard/f.bin')).size).toBe(9);
    await c.discardUpload('discard/f.bin', state);
    expect(await readdir(join(server.dataDir, 'discard'))).toEqual(['f.bin']);
    expect((await readFile(join(server.dataDir, 'discard/f.bin'))).toString()).toBe('committed');
    // A state naming anything but this file's partial is ignored.
    await c.discardUpload('discard/f.bin', { offset: 1, temp: 'f.bin' });
    await c.discardUpload('discard/f.bin', { offset: 1, temp: '../../etc/passwd' });
    expect(await readdir(join(server.dataDir, 'discard'))).toEqual(['f.bin']);
  });

  it('keeps the modification time, as the server stores it', async () => {
    const c = connector();
    const res = await c.write('mtime/f', bufferSource(Buffer.from('t'), { mtimeMs: 1_500_000_000_999 }));
    expect(res.entry.mtimeMs).toBe(1_500_000_000_000);
    expect((await stat(join(server.dataDir, 'mtime/f'))).mtimeMs).toBe(1_500_000_000_000);
  });

  it('fails the operation of a dead connection as transient, and the next one reconnects', async () => {
    const c = connector({ host: proxy.host, port: proxy.port });
    await c.write('dead/f', bufferSource(Buffer.from('alive')));
    const before = proxy.connections;
    proxy.cutAll();
    const first = await c.stat('dead/f').catch((e: unknown) => e);
    if (first instanceof Error) expect(isConnectorError(first, 'transient'), String(first)).toBe(true);
    expect((await readAll(await c.read('dead/f'))).toString()).toBe('alive');
    expect(proxy.connections).toBeGreaterThan(before);
  });

  it('copies server-side with copy-data and keeps the time; about() reports the disk', async () => {
    const c = connector();
    await c.write('cp/a', bufferSource(Buffer.from('copy me'), { mtimeMs: 1_400_000_000_000 }));
    const e = await c.copy('cp/a', 'cp/sub/b');
    expect(e).toMatchObject({ path: 'cp/sub/b', size: 7, mtimeMs: 1_400_000_000_000 });
    expect((await readFile(join(server.dataDir, 'cp/sub/b'))).toString()).toBe('copy me');
    const about = await c.about();
    expect(about.totalBytes).toBeGreaterThan(0);
    expect(about.freeBytes).toBeGreaterThan(0);
  });

  it('roots a remote at a folder relative to the login folder', async () => {
    const c = connector({ root: '' });
    const { entries } = await import('../conformance/suite.js').then((m) => m.collect(c.list('')));
    expect(entries.every((x) => !x.path.startsWith('/'))).toBe(true);
  });

  describe('definition', () => {
    const parse = (config: Record<string, unknown>) => sftpDefinition.configSchema.safeParse(config);
    it('marks the secrets and asks for exactly one of password and privateKey', () => {
      expect([...sftpDefinition.secretKeys].sort()).toEqual(['passphrase', 'password', 'privateKey']);
      const base = { host: 'nas.example.com', user: 'u', hostKey: server.hostKey };
      const issue = (config: Record<string, unknown>) => parse(config).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
      expect(issue(base)).toMatch(/privateKey: password or privateKey is required/);
      expect(issue({ ...base, password: 'p', privateKey: server.privateKey })).toMatch(/password: give either password or privateKey, not both/);
      expect(parse({ ...base, privateKey: server.privateKey }).success).toBe(true);
      // The stored settings (what a PATCH changes) hold no secrets: the login rule waits for those.
      expect(sftpDefinition.settingsSchema.safeParse(base).success).toBe(true);
      expect(parse(server.remoteConfig()).success).toBe(true);
    });
    it('says how to fix a bad hostKey or key', () => {
      const bad = parse({ host: 'h', user: 'u', hostKey: 'AA:BB', password: 'p' });
      expect(JSON.stringify(bad.error?.issues)).toMatch(/ssh-keygen -lf/);
      const key = parse({ host: 'h', user: 'u', privateKey: 'not a key' });
      expect(JSON.stringify(key.error?.issues)).toMatch(/BEGIN/);
    });
  });
});
