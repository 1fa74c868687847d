import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ftpDefinition } from '../../connectors/ftp/definition.js';
import { createFtpConnector, type FtpConfig, type FtpConnector, type FtpConnectorOptions, type FtpUploadState } from '../../connectors/ftp/index.js';
import { unrestrictedHost, type HostPolicy, type UploadState } from '../../connectors/types.js';
import { bufferSource, collect, expectKind, KiB, readAll, rejectionOf } from '../conformance/suite.js';
import { memoryCredentials } from '../support/memoryCredentials.js';
import { startPureFtpd, type FtpTestServer } from '../support/servers/ftp.js';

const mtimeMs = 1_700_000_000_789;

describe('ftp connector against pure-ftpd', () => {
  let plain: FtpTestServer;
  let cut: FtpTestServer;
  let tls: FtpTestServer;
  const open: FtpConnector[] = [];

  function connector(server: FtpTestServer, over: Partial<FtpConfig & { password: string }> = {}, host: HostPolicy = unrestrictedHost, opts: FtpConnectorOptions = {}): FtpConnector {
    const { password, ...settings } = { ...(server.remoteConfig() as unknown as FtpConfig & { password: string }), ...over };
    const c = createFtpConnector(settings, { host, remoteName: 'ftp-test', credentials: memoryCredentials({ password }) }, opts);
    open.push(c);
    return c;
  }

  beforeAll(async () => {
    [plain, cut, tls] = await Promise.all([startPureFtpd(), startPureFtpd({ cuttable: true }), startPureFtpd({ tls: true })]);
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    await Promise.all([plain?.stop(), cut?.stop(), tls?.stop()]);
  });

  it('a cut mid-file resumes from what the server holds, sending only the rest', async () => {
    const c = connector(cut);
    const chunkSize = 256 * KiB;
    const data = randomBytes(6 * chunkSize + 4321);
    const path = 'resume/cut.bin';
    const cutAt = 3 * chunkSize + 100 * KiB;
    const checkpoints: FtpUploadState[] = [];
    const data$ = cut.proxies!.data;
    data$.resetCounts();
    const cutDone = data$.cutAfter(cutAt);
    const err = await rejectionOf(() =>
      c.write(path, bufferSource(data, { mtimeMs }), { chunkSize, onCheckpoint: (s) => void checkpoints.push(structuredClone(s) as FtpUploadState) }),
    );
    await cutDone;
    expect((err as { kind?: string }).kind, String(err)).toBe('transient');
    await expectKind(() => c.stat(path), 'not_found');

    // The server kept every chunk whose transfer completed, and what arrived of the one cut.
    const last = checkpoints.at(-1)!;
    expect(last.offset).toBe(3 * chunkSize);
    const partial = join(cut.dataDir, 'resume', last.tempName);
    const held = await readFile(partial);
    expect(held.length).toBeGreaterThanOrEqual(last.offset);
    expect(held.length).toBeLessThanOrEqual(cutAt);
    expect(held.equals(data.subarray(0, held.length))).toBe(true);

    data$.resetCounts();
    const source = bufferSource(data, { mtimeMs });
    const res = await c.write(path, source, { chunkSize, resume: last });
    expect(res.resumedFrom).toBe(held.length);
    expect(source.opens).toEqual([held.length]);
    // Counted at the proxy in front of the data ports: the resumed attempt sent only the rest.
    expect(data$.bytesUp).toBe(data.length - held.length);

    const final = join(cut.dataDir, 'resume', 'cut.bin');
    expect((await readFile(final)).equals(data)).toBe(true);
    expect((await stat(final)).mtimeMs).toBe(Math.floor(mtimeMs / 1000) * 1000);
    expect(existsSync(partial)).toBe(false);
    expect(res.entry).toMatchObject({ path, size: data.length, mtimeMs: Math.floor(mtimeMs / 1000) * 1000 });
  });

  it('refuses a wrong password as auth, saying what to fix and never quoting the password', async () => {
    const c = connector(plain, { password: 'not-the-Pa55word' });
    const err = await expectKind(() => c.stat(''), 'auth');
    expect(err.message).toMatch(/refused the login of user "knarr" for remote "ftp-test".*530/s);
    expect(err.message).toMatch(/check the user and password/);
    expect(err.message).not.toContain('not-the-Pa55word');
    expect(err.message).not.toContain(plain.password);
  });

  it('refuses loopback and private hosts when the host policy forbids private networks, before connecting', async () => {
    const policy: HostPolicy = { ...unrestrictedHost, privateNetworks: false };
    const control = cut.proxies!.control;
    control.resetCounts();
    for (const host of ['127.0.0.1', 'localhost']) {
      const c = connector(cut, { host }, policy);
      const err = await expectKind(() => c.stat(''), 'forbidden');
      expect(err.message).toMatch(/private or local address/);
      await expectKind(() => c.write('x', bufferSource(Buffer.from('x'))), 'forbidden');
    }
    expect(control.connections).toBe(0);
  });

  it('discardUpload removes the partial file of an interrupted upload and leaves the committed file alone', async () => {
    const c = connector(plain);
    const path = 'discard/f.bin';
    await c.write(path, bufferSource(Buffer.from('committed')));
    const data = randomBytes(3 * 64 * KiB);
    const checkpoints: UploadState[] = [];
    await rejectionOf(() => c.write(path, bufferSource(data, { failAfter: 100 * KiB }), { chunkSize: 64 * KiB, onCheckpoint: (s) => void checkpoints.push(s) }));
    const state = checkpoints.at(-1)!;
    const partial = join(plain.dataDir, 'discard', state.tempName as string);
    expect(existsSync(partial)).toBe(true);
    // The partial file is not part of the listing.
    expect((await collect(c.list('discard'))).entries.map((e) => e.path)).toEqual([path]);
    await c.discardUpload(path, state);
    expect(existsSync(partial)).toBe(false);
    expect(await readFile(join(plain.dataDir, path), 'utf8')).toBe('committed');
    // Nothing left to discard is fine.
    await c.discardUpload(path, state);
  });

  it('speaks explicit TLS with the test CA, and refuses the server when the CA is not given', async () => {
    const c = connector(tls);
    const data = randomBytes(300 * KiB);
    await c.write('tls/f.bin', bufferSource(data), { chunkSize: 128 * KiB });
    expect((await readAll(await c.read('tls/f.bin', { offset: 5, length: 1000 }))).equals(data.subarray(5, 1005))).toBe(true);
    expect((await readFile(join(tls.dataDir, 'tls/f.bin'))).equals(data)).toBe(true);

    const untrusted = connector(tls, { ca: undefined });
    const err = await expectKind(() => untrusted.stat(''), 'auth');
    expect(err.message).toMatch(/TLS certificate .* not trusted.*"ca"/);
    // The server refuses plain FTP (-Y 2): the connector never sends the password in the clear there.
    const clear = connector(tls, { tls: 'none', ca: undefined });
    await expect(clear.stat('')).rejects.toThrow();
  });

  it('lists with LIST where the server has no MLSD', async () => {
    const c = connector(plain);
    await c.write('listing/a file.txt', bufferSource(Buffer.from('12345')));
    await c.mkdir('listing/sub');
    const viaList = connector(plain, {}, unrestrictedHost, { listOnly: true });
    const { entries } = await collect(viaList.list('listing'));
    expect(entries.map((e) => [e.path, e.isDir, e.isDir ? 0 : e.size]).sort()).toEqual([
      ['listing/a file.txt', false, 5],
      ['listing/sub', true, 0],
    ]);
  });

  it('replaces a dead pooled connection with a fresh login', async () => {
    const c = connector(cut);
    await c.mkdir('dead');
    cut.proxies!.control.cutAll();
    // The op that meets the dead connection fails transient at worst; the next gets a fresh login.
    const first = await c.stat('dead').then(() => 'ok', (err: { kind?: string }) => err.kind);
    expect(['ok', 'transient']).toContain(first);
    expect((await c.stat('dead')).isDir).toBe(true);
  });

  it('validates its config with messages that say how to fix it', () => {
    const parse = (config: Record<string, unknown>) => ftpDefinition.configSchema.safeParse(config);
    expect(ftpDefinition.secretKeys).toEqual(['password']);
    expect(parse({ host: 'ftp.example.com', user: 'u', password: 'p' }).success).toBe(true);
    const bad = parse({ host: 'ftp://ftp.example.com:21', user: 'u', password: 'p\r\nDELE x', tls: 'ssl' });
    const messages = bad.error!.issues.map((i) => i.message).join('\n');
    expect(messages).toMatch(/host must be a host name or IP address/);
    expect(messages).toMatch(/password may not contain line breaks/);
    expect(messages).toMatch(/tls must be "none", "explicit"/);
    const mixed = parse({ host: 'h', user: 'u', password: 'p', tls: 'none', ca: '-----BEGIN CERTIFICATE-----' });
    expect(mixed.error!.issues).toMatchObject([{ path: ['tls'], message: expect.stringMatching(/apply only with tls "explicit" or "implicit"/) }]);
  });
});
