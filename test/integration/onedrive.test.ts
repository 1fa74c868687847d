import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Entry } from '../../core/entry.js';
import { onedriveDefinition } from '../../connectors/onedrive/definition.js';
import { createOneDriveConnector, onedriveOAuth, type OneDriveConfig, type OneDriveConnector } from '../../connectors/onedrive/index.js';
import { quickXorOf } from '../../connectors/shared/quickxor.js';
import { unrestrictedHost, type ChangeBatch, type ListNotice, type UploadState } from '../../connectors/types.js';
import { bufferSource, collect, expectKind, KiB, readAll, rejectionOf } from '../conformance/suite.js';
import { startOneDriveEmulator, type OneDriveEmulator } from '../fakes/onedrive/index.js';
import { memoryCredentials } from '../support/memoryCredentials.js';

const CHUNK = 320 * KiB;

async function drain(feed: AsyncIterable<ChangeBatch>): Promise<{ changed: Entry[]; deleted: string[]; cursor?: string; resync?: boolean }> {
  const out: { changed: Entry[]; deleted: string[]; cursor?: string; resync?: boolean } = { changed: [], deleted: [] };
  for await (const b of feed) {
    out.changed.push(...b.changed);
    out.deleted.push(...b.deleted);
    if (b.cursor) out.cursor = b.cursor;
    if (b.resync) out.resync = true;
  }
  return out;
}

describe('onedrive specifics (against the emulator)', () => {
  let e: OneDriveEmulator;
  const open: OneDriveConnector[] = [];

  function remote(e2: OneDriveEmulator = e, extra: Partial<OneDriveConfig> = {}, account?: string) {
    const { token, clientSecret, ...config } = e2.remoteConfig();
    const credentials = memoryCredentials({ token: account ? e2.issueToken(account) : token, clientSecret });
    const c = createOneDriveConnector({ ...(config as OneDriveConfig), ...extra }, { host: unrestrictedHost, remoteName: 'od', credentials }, { copyPollMs: 20 });
    open.push(c);
    return { c, credentials };
  }

  beforeAll(async () => {
    e = await startOneDriveEmulator();
  });
  afterEach(() => e.faults.reset());
  afterAll(async () => {
    for (const c of open) await c.close();
    await e.stop();
  });

  it('throttling: 429 with Retry-After is throttled with retryAfterMs; without it still throttled; 503 with it too', async () => {
    const { c } = remote();
    await c.mkdir('thr');
    e.faults.throttle(1, { retryAfterSec: 41 });
    const err = await expectKind(() => c.stat('thr'), 'throttled');
    expect(err).toMatchObject({ retryAfterMs: 41_000, scope: 'account', status: 429 });
    expect(err.message).toMatch(/activityLimitReached/);
    // A POST is never repeated here: the engine waits.
    e.faults.throttle(1);
    const bare = await expectKind(() => c.mkdir('thr/x'), 'throttled');
    expect(bare.retryAfterMs).toBeUndefined();
    e.faults.throttle(1, { status: 503, retryAfterSec: 315 });
    expect(await expectKind(() => c.stat('thr'), 'throttled')).toMatchObject({ retryAfterMs: 315_000, status: 503 });
    // A short one on a GET is waited out inline.
    e.faults.throttle(1, { retryAfterSec: 1 });
    expect((await c.stat('thr')).isDir).toBe(true);
    // Upload URLs are throttled the same way.
    e.faults.throttle(1, { retryAfterSec: 30, roles: ['upload'] });
    expect(await expectKind(() => c.write('thr/big.bin', bufferSource(randomBytes(2 * CHUNK)), { chunkSize: CHUNK }), 'throttled')).toMatchObject({ retryAfterMs: 30_000 });
  });

  it('refreshes an expired access token once after a 401, and rotates the refresh token', async () => {
    const { c, credentials } = remote();
    await c.mkdir('tok');
    const first = credentials.snapshot();
    const refreshes = e.oauth.stats.refreshes;
    e.oauth.expireAccessTokens();
    expect((await c.stat('tok')).isDir).toBe(true);
    expect(e.oauth.stats.refreshes).toBe(refreshes + 1);
    expect(c.auth.stats.refreshes).toBe(1);
    expect(credentials.snapshot().refreshToken).not.toBe(first.refreshToken);
    expect((await c.stat('tok')).isDir).toBe(true);
    expect(e.oauth.stats.refreshes).toBe(refreshes + 1);
  });

  it('a revoked account is auth, with a message that says to reconnect', async () => {
    const { c } = remote(e, {}, 'revokee');
    // The drive is the default account's, which every token of this emulator may read.
    await c.mkdir('rev');
    e.oauth.revoke('revokee');
    const err = await expectKind(() => c.stat('rev'), 'auth');
    expect(err.message).toMatch(/Reconnect the account/);
    expect(err.message).toMatch(/remote "od"/);
  });

  it('encodes names as rclone does, and refuses what OneDrive cannot store', async () => {
    const { c } = remote();
    for (const name of ['a:b?.txt', '~lock', ' lead', 'trail.', 'x*y|z"<>\\']) await c.write(`names/${name}`, bufferSource(Buffer.from(name)));
    const stored = e.list().filter((f) => f.path.startsWith('names/')).map((f) => f.path.slice(6)).sort();
    expect(stored).toEqual(['a：b？.txt', 'trail．', 'x＊y｜z＂＜＞＼', '～lock', '␠lead'].sort());
    const listed = (await collect(c.list('names'))).entries.map((x) => x.path.slice(6)).sort();
    expect(listed).toEqual(['a:b?.txt', '~lock', ' lead', 'trail.', 'x*y|z"<>\\'].sort());
    for (const bad of ['CON', 'con.txt', 'LPT1', '.lock', 'desktop.ini', 'x_vti_y']) {
      await expectKind(() => c.write(`names/${bad}`, bufferSource(Buffer.from('x'))), 'invalid_name');
    }
    await expectKind(() => c.mkdir(`names/${'d'.repeat(200)}/${'e'.repeat(200)}`), 'invalid_name');
    // `~$` is encoded (a leading tilde), so it is stored, as rclone stores it.
    await c.write('names/~$office.docx', bufferSource(Buffer.from('o')));
    expect((await c.stat('names/~$office.docx')).size).toBe(1);
  });

  it('reports a stored name it cannot encode back, in list, walk and the change feed, instead of mangling it', async () => {
    const { c } = remote();
    const cursor = await c.changeCursor();
    await e.seed('odd/fine.txt', Buffer.from('f'));
    await e.seed('odd/a\u201Bb.txt', Buffer.from('q'));
    const notices: ListNotice[] = [];
    const listed = await collect(c.list('odd', { onNotice: (n) => void notices.push(n) }));
    expect(listed.entries.map((x) => x.path)).toEqual(['odd/fine.txt']);
    expect(notices).toMatchObject([{ kind: 'unencodable', path: 'odd/a\u201Bb.txt' }]);
    const walked: ListNotice[] = [];
    expect((await collect(c.walk('odd', { onNotice: (n) => void walked.push(n) }))).entries.map((x) => x.path)).toEqual(['odd/fine.txt']);
    expect(walked).toHaveLength(1);
    const fed: ListNotice[] = [];
    const feed = await drain(c.changes(cursor, { onNotice: (n) => void fed.push(n) }));
    expect(feed.changed.map((x) => x.path).sort()).toEqual(['odd', 'odd/fine.txt']);
    expect(fed.map((n) => n.kind)).toEqual(['unencodable']);
  });

  it('skips a OneNote notebook (a package) with a notice, in list and walk', async () => {
    const { c } = remote();
    const cursor = await c.changeCursor();
    await e.seed('nb/plain.txt', Buffer.from('p'));
    await e.addNotebook('nb/Notes');
    const notices: ListNotice[] = [];
    expect((await collect(c.list('nb', { onNotice: (n) => void notices.push(n) }))).entries.map((x) => x.path)).toEqual(['nb/plain.txt']);
    expect((await collect(c.walk('nb', { onNotice: (n) => void notices.push(n) }))).entries.map((x) => x.path)).toEqual(['nb/plain.txt']);
    const feed = await drain(c.changes(cursor, { onNotice: (n) => void notices.push(n) }));
    expect(feed.changed.map((x) => x.path).sort()).toEqual(['nb', 'nb/plain.txt']);
    expect(notices.map((n) => [n.kind, n.path])).toEqual([['skipped', 'nb/Notes'], ['skipped', 'nb/Notes'], ['skipped', 'nb/Notes']]);
  });

  it('change feed: creates, modifies, deletes, moves and folder renames since the cursor, then an empty feed', async () => {
    const { c } = remote();
    await c.write('feed/keep.txt', bufferSource(Buffer.from('k')));
    await c.write('feed/mod.txt', bufferSource(Buffer.from('m1')));
    await c.write('feed/del.txt', bufferSource(Buffer.from('d')));
    await c.write('feed/mv.txt', bufferSource(Buffer.from('v')));
    await c.write('feed/dir/inner.txt', bufferSource(Buffer.from('i')));
    await c.write('feed/gone/x.txt', bufferSource(Buffer.from('x')));
    const cursor = await c.changeCursor();
    expect((await drain(c.changes(cursor))).changed).toEqual([]);

    await c.write('feed/new.txt', bufferSource(Buffer.from('n')));
    await c.write('feed/mod.txt', bufferSource(Buffer.from('m2!')));
    await c.delete('feed/del.txt');
    await c.move('feed/mv.txt', 'feed/sub/moved.txt');
    await c.move('feed/dir', 'feed/dir2');
    await c.delete('feed/gone');
    const feed = await drain(c.changes(cursor));
    const changed = new Map(feed.changed.map((x) => [x.path, x]));
    for (const p of ['feed/new.txt', 'feed/mod.txt', 'feed/sub', 'feed/sub/moved.txt', 'feed/dir2', 'feed/dir2/inner.txt']) expect(changed.has(p), p).toBe(true);
    expect(changed.get('feed/mod.txt')).toMatchObject({ size: 3, hashes: { quickxor: Buffer.from(quickXorOf(Buffer.from('m2!')), 'base64').toString('hex') } });
    expect(changed.has('feed/keep.txt')).toBe(false);
    expect(feed.deleted.sort()).toEqual(['feed/del.txt', 'feed/dir', 'feed/gone', 'feed/gone/x.txt', 'feed/mv.txt'].sort());
    expect(feed.cursor).toBeDefined();
    const again = await drain(c.changes(feed.cursor!));
    expect(again).toMatchObject({ changed: [], deleted: [] });
    expect(again.cursor).toBeDefined();
  });

  it('change feed: a delta token Graph no longer takes (410 resyncRequired) is resync, and so is a cursor from elsewhere', async () => {
    const { c } = remote();
    const cursor = await c.changeCursor();
    e.faults.expireDeltaTokens();
    expect(await drain(c.changes(cursor))).toEqual({ changed: [], deleted: [], resync: true });
    expect(await drain(c.changes('not a cursor'))).toEqual({ changed: [], deleted: [], resync: true });
  });

  it('walks by delta on a personal drive, every entry once with the hashes Graph holds', async () => {
    const { c } = remote();
    const files = ['w/a.txt', 'w/b/c.txt', 'w/b/d/e.txt'];
    for (const f of files) await c.write(f, bufferSource(Buffer.from(f)));
    const before = e.stats.deltaRequests;
    const { entries } = await collect(c.walk('w'));
    expect(e.stats.deltaRequests).toBe(before + 1);
    expect(entries.map((x) => x.path).sort()).toEqual(['w/a.txt', 'w/b', 'w/b/c.txt', 'w/b/d', 'w/b/d/e.txt']);
    const hashed = entries.find((x) => x.path === 'w/b/c.txt')!;
    expect(hashed.hashes.quickxor).toBe(Buffer.from(quickXorOf(Buffer.from('w/b/c.txt')), 'base64').toString('hex'));
  });

  it('keeps the uploadUrl in the state only: never sent with the token, never in a message', async () => {
    const { c } = remote();
    const data = randomBytes(3 * CHUNK + 5);
    const states: UploadState[] = [];
    const err = await rejectionOf(() => c.write('sess/f.bin', bufferSource(data, { failAfter: 2 * CHUNK + 1 }), { chunkSize: CHUNK, onCheckpoint: (s) => void states.push(structuredClone(s)) }));
    const state = states.at(-1)!;
    expect(state.uploadUrl).toMatch(/\/__upload\//);
    expect(String((err as Error).message)).not.toContain(String(state.uploadUrl));
    // The session expired meanwhile: a new one from 0, the old URL named nowhere.
    e.faults.expireUploadSessions();
    const res = await c.write('sess/f.bin', bufferSource(data), { chunkSize: CHUNK, resume: state });
    expect(res.resumedFrom).toBe(0);
    expect((await readAll(await c.read('sess/f.bin'))).equals(data)).toBe(true);
    expect(e.stats.uploadUrlWithAuth).toBe(0);
    expect(e.stats.downloadUrlWithAuth).toBe(0);
  });

  it('is corrupt when Graph stores another quickXorHash than that of the bytes sent', async () => {
    const { c } = remote();
    // The resume state claims a hash of bytes that were never sent: the finished file disagrees.
    const data = randomBytes(2 * CHUNK + 1);
    const states: UploadState[] = [];
    await rejectionOf(() => c.write('corrupt/f.bin', bufferSource(data, { failAfter: CHUNK + 1 }), { chunkSize: CHUNK, onCheckpoint: (s) => void states.push(structuredClone(s)) }));
    const other = randomBytes(CHUNK);
    const { QuickXorHash } = await import('../../connectors/shared/quickxor.js');
    const h = new QuickXorHash();
    h.update(other);
    const forged = { ...states.at(-1)!, quickxor: h.snapshot() };
    await expectKind(() => c.write('corrupt/f.bin', bufferSource(data), { chunkSize: CHUNK, resume: forged }), 'corrupt');
  });

  it('reports the quota, and a full drive as quota_exceeded', async () => {
    const { c } = remote();
    const about = await c.about();
    expect(about).toMatchObject({ totalBytes: 1024 ** 4, unlimited: false });
    expect(about.usedBytes).toBeGreaterThan(0);
    e.faults.setQuotaFull(true);
    await expectKind(() => c.write('full/f.txt', bufferSource(Buffer.from('x'))), 'quota_exceeded');
    e.faults.setQuotaFull(false);
  });

  it('reads through a slow download at the capped rate', async () => {
    const { c } = remote();
    const data = randomBytes(256 * KiB);
    await c.write('slow/f.bin', bufferSource(data));
    e.faults.setBandwidth({ download: 512 * KiB });
    const t0 = Date.now();
    const got = await readAll(await c.read('slow/f.bin'));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(got.equals(data)).toBe(true);
  });

  it('stays alive through a slow upload (bandwidth cap on the upload URL), with progress as it goes', async () => {
    const { c } = remote();
    e.faults.setBandwidth({ upload: 640 * KiB });
    const data = randomBytes(2 * CHUNK + 10);
    const progress: number[] = [];
    const t0 = Date.now();
    const res = await c.write('slowup/f.bin', bufferSource(data, { piece: 32 * KiB }), { chunkSize: CHUNK, onProgress: (b) => void progress.push(b) });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(res.entry.size).toBe(data.length);
    expect(progress.length).toBeGreaterThan(10);
  });

  it('serves the OAuth authorize and token endpoints at login.microsoftonline.com paths (code, then refresh)', async () => {
    const redirect = 'http://127.0.0.1:1/callback';
    const auth = await fetch(`${e.url}/common/oauth2/v2.0/authorize?client_id=${e.clientId}&redirect_uri=${encodeURIComponent(redirect)}&response_type=code&state=s1&scope=Files.ReadWrite.All%20offline_access`, { redirect: 'manual' });
    expect(auth.status).toBe(302);
    const back = new URL(auth.headers.get('location')!);
    expect(back.searchParams.get('state')).toBe('s1');
    const form = (o: Record<string, string>) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(o).toString() });
    const token = await fetch(`${e.url}/common/oauth2/v2.0/token`, form({ grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: redirect, client_id: e.clientId, client_secret: e.clientSecret }));
    const body = (await token.json()) as { access_token: string; refresh_token: string };
    expect(token.status).toBe(200);
    const me = await fetch(`${e.url}/v1.0/me/drive`, { headers: { authorization: `Bearer ${body.access_token}` } });
    expect(((await me.json()) as { id: string }).id).toBe(e.driveId);
    const refreshed = await fetch(`${e.url}/common/oauth2/v2.0/token`, form({ grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: e.clientId, client_secret: e.clientSecret }));
    expect(refreshed.status).toBe(200);
    // Microsoft rotates refresh tokens: the old one is spent.
    const again = await fetch(`${e.url}/common/oauth2/v2.0/token`, form({ grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: e.clientId, client_secret: e.clientSecret }));
    expect(again.status).toBe(400);
    const other = await fetch(`${e.url}/__emulator/token`, { method: 'POST' });
    expect(((await other.json()) as { token: { access_token: string } }).token.access_token).toMatch(/^a-/);
  });

  it('copies server-side through the monitor, keeping the time; moves onto an existing file replace it', async () => {
    const { c } = remote();
    await c.write('cp/a.txt', bufferSource(Buffer.from('aaa'), { mtimeMs: 1_500_000_000_000 }));
    const copies = e.stats.copies;
    const entry = await c.copy('cp/a.txt', 'cp/b.txt');
    expect(e.stats.copies).toBe(copies + 1);
    expect(entry).toMatchObject({ path: 'cp/b.txt', size: 3, mtimeMs: 1_500_000_000_000 });
    await c.write('cp/c.txt', bufferSource(Buffer.from('c')));
    const moved = await c.move('cp/b.txt', 'cp/c.txt');
    expect(moved.size).toBe(3);
    expect((await readAll(await c.read('cp/c.txt'))).toString()).toBe('aaa');
  });
});

describe('onedrive drives: business, and SharePoint libraries by site URL', () => {
  let biz: OneDriveEmulator;
  beforeAll(async () => {
    biz = await startOneDriveEmulator({ driveType: 'business' });
  });
  afterAll(async () => biz.stop());

  it('opens a SharePoint site\'s library from its URL (GET /sites/{host}:/{path} then its drive)', async () => {
    const { driveId } = biz.addSite('https://contoso.sharepoint.com/sites/Team');
    const { token, clientSecret, driveId: _own, ...config } = biz.remoteConfig();
    const c = createOneDriveConnector({ ...(config as OneDriveConfig), siteUrl: 'https://contoso.sharepoint.com/sites/Team' }, { host: unrestrictedHost, remoteName: 'sp', credentials: memoryCredentials({ token, clientSecret }) });
    await c.write('Docs/report.txt', bufferSource(Buffer.from('r')));
    expect(biz.list(driveId).map((f) => f.path)).toEqual(['Docs', 'Docs/report.txt']);
    expect(biz.list().map((f) => f.path)).toEqual([]);
    expect((await c.client.resolved()).driveType).toBe('documentLibrary');
    const missing = createOneDriveConnector({ ...(config as OneDriveConfig), siteUrl: 'https://contoso.sharepoint.com/sites/Nope' }, { host: unrestrictedHost, remoteName: 'sp2', credentials: memoryCredentials({ token: biz.issueToken(), clientSecret }) });
    await expectKind(() => missing.stat(''), 'not_found');
    await c.close();
    await missing.close();
  });

  it('walks a business drive: by delta at the root (Graph gives no paths there), folder by folder below it', async () => {
    const { token, clientSecret, ...config } = biz.remoteConfig();
    const c = createOneDriveConnector(config as OneDriveConfig, { host: unrestrictedHost, remoteName: 'biz', credentials: memoryCredentials({ token, clientSecret }) });
    for (const f of ['t/a.txt', 't/b/c.txt']) await c.write(f, bufferSource(Buffer.from(f)));
    const d0 = biz.stats.deltaRequests;
    expect((await collect(c.walk(''))).entries.map((x) => x.path).sort()).toEqual(['t', 't/a.txt', 't/b', 't/b/c.txt']);
    expect(biz.stats.deltaRequests).toBe(d0 + 1);
    expect((await collect(c.walk('t'))).entries.map((x) => x.path).sort()).toEqual(['t/a.txt', 't/b', 't/b/c.txt']);
    expect(biz.stats.deltaRequests).toBe(d0 + 1);
    await c.close();
  });
});

describe('onedrive remote config', () => {
  it('takes the emulator\'s remoteConfig as a remote\'s config, keeps the token and client secret apart, and opens on what is stored', async () => {
    const e = await startOneDriveEmulator();
    try {
      const config = e.remoteConfig();
      const parsed = onedriveDefinition.configSchema.parse(config) as Record<string, unknown>;
      expect([...onedriveDefinition.secretKeys].sort()).toEqual(['clientSecret', 'token']);
      const settings = onedriveDefinition.settingsSchema.parse(Object.fromEntries(Object.entries(parsed).filter(([k]) => !onedriveDefinition.secretKeys.includes(k))));
      const secrets = onedriveDefinition.secretsSchema.parse({ token: config.token, clientSecret: config.clientSecret });
      const c = onedriveDefinition.create(settings, { host: unrestrictedHost, remoteName: 'cfg', credentials: memoryCredentials(secrets) });
      await c.write('cfg.txt', bufferSource(Buffer.from('cfg')));
      expect(e.list().map((f) => f.path)).toEqual(['cfg.txt']);
      await c.close();
      expect(onedriveDefinition.configSchema.safeParse({ ...config, siteUrl: 'https://contoso.sharepoint.com/sites/Team' }).success).toBe(false);
      expect(onedriveDefinition.configSchema.safeParse({ ...config, region: 'mars' }).success).toBe(false);
    } finally {
      await e.stop();
    }
  });

  it('points a region at its national cloud, as rclone\'s region option', async () => {
    const c = createOneDriveConnector({ region: 'us' }, { host: unrestrictedHost, remoteName: 'us', credentials: memoryCredentials({}) });
    expect(c.client.apiUrl).toBe('https://graph.microsoft.us/v1.0');
    await c.close();
    expect(onedriveOAuth('cn').tokenUrl).toBe('https://login.chinacloudapi.cn/common/oauth2/v2.0/token');
    expect(onedriveOAuth().authUrl).toBe('https://login.microsoftonline.com/common/oauth2/v2.0/authorize');
  });
});
