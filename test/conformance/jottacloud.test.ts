import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isConnectorError } from '../../connectors/errors.js';
import { createJottacloudConnector, type JottacloudConfig, type JottacloudConnector, type JottaUploadState } from '../../connectors/jottacloud/index.js';
import type { UploadState } from '../../connectors/types.js';
import { startJottacloudEmulator, type JottaEmulator } from '../fakes/jottacloud/index.js';
import { memoryCredentials, type MemoryCredentialStore } from '../support/memoryCredentials.js';
import { bufferSource, collect, defineConformanceSuite, expectKind, KiB, md5, readAll, rejectionOf } from './suite.js';
import { unrestrictedHost } from '../../connectors/types.js';

// One emulator for this file (spec: shared/specs/jottacloud-api.md), shared by the shared suite
// and the Jottacloud-specific tests below; stopped when the file is done.
let emulator: Promise<JottaEmulator> | undefined;
const emu = (): Promise<JottaEmulator> => (emulator ??= startJottacloudEmulator());
afterAll(async () => {
  if (emulator) await (await emulator).stop();
});

defineConformanceSuite('jottacloud', async () => {
  const e = await emu();
  const credentials = memoryCredentials({ loginToken: e.issueLoginToken() });
  return {
    connector: createJottacloudConnector({ jfsUrl: e.jfsUrl, apiUrl: e.apiUrl }, { host: unrestrictedHost, remoteName: 'jotta-conformance', credentials }),
    cleanup: async () => {},
    // The emulator keeps the bytes that arrived before the cut (§12.3 item 7), as the service does.
    cutNextUpload: (afterBytes) => e.faults.cutUploadAfter(afterBytes),
  };
}, { cutUpload: true });

describe('jottacloud specifics (against the emulator)', () => {
  let e: JottaEmulator;
  let account: string;
  let creds: MemoryCredentialStore;
  let c: JottacloudConnector;
  const open: JottacloudConnector[] = [];

  /** A connector on its own account, so faults and contents of one test stay apart from the others. */
  async function remote(config: JottacloudConfig = {}, name = `acct${open.length}${randomBytes(3).toString('hex')}`) {
    const username = e.addAccount(name);
    const credentials = memoryCredentials({ loginToken: e.issueLoginToken(username) });
    const connector = createJottacloudConnector({ jfsUrl: e.jfsUrl, apiUrl: e.apiUrl, ...config }, { host: unrestrictedHost, remoteName: 'jotta', credentials });
    open.push(connector);
    return { connector, credentials, username };
  }

  const logSince = (start: number) => e.log.slice(start);

  beforeAll(async () => {
    e = await emu();
    ({ connector: c, credentials: creds, username: account } = await remote());
  });
  afterEach(() => e.faults.reset());
  afterAll(async () => {
    for (const x of open) await x.close();
  });

  it('exchanges the single-use login token on first use and keeps only tokens', async () => {
    await c.mkdir('first');
    const stored = creds.snapshot();
    expect(stored.loginToken).toBeUndefined();
    expect(stored).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String), expiresAt: expect.any(Number), tokenEndpoint: expect.stringContaining('/protocol/openid-connect/token'), clientId: 'jottacli' });
    expect(e.sessions(account)).toHaveLength(1);
  });

  it('refuses a login token that was already used, telling the user what to do', async () => {
    const token = e.issueLoginToken(account);
    const one = createJottacloudConnector({ jfsUrl: e.jfsUrl, apiUrl: e.apiUrl }, { host: unrestrictedHost, remoteName: 'first', credentials: memoryCredentials({ loginToken: token }) });
    const two = createJottacloudConnector({ jfsUrl: e.jfsUrl, apiUrl: e.apiUrl }, { host: unrestrictedHost, remoteName: 'second', credentials: memoryCredentials({ loginToken: token }) });
    open.push(one, two);
    await one.stat('');
    const err = await expectKind(() => two.stat(''), 'auth');
    expect(err.message).toMatch(/remote "second".*Personal Login Token.*Account → Security/s);
    expect(err.message).toMatch(/invalid_grant/);
  });

  it('refuses a malformed login token as auth, without quoting it', async () => {
    const bad = createJottacloudConnector({ jfsUrl: e.jfsUrl, apiUrl: e.apiUrl }, { host: unrestrictedHost, remoteName: 'typo', credentials: memoryCredentials({ loginToken: 'eyJ1c2VybmFtZSI6InUxIiwicmVhbG0iOiJqb3R0YWNsb3VkIn0' }) });
    open.push(bad);
    const err = await expectKind(() => bad.about(), 'auth');
    expect(err.message).toMatch(/remote "typo".*lacks "well_known_link"/s);
  });

  it('refreshes an expired access token, and once more after a 401 for a token expired early', async () => {
    const { connector, credentials, username } = await remote();
    e.faults.setAccessTokenLifetime(1);
    await connector.mkdir('x'); // the first tokens live one second
    const first = credentials.snapshot().refreshToken;
    await new Promise((r) => setTimeout(r, 1100));
    await connector.stat('x');
    expect(credentials.snapshot().refreshToken).not.toBe(first);
    e.faults.setAccessTokenLifetime(3600);
    await new Promise((r) => setTimeout(r, 1100));
    await connector.stat('x'); // refreshed again, now for an hour
    const before = e.sessions(username)[0].refreshes;
    e.faults.expireAccessTokens(username); // the server expires it while the client thinks it valid
    expect((await connector.stat('x')).isDir).toBe(true);
    expect(e.sessions(username)[0]).toMatchObject({ refreshes: before + 1, revoked: false });
    expect(e.authStats().reuseDetected).toBe(0);
  });

  it('reports a revoked session as auth naming the remote', async () => {
    const { connector, username } = await remote();
    await connector.mkdir('x');
    e.faults.revokeSessions(username);
    const err = await expectKind(() => connector.stat('x'), 'auth');
    expect(err.message).toMatch(/remote "jotta"/);
    expect(err.message).toMatch(/Generate a new Personal Login Token in Jottacloud under Account → Security and update the remote "jotta"/);
  });

  it('resumes a cut source from the server\'s resume_pos when the MD5 is known (no pre-pass)', async () => {
    const data = randomBytes(1024 * KiB + 5);
    const checkpoints: UploadState[] = [];
    const source = { ...bufferSource(data, { failAfter: 600 * KiB }), hashes: { md5: md5(data) } };
    const cut = await rejectionOf(() => c.write('resume/src-cut.bin', source, { chunkSize: 256 * KiB, onCheckpoint: (s) => void checkpoints.push(structuredClone(s)) }));
    expect(isConnectorError(cut, 'transient') && /reading the source failed/.test(cut.message), String(cut)).toBe(true);
    expect(source.opens).toEqual([0]); // the source's own md5: no pre-pass
    await expectKind(() => c.stat('resume/src-cut.bin'), 'not_found');
    const last = checkpoints.at(-1) as JottaUploadState;
    expect(last).toMatchObject({ offset: 512 * KiB, md5: md5(data), size: data.length });
    expect(Object.keys(last).sort()).toEqual(['md5', 'mtimeMs', 'offset', 'size']); // no upload URL kept
    // The retry has only the saved state, not the source's md5: the state's md5 saves a pre-pass.
    const again = bufferSource(data);
    const res = await c.write('resume/src-cut.bin', again, { chunkSize: 256 * KiB, resume: last });
    expect(res.md5Origin).toBe('resume_state');
    expect(res.resumedFrom).toBeGreaterThan(0);
    expect(again.opens).toEqual([res.resumedFrom]);
    expect((await readAll(await c.read('resume/src-cut.bin'))).equals(data)).toBe(true);
    expect(e.file(`Jotta/Archive/resume/src-cut.bin`, account)?.revisions).toHaveLength(1);
  });

  it('ignores a saved state of a source that changed since, and resumes from the server anyway', async () => {
    const data = randomBytes(300 * KiB);
    e.faults.cutUploadAfter(100 * KiB);
    await rejectionOf(() => c.write('resume/changed.bin', bufferSource(data)));
    const stale: JottaUploadState = { offset: 100 * KiB, md5: md5(randomBytes(10)), size: data.length, mtimeMs: 1 };
    const src = bufferSource(data);
    const res = await c.write('resume/changed.bin', src, { resume: stale });
    expect(res.md5Origin).toBe('prepass');
    expect(src.opens[0]).toBe(0); // the pre-pass
    expect(res.resumedFrom).toBeGreaterThan(0); // the server still held the bytes of the same content
    expect(res.entry.hashes.md5).toBe(md5(data));
  });

  it('fails a source cut during the MD5 pre-pass as transient, before anything is allocated', async () => {
    const data = randomBytes(200 * KiB);
    const start = e.log.length;
    const err = await expectKind(() => c.write('prepass/cut.bin', bufferSource(data, { failAfter: 100 * KiB })), 'transient');
    expect(err.message).toMatch(/reading the source failed/);
    expect(logSince(start).filter((l) => l.role === 'allocate')).toEqual([]);
  });

  it('deduplicates content the account already has: nothing is sent', async () => {
    const data = randomBytes(64 * KiB);
    await c.write('dedupe/a.bin', bufferSource(data));
    const start = e.log.length;
    const src = { ...bufferSource(data), hashes: { md5: md5(data) } };
    const res = await c.write('dedupe/b.bin', src);
    expect(res).toMatchObject({ deduplicated: true, resumedFrom: 0, entry: { path: 'dedupe/b.bin', size: data.length, hashes: { md5: md5(data) } } });
    expect(src.opens).toEqual([]);
    expect(logSince(start).filter((l) => l.role === 'upload')).toEqual([]);
  });

  it('is corrupt when the declared MD5 is wrong, and keeps the previous content', async () => {
    await c.write('corrupt/f.bin', bufferSource(Buffer.from('good')));
    const data = randomBytes(10 * KiB);
    await expectKind(() => c.write('corrupt/f.bin', { ...bufferSource(data), hashes: { md5: md5(Buffer.from('other')) } }), 'corrupt');
    expect((await readAll(await c.read('corrupt/f.bin'))).toString()).toBe('good');
    expect(e.file('Jotta/Archive/corrupt/f.bin', account)).toMatchObject({ latestRevision: { state: 'CORRUPT' } });
  });

  it('is corrupt when the server reports another MD5 than the one uploaded', async () => {
    e.faults.corruptMd5('md5');
    await expectKind(() => c.write('corrupt/g.bin', bufferSource(randomBytes(5 * KiB))), 'corrupt');
  });

  it('hides files whose upload never completed from list, walk and stat', async () => {
    e.faults.cutUploadAfter(10 * KiB);
    await rejectionOf(() => c.write('hidden/partial.bin', bufferSource(randomBytes(100 * KiB))));
    await c.write('hidden/whole.bin', bufferSource(Buffer.from('whole')));
    expect(e.file('Jotta/Archive/hidden/partial.bin', account)).toBeDefined();
    expect((await collect(c.list('hidden'))).entries.map((x) => x.path)).toEqual(['hidden/whole.bin']);
    expect((await collect(c.walk('hidden'))).entries.map((x) => x.path)).toEqual(['hidden/whole.bin']);
    await expectKind(() => c.stat('hidden/partial.bin'), 'not_found');
  });

  it('deletes to the trash by default and permanently when asked', async () => {
    await c.write('trash/soft.txt', bufferSource(Buffer.from('soft')));
    await c.write('trash/hard.txt', bufferSource(Buffer.from('hard')));
    await c.write('trash/dir/inner.txt', bufferSource(Buffer.from('inner')));
    await c.delete('trash/soft.txt');
    await c.delete('trash/hard.txt', { permanent: true });
    await c.delete('trash/dir');
    const trashed = e.trash(account).map((f) => f.path);
    expect(trashed).toContain('/Jotta/Archive/trash/soft.txt');
    expect(trashed).not.toContain('/Jotta/Archive/trash/hard.txt');
    expect(e.files(account).map((f) => f.path)).not.toContain('/Jotta/Archive/trash/hard.txt');
    expect(e.folders(account).find((f) => f.path.endsWith('/trash/dir'))?.deleted).toBe(true);
    expect((await collect(c.list('trash'))).entries).toEqual([]);
    await expectKind(() => c.delete('trash/soft.txt'), 'not_found');
  });

  it('writes again over a trashed file and a trashed folder', async () => {
    await c.write('again/dir/f.txt', bufferSource(Buffer.from('one')));
    await c.delete('again/dir');
    const res = await c.write('again/dir/f.txt', bufferSource(Buffer.from('one')));
    expect(res.entry).toMatchObject({ path: 'again/dir/f.txt', size: 3 });
    expect((await collect(c.list('again/dir'))).entries.map((x) => x.path)).toEqual(['again/dir/f.txt']);
  });

  it('copies onto a trashed destination and the copy is not left in the trash (#6112)', async () => {
    await c.write('cp6112/src.txt', bufferSource(Buffer.from('source')));
    await c.write('cp6112/dst.txt', bufferSource(Buffer.from('old')));
    await c.delete('cp6112/dst.txt');
    const entry = await c.copy('cp6112/src.txt', 'cp6112/dst.txt');
    expect(entry).toMatchObject({ path: 'cp6112/dst.txt', size: 6 });
    expect((await readAll(await c.read('cp6112/dst.txt'))).toString()).toBe('source');
  });

  it('treats names case-insensitively, as declared', async () => {
    expect(c.capabilities.caseInsensitive).toBe(true);
    await c.write('case/Hello.TXT', bufferSource(Buffer.from('hi')));
    expect((await c.stat('case/hello.txt')).size).toBe(2);
    await c.write('case/HELLO.txt', bufferSource(Buffer.from('bye!')));
    const { entries } = await collect(c.list('case'));
    expect(entries.map((x) => [x.path, x.size])).toEqual([['case/Hello.TXT', 4]]);
    const moved = await c.move('case/hello.txt', 'case/hello.txt');
    expect(moved.size).toBe(4);
  });

  it('moves a folder with mvDir, and refuses an existing destination', async () => {
    await c.write('mvdir/a/f #1.txt', bufferSource(Buffer.from('f')));
    await c.mkdir('mvdir/taken');
    await expectKind(() => c.move('mvdir/a', 'mvdir/taken'), 'conflict');
    const entry = await c.move('mvdir/a', 'mvdir/b c');
    expect(entry).toMatchObject({ path: 'mvdir/b c', isDir: true });
    expect((await collect(c.walk('mvdir'))).entries.map((x) => x.path).sort()).toEqual(['mvdir/b c', 'mvdir/b c/f #1.txt', 'mvdir/taken']);
    await expectKind(() => c.copy('mvdir/b c', 'mvdir/d'), 'unsupported');
  });

  it('says conflict when a file is where a folder must go, and the reverse', async () => {
    await c.write('clash/file', bufferSource(Buffer.from('x')));
    await expectKind(() => c.mkdir('clash/file'), 'conflict');
    await c.mkdir('clash/folder');
    await expectKind(() => c.write('clash/folder', bufferSource(Buffer.from('x'))), 'conflict');
    await expectKind(() => collect(c.list('clash/file')), 'conflict');
  });

  it('throttles: a long Retry-After goes to the engine, a short one is waited out on a GET', async () => {
    e.faults.throttle(1, { retryAfterSec: 30, roles: ['allocate'] });
    const err = await expectKind(() => c.write('throttle/f', bufferSource(Buffer.from('f'))), 'throttled');
    expect(err).toMatchObject({ retryAfterMs: 30_000, scope: 'account', status: 429 });
    await c.mkdir('throttle');
    e.faults.throttle(1, { retryAfterSec: 0, roles: ['jfs'] });
    expect((await c.stat('throttle')).isDir).toBe(true);
    e.faults.throttle(1, { roles: ['jfs'] }); // without Retry-After: retried on a GET
    expect((await c.stat('throttle')).isDir).toBe(true);
    e.faults.throttle(5, { status: 503, roles: ['jfs'] });
    await expectKind(() => c.stat('throttle'), 'transient');
    // A command (POST) is never repeated here: mkDir is idempotent, but mv and cp are not (§9.4 item 4).
    e.faults.throttle(1, { roles: ['jfs'] });
    await expectKind(() => c.mkdir('throttle'), 'throttled');
  });

  it('treats a provider cut of the upload as transient', async () => {
    e.faults.cutUploadAfter(50 * KiB);
    const err = await expectKind(() => c.write('cutup/f.bin', bufferSource(randomBytes(200 * KiB))), 'transient');
    expect(err.message).toMatch(/upload/);
  });

  it('fails a download cut mid-body as transient, and reads on from an offset', async () => {
    const data = randomBytes(300 * KiB);
    await c.write('cutdl/f.bin', bufferSource(data));
    e.faults.cutDownloadAfter(100 * KiB);
    const err = await rejectionOf(async () => readAll(await c.read('cutdl/f.bin')));
    expect(isConnectorError(err, 'transient'), String(err)).toBe(true);
    const rest = await readAll(await c.read('cutdl/f.bin', { offset: 100 * KiB }));
    expect(rest.equals(data.subarray(100 * KiB))).toBe(true);
  });

  it('reports a folder too large to list (#5639) as unsupported; walk (liststream) still lists it', async () => {
    for (const n of ['a', 'b', 'c']) await c.write(`huge/${n}`, bufferSource(Buffer.from(n)));
    e.faults.failFoldersLargerThan(2);
    const err = await expectKind(() => collect(c.list('huge')), 'unsupported');
    expect(err.message).toMatch(/too large/);
    expect((await collect(c.walk('huge'))).entries.map((x) => x.path)).toEqual(['huge/a', 'huge/b', 'huge/c']);
  });

  it('reports a full quota as quota_exceeded', async () => {
    const { connector, username } = await remote();
    await connector.write('q/before.bin', bufferSource(randomBytes(1000)));
    e.faults.setQuotaFull(true, username);
    await expectKind(() => connector.write('q/f.bin', bufferSource(randomBytes(1000))), 'quota_exceeded');
    expect(await connector.about()).toMatchObject({ usedBytes: 1000, unlimited: false, freeBytes: 0 });
  });

  it('reports usage with the quota of a limited account, and unlimited as such', async () => {
    const limited = e.addAccount(`limited${randomBytes(3).toString('hex')}`, { capacity: 10_000_000 });
    const connector = createJottacloudConnector({ jfsUrl: e.jfsUrl, apiUrl: e.apiUrl }, { host: unrestrictedHost, remoteName: 'small', credentials: memoryCredentials({ loginToken: e.issueLoginToken(limited) }) });
    open.push(connector);
    await connector.write('f.bin', bufferSource(randomBytes(1000)));
    expect(await connector.about()).toEqual({ usedBytes: 1000, totalBytes: 10_000_000, freeBytes: 9_999_000, unlimited: false });
    expect(await c.about()).toMatchObject({ totalBytes: null, freeBytes: null, unlimited: true });
  });

  it('roots a remote at another mountpoint (Sync) apart from Archive', async () => {
    const sync = createJottacloudConnector({ jfsUrl: e.jfsUrl, apiUrl: e.apiUrl, mountpoint: 'Sync' }, { host: unrestrictedHost, remoteName: 'sync', credentials: memoryCredentials({ loginToken: e.issueLoginToken(account) }) });
    open.push(sync);
    await sync.write('only-in-sync.txt', bufferSource(Buffer.from('s')));
    expect(e.file('Jotta/Sync/only-in-sync.txt', account)).toBeDefined();
    await expectKind(() => c.stat('only-in-sync.txt'), 'not_found');
    const missing = createJottacloudConnector({ jfsUrl: e.jfsUrl, apiUrl: e.apiUrl, mountpoint: 'Nope' }, { host: unrestrictedHost, remoteName: 'nope', credentials: memoryCredentials({ loginToken: e.issueLoginToken(account) }) });
    open.push(missing);
    const err = await expectKind(() => missing.stat(''), 'not_found');
    expect(err.message).toMatch(/mountpoint/);
  });

  it('stays alive through a slow upload (the 5 TB throttle) with progress as heartbeat', async () => {
    e.faults.capUploadBandwidth(256 * KiB);
    const data = randomBytes(512 * KiB);
    const progress: number[] = [];
    const t0 = Date.now();
    const res = await c.write('slow/f.bin', bufferSource(data, { piece: 16 * KiB }), { onProgress: (b) => void progress.push(b) });
    expect(Date.now() - t0).toBeGreaterThan(1000);
    expect(res.entry.size).toBe(data.length);
    expect(progress.length).toBeGreaterThan(10);
  });
});

describe('jottacloud walk: the liststream count check (§4.4)', () => {
  let server: Server;
  let url: string;
  let body = '';

  beforeAll(async () => {
    // A minimal fake: just enough auth for one connector, and a scripted liststream answer.
    server = createServer((req, res) => {
      req.resume();
      const path = (req.url ?? '').split('?')[0];
      const json = (o: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(o));
      if (path === '/wk') return json({ token_endpoint: `${url}/token` });
      if (path === '/token') return json({ access_token: 'A', refresh_token: 'R', expires_in: 3600, token_type: 'Bearer' });
      if (path === '/account/v1/customer') return json({ username: 'u1' });
      res.writeHead(200, { 'content-type': 'application/xml' }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const connector = () => {
    const loginToken = Buffer.from(JSON.stringify({ username: 'u1', realm: 'jottacloud', well_known_link: `${url}/wk`, auth_token: 'x' })).toString('base64url');
    return createJottacloudConnector({ jfsUrl: `${url}/jfs/`, apiUrl: `${url}/` }, { host: unrestrictedHost, remoteName: 'fake', credentials: memoryCredentials({ loginToken }) });
  };
  const stream = (items: string, folders: number, files: number) =>
    `<?xml version="1.0" encoding="UTF-8"?><filestream>${items}<stats><folders>${folders}</folders><files>${files}</files></stats></filestream>`;
  const file = (parent: string, name: string) =>
    `<file><path>${parent}</path><filename>${name}</filename><md5>d41d8cd98f00b204e9800998ecf8427e</md5><size>0</size><modified>2024-05-01T08:19:09.000Z</modified><created>2024-05-01T08:19:09.000Z</created></file>`;

  it('counts an unannounced parent as rclone does, and lists it', async () => {
    body = stream(`<folder><path>/Archive/r</path></folder>${file('/Archive/r/x', 'f')}`, 2, 1);
    const c = connector();
    const { entries } = await collect(c.walk('r'));
    expect(entries.map((x) => `${x.path}${x.isDir ? '/' : ''}`)).toEqual(['r/x/', 'r/x/f']);
    await c.close();
  });

  it('fails as transient when <stats> disagrees or is missing', async () => {
    for (const b of [stream(`<folder><path>/Archive/r</path></folder>${file('/Archive/r', 'f')}`, 1, 2), stream('', 0, 0).replace(/<stats>.*<\/stats>/, '')]) {
      body = b;
      const c = connector();
      const err = await rejectionOf(() => collect(c.walk('r')));
      expect(isConnectorError(err, 'transient'), String(err)).toBe(true);
      await c.close();
    }
  });

  it('refuses a liststream path outside the walked folder', async () => {
    body = stream(`<folder><path>/Archive/elsewhere</path></folder>`, 1, 0);
    const c = connector();
    await expectKind(() => collect(c.walk('r')), 'transient');
    await c.close();
  });
});
