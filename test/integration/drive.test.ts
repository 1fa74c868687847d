/**
 * The Drive connector against the Drive emulator (test/fakes/drive): throttling and the daily
 * upload cap, tokens, the change feed, listing notices and what only Drive has (shared drives, a
 * folder as root, Google Docs, `/` in names, the trash).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Entry } from '../../core/entry.js';
import { createDriveConnector, type DriveConfig, type DriveConnector, type DriveUploadState } from '../../connectors/drive/index.js';
import { driveConfigSchema } from '../../connectors/drive/definition.js';
import { dailyQuotaWaitMs } from '../../connectors/drive/errors.js';
import { unrestrictedHost, type ChangeBatch, type ListNotice, type UploadState } from '../../connectors/types.js';
import { startDriveEmulator, type DriveEmulator } from '../fakes/drive/index.js';
import { bufferSource, collect, expectKind, KiB, md5, readAll, rejectionOf } from '../conformance/suite.js';
import { memoryCredentials } from '../support/memoryCredentials.js';

let e: DriveEmulator;
const open: DriveConnector[] = [];

beforeAll(async () => {
  e = await startDriveEmulator();
});
afterEach(() => e.faults.reset());
afterAll(async () => {
  for (const c of open) await c.close();
  await e.stop();
});

function connect(extra: Partial<DriveConfig> & { account?: string } = {}, opts: { now?: () => number } = {}) {
  const { account, ...config } = extra;
  const { token, clientSecret, ...settings } = e.remoteConfig({ account });
  const credentials = memoryCredentials({ token, clientSecret });
  const c = createDriveConnector({ ...(settings as DriveConfig), ...config }, { host: unrestrictedHost, remoteName: 'gd', credentials }, opts);
  open.push(c);
  return { c, credentials };
}

const paths = (entries: Entry[]) => entries.map((x) => `${x.path}${x.isDir ? '/' : ''}`).sort();

async function drain(it: AsyncIterable<ChangeBatch>): Promise<ChangeBatch[]> {
  const out: ChangeBatch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('drive config', () => {
  it('takes the emulator\'s remoteConfig as a remote config, and refuses a bad export format', () => {
    expect(driveConfigSchema.safeParse(e.remoteConfig()).success).toBe(true);
    expect(driveConfigSchema.safeParse({ ...e.remoteConfig(), exportFormats: { document: 'pdf', spreadsheet: 'skip' } }).success).toBe(true);
    const bad = driveConfigSchema.safeParse({ ...e.remoteConfig(), exportFormats: { document: 'xlsx' } });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toMatch(/exportFormats.document must be one of skip, docx/);
  });
});

describe('drive throttling and the daily upload cap', () => {
  // A fresh connector per case: each throttle slows its connector's pacer for a while.
  it('429 with Retry-After: throttled for that long; without: throttled for a second, and a GET rides a short one out', async () => {
    await connect().c.mkdir('throttle');
    e.faults.throttle(1, { retryAfterSec: 30, roles: ['list'] });
    const err = await expectKind(() => connect().c.stat('throttle/x'), 'throttled');
    expect(err).toMatchObject({ retryAfterMs: 30_000, scope: 'request', status: 429 });
    const { c } = connect();
    await c.stat('throttle');
    e.faults.throttle(1, { roles: ['metadata'] });
    const post = await expectKind(() => c.mkdir('throttle/sub'), 'throttled');
    expect(post).toMatchObject({ retryAfterMs: 1000, scope: 'request', status: 429 });
    e.faults.throttle(2, { retryAfterSec: 0, roles: ['list'] });
    expect((await connect().c.stat('throttle')).isDir).toBe(true);
  });

  it('403 rateLimitExceeded and userRateLimitExceeded (any other message) are throttled per request', async () => {
    const { c } = connect();
    e.faults.throttle(1, { status: 403, reason: 'rateLimitExceeded', roles: ['upload'] });
    expect(await expectKind(() => c.write('rl/a', bufferSource(Buffer.from('a'))), 'throttled')).toMatchObject({ scope: 'request', status: 403, retryAfterMs: 1000 });
    e.faults.throttle(1, { status: 403, reason: 'userRateLimitExceeded', roles: ['upload'] });
    expect(await expectKind(() => c.write('rl/b', bufferSource(Buffer.from('b'))), 'throttled')).toMatchObject({ scope: 'request' });
    // The cap's exact words on a request that is no upload: a rate limit like any other.
    e.faults.throttle(1, { status: 403, reason: 'userRateLimitExceeded', message: 'User rate limit exceeded.', roles: ['list'] });
    expect(await expectKind(() => c.stat('rl/nothing'), 'throttled')).toMatchObject({ scope: 'request' });
  });

  it('the cap ("User rate limit exceeded." on an upload) is throttled daily_quota until UTC midnight, probed at least hourly', async () => {
    expect(dailyQuotaWaitMs(Date.UTC(2026, 5, 1, 23, 30))).toBe(30 * 60_000);
    expect(dailyQuotaWaitMs(Date.UTC(2026, 5, 1, 10, 0))).toBe(3_600_000);
    const lateEvening = Date.UTC(2026, 5, 1, 23, 40);
    const { c } = connect({}, { now: () => lateEvening });
    e.faults.dailyQuota(300 * KiB);
    await c.write('quota/one.bin', bufferSource(randomBytes(200 * KiB)));
    const err = await expectKind(() => c.write('quota/two.bin', bufferSource(randomBytes(200 * KiB))), 'throttled');
    expect(err).toMatchObject({ scope: 'daily_quota', status: 403, retryAfterMs: 20 * 60_000 });
    expect(err.message).toMatch(/userRateLimitExceeded/);
    e.faults.resetQuota();
    expect((await c.write('quota/two.bin', bufferSource(randomBytes(200 * KiB)))).entry.size).toBe(200 * KiB);
  });

  it('the cap in the middle of a resumable upload: the next day it goes on from what Drive holds', async () => {
    const { c } = connect();
    const data = randomBytes(8 * 256 * KiB + 99);
    const checkpoints: UploadState[] = [];
    e.faults.dailyQuota(3 * 256 * KiB, 'uploadLimitExceeded');
    const err = await expectKind(() => c.write('quota/big.bin', bufferSource(data), { chunkSize: 256 * KiB, onCheckpoint: (s) => void checkpoints.push(structuredClone(s)) }), 'throttled');
    expect(err).toMatchObject({ scope: 'daily_quota' });
    expect(err.retryAfterMs).toBeLessThanOrEqual(3_600_000);
    const last = checkpoints.at(-1) as DriveUploadState;
    expect(last.offset).toBe(3 * 256 * KiB);
    // The next day, with room for the rest.
    e.faults.resetQuota();
    e.faults.dailyQuota(10 * 1024 * KiB);
    const before = e.stats.uploadBytes;
    const res = await c.write('quota/big.bin', bufferSource(data), { chunkSize: 256 * KiB, resume: last });
    expect(res.resumedFrom).toBe(3 * 256 * KiB);
    expect(e.stats.uploadBytes - before).toBe(data.length - 3 * 256 * KiB);
    expect(res.entry.hashes.md5).toBe(md5(data));
  });

  it('a throttling period refuses every request until it ends', async () => {
    const { c } = connect();
    await c.mkdir('period');
    e.faults.throttle(1, { forMs: 400, retryAfterSec: 30, roles: ['list'] });
    await expectKind(() => connect().c.stat('period'), 'throttled');
    await expectKind(() => connect().c.stat('period'), 'throttled');
    await new Promise((r) => setTimeout(r, 450));
    expect((await connect().c.stat('period')).isDir).toBe(true);
  });

  it('a download over the day\'s download quota (downloadQuotaExceeded) is throttled daily_quota', async () => {
    const { c } = connect({}, { now: () => Date.UTC(2026, 5, 1, 23, 0) });
    const data = randomBytes(200 * KiB);
    await c.write('dlquota/f.bin', bufferSource(data));
    e.faults.dailyDownloadQuota(100 * KiB);
    expect((await readAll(await c.read('dlquota/f.bin'))).equals(data)).toBe(true);
    expect(await expectKind(() => c.read('dlquota/f.bin'), 'throttled')).toMatchObject({ scope: 'daily_quota', retryAfterMs: 3_600_000 });
    e.faults.resetQuota();
    expect((await readAll(await c.read('dlquota/f.bin'))).equals(data)).toBe(true);
  });

  it('a session Drive forgot (404) starts again from the first byte', async () => {
    const { c } = connect();
    const data = randomBytes(4 * 256 * KiB + 7);
    const checkpoints: UploadState[] = [];
    e.faults.cutUploadAfter(2 * 256 * KiB + 5);
    await rejectionOf(() => c.write('expired/f.bin', bufferSource(data), { chunkSize: 256 * KiB, onCheckpoint: (s) => void checkpoints.push(structuredClone(s)) }));
    e.faults.expireUploadSessions();
    const source = bufferSource(data);
    const res = await c.write('expired/f.bin', source, { chunkSize: 256 * KiB, resume: checkpoints.at(-1) });
    expect(res.resumedFrom).toBe(0);
    expect(source.opens).toEqual([0]);
    expect(res.hashes.md5).toBe(md5(data));
  });

  it('paces a slow upload with progress as it goes', async () => {
    const { c } = connect();
    e.faults.bandwidth({ upload: 512 * KiB });
    const progress: number[] = [];
    const t0 = Date.now();
    await c.write('slow/f.bin', bufferSource(randomBytes(1024 * KiB), { piece: 32 * KiB }), { chunkSize: 256 * KiB, onProgress: (b) => void progress.push(b) });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    expect(progress.length).toBeGreaterThan(10);
  });

  it('takes faults and issues tokens over HTTP too', async () => {
    const post = (path: string, body: unknown) => fetch(`${e.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const tok = (await (await post('/__emulator/token', {})).json()) as { token: { access_token: string; refresh_token: string } };
    expect(tok.token.refresh_token).toMatch(/^r-/);
    expect((await post('/__emulator/faults', { throttle: { count: 1, retryAfterSec: 7, roles: ['about'] } })).status).toBe(200);
    const { c } = connect();
    expect(await expectKind(() => c.about(), 'throttled')).toMatchObject({ retryAfterMs: 7000 });
    expect((await post('/__emulator/faults', { dailyQuota: 10, resetQuota: true })).status).toBe(200);
    expect(e.faults.quotaBytes).toBe(10);
    expect((await post('/__emulator/faults', { nonsense: 1 })).status).toBe(400);
  });
});

describe('drive tokens', () => {
  it('refreshes an access token the server expired early, once', async () => {
    const { c, credentials } = connect();
    await c.mkdir('tokens');
    const before = e.oauth.stats.refreshes;
    e.faults.expireAccessTokens();
    expect((await c.stat('tokens')).isDir).toBe(true);
    expect(e.oauth.stats.refreshes).toBe(before + 1);
    expect(credentials.snapshot()).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
    expect((await c.stat('tokens')).isDir).toBe(true);
    expect(e.oauth.stats.refreshes).toBe(before + 1);
  });

  it('a revoked account is auth, with a message that says to reconnect (and no secret in it)', async () => {
    const { c, credentials } = connect({ account: 'leaver' });
    await c.mkdir('revoked');
    e.faults.revoke('leaver');
    const err = await expectKind(() => c.stat('revoked'), 'auth');
    expect(err.message).toMatch(/Google Drive refused the credentials of remote "gd".*Reconnect the account/s);
    const stored = credentials.snapshot();
    for (const s of [stored.accessToken, stored.refreshToken, e.clientSecret]) expect(err.message).not.toContain(String(s));
  });
});

describe('drive change feed', () => {
  it('reports creates, modifications, trashed files, moved files and new folders since a cursor', async () => {
    const { c } = connect();
    await c.write('feed/keep.txt', bufferSource(Buffer.from('keep')));
    await c.write('feed/edit.txt', bufferSource(Buffer.from('one')));
    await c.write('feed/gone.txt', bufferSource(Buffer.from('gone')));
    await c.write('feed/move-me.txt', bufferSource(Buffer.from('move')));
    await c.mkdir('feed/old-dir');
    const cursor = await c.changeCursor();
    await c.write('feed/new.txt', bufferSource(Buffer.from('new')));
    await c.write('feed/edit.txt', bufferSource(Buffer.from('two!')));
    await c.delete('feed/gone.txt');
    await c.move('feed/move-me.txt', 'feed/old-dir/moved.txt');
    await e.seed('feed/fresh/a/deep.txt', 'deep');
    await e.seed('outside/not-mine.txt', 'x');
    const rooted = connect({ rootFolderId: e.item('feed')?.id }).c;
    const batches = await drain(rooted.changes(await rooted.changeCursor()));
    expect(batches).toEqual([{ changed: [], deleted: [], cursor: expect.any(String) }]);

    const all = await drain(c.changes(cursor));
    const last = all.at(-1) as ChangeBatch;
    expect(last.cursor).toMatch(/^\d+@\d+$/);
    expect(all.some((b) => b.resync)).toBe(false);
    const changed = new Map(all.flatMap((b) => b.changed).map((x) => [x.path, x]));
    expect([...changed.keys()].sort()).toEqual(['feed/edit.txt', 'feed/fresh', 'feed/fresh/a', 'feed/fresh/a/deep.txt', 'feed/new.txt', 'feed/old-dir/moved.txt', 'outside', 'outside/not-mine.txt'].sort());
    expect(changed.get('feed/edit.txt')).toMatchObject({ size: 4, hashes: { md5: md5(Buffer.from('two!')) } });
    expect(all.flatMap((b) => b.deleted)).toEqual(['feed/gone.txt']);
    // Nothing since: an empty feed with a cursor to go on from.
    expect(await drain(c.changes(last.cursor as string))).toEqual([{ changed: [], deleted: [], cursor: expect.any(String) }]);
  });

  it('only paths below the remote\'s root, relative to it', async () => {
    await e.seed('scoped/in/a.txt', 'a');
    const { c } = connect({ rootFolderId: e.item('scoped')?.id });
    const cursor = await c.changeCursor();
    await e.seed('scoped/in/a.txt', 'changed');
    await e.seed('elsewhere/b.txt', 'b');
    const all = await drain(c.changes(cursor));
    expect(all.flatMap((b) => b.changed).map((x) => x.path)).toEqual(['in/a.txt']);
  });

  it('asks for a walk (resync) when a path cannot be known: a folder renamed, an item deleted for good, a forgotten cursor', async () => {
    const { c } = connect();
    await e.seed('resync/dir/f.txt', 'f');
    await e.seed('resync/g.txt', 'g');
    let cursor = await c.changeCursor();
    e.move('resync/dir', 'resync/renamed');
    expect(await drain(c.changes(cursor))).toEqual([{ changed: [], deleted: [], resync: true }]);
    cursor = await c.changeCursor();
    e.remove('resync/g.txt', { permanent: true });
    expect(await drain(c.changes(cursor))).toEqual([{ changed: [], deleted: [], resync: true }]);
    cursor = await c.changeCursor();
    e.faults.expireChangeTokens();
    expect(await drain(c.changes(cursor))).toEqual([{ changed: [], deleted: [], resync: true }]);
    expect(await drain(c.changes('garbage'))).toEqual([{ changed: [], deleted: [], resync: true }]);
  });

  it('pages a long feed and settles duplicate names as the listing does', async () => {
    const { c } = connect();
    const cursor = await c.changeCursor();
    e.faults.shortPages(3);
    for (let i = 0; i < 8; i++) await e.seed(`feedpages/f${i}.txt`, `v${i}`);
    await e.seed('feedpages/dup.txt', 'older', { mtime: Date.UTC(2020, 0, 1) });
    await e.seed('feedpages/dup.txt', 'newer!', { mtime: Date.UTC(2021, 0, 1), duplicate: true });
    const notices: ListNotice[] = [];
    const all = await drain(c.changes(cursor, { onNotice: (n) => void notices.push(n) }));
    expect(all.length).toBeGreaterThan(2);
    expect(all.slice(0, -1).every((b) => b.cursor === undefined)).toBe(true);
    const changed = all.flatMap((b) => b.changed);
    expect(changed.find((x) => x.path === 'feedpages/dup.txt')).toMatchObject({ size: 6 });
    expect(notices.some((n) => n.kind === 'duplicate' && n.path === 'feedpages/dup.txt')).toBe(true);
  });
});

describe('drive listings: notices, docs, names', () => {
  it('lists one of duplicate names (the most recently modified) and reports the others', async () => {
    const { c } = connect();
    await e.seed('dups/same.txt', 'old one', { mtime: Date.UTC(2020, 0, 1) });
    await e.seed('dups/same.txt', 'new one!', { mtime: Date.UTC(2022, 0, 1), duplicate: true });
    await e.seed('dups/same.txt', 'middle', { mtime: Date.UTC(2021, 0, 1), duplicate: true });
    const notices: ListNotice[] = [];
    const { entries } = await collect(c.list('dups', { onNotice: (n) => void notices.push(n) }));
    expect(entries).toEqual([{ path: 'dups/same.txt', isDir: false, size: 8, mtimeMs: Date.UTC(2022, 0, 1), hashes: { md5: md5(Buffer.from('new one!')) } }]);
    expect(notices).toEqual([{ path: 'dups/same.txt', kind: 'duplicate', message: expect.stringMatching(/3 items .* the other 2/) }]);
    expect((await readAll(await c.read('dups/same.txt'))).toString()).toBe('new one!');
    const walked: ListNotice[] = [];
    await collect(c.walk('dups', { onNotice: (n) => void walked.push(n) }));
    expect(walked.map((n) => n.kind)).toEqual(['duplicate']);
  });

  it('exports Google Docs, Sheets and Slides (size -1 until read), skips shortcuts and forms, and reports each', async () => {
    const { c } = connect();
    e.createGoogleDoc('docs/Report', 'document', { text: 'quarterly' });
    e.createGoogleDoc('docs/Budget', 'spreadsheet');
    e.createGoogleDoc('docs/Deck', 'presentation');
    e.createGoogleDoc('docs/Survey', 'form');
    await e.seed('docs/plain.bin', 'plain');
    e.createShortcut('docs/link to plain', 'docs/plain.bin');
    const notices: ListNotice[] = [];
    const { entries } = await collect(c.list('docs', { onNotice: (n) => void notices.push(n) }));
    expect(entries.map((x) => [x.path, x.size]).sort()).toEqual([['docs/Budget.xlsx', -1], ['docs/Deck.pptx', -1], ['docs/Report.docx', -1], ['docs/plain.bin', 5]]);
    expect(notices.filter((n) => n.kind === 'exported').map((n) => n.path).sort()).toEqual(['docs/Budget.xlsx', 'docs/Deck.pptx', 'docs/Report.docx']);
    expect(notices.filter((n) => n.kind === 'skipped').map((n) => n.path).sort()).toEqual(['docs/Survey', 'docs/link to plain']);
    const docx = await readAll(await c.read('docs/Report.docx'));
    expect(docx.equals(await e.readFile('docs/Report', { exportMime: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' }))).toBe(true);
    expect(docx.toString()).toContain('quarterly');
    expect((await readAll(await c.read('docs/Report.docx', { offset: 5, length: 10 }))).equals(docx.subarray(5, 15))).toBe(true);
    expect(await c.stat('docs/Report.docx')).toMatchObject({ size: -1, hashes: {} });

    const pdf = connect({ exportFormats: { document: 'pdf', spreadsheet: 'skip' } }).c;
    const n2: ListNotice[] = [];
    const listed = await collect(pdf.list('docs', { onNotice: (n) => void n2.push(n) }));
    expect(listed.entries.map((x) => x.path).sort()).toEqual(['docs/Deck.pptx', 'docs/Report.pdf', 'docs/plain.bin']);
    expect(n2.find((n) => n.path === 'docs/Budget')?.kind).toBe('skipped');
    const none = connect({ exportFormats: 'skip' }).c;
    expect((await collect(none.list('docs'))).entries.map((x) => x.path)).toEqual(['docs/plain.bin']);
  });

  it('shows a "/" in a Drive name as "／" and writes it back as "/", as rclone does', async () => {
    const { c } = connect();
    await e.seed('slash/a', 'x');
    e.move('slash/a', 'slash/ignored');
    const item = e.item('slash/ignored');
    e.store.update(item as NonNullable<typeof item>, { name: 'AC/DC' });
    const { entries } = await collect(c.list('slash'));
    expect(entries.map((x) => x.path)).toEqual(['slash/AC／DC']);
    expect((await readAll(await c.read('slash/AC／DC'))).toString()).toBe('x');
    await c.write('slash/1／2 and ‛quote', bufferSource(Buffer.from('y')));
    expect(e.list().filter((x) => x.path.startsWith('slash/')).map((x) => x.path).sort()).toEqual(['slash/1/2 and ‛quote', 'slash/AC/DC'].sort());
    expect((await collect(c.list('slash'))).entries.map((x) => x.path).sort()).toEqual(['slash/1／2 and ‛‛quote', 'slash/AC／DC'].sort());
  });

  it('walks by batches of folders: far fewer list requests than folders, with fields cut to what planning needs', async () => {
    const { c } = connect();
    for (let i = 0; i < 30; i++) await e.seed(`batches/d${i}/sub/f.txt`, `f${i}`);
    const start = e.log.length;
    const { entries } = await collect(c.walk('batches'));
    expect(entries.filter((x) => x.isDir)).toHaveLength(60);
    expect(entries.filter((x) => !x.isDir)).toHaveLength(30);
    const lists = e.log.slice(start).filter((l) => l.role === 'list');
    expect(lists.length).toBeLessThanOrEqual(6);
    const q = new URLSearchParams(lists.at(-1)?.query);
    expect(q.get('pageSize')).toBe('1000');
    expect(q.get('fields')).toBe('nextPageToken,files(id,name,mimeType,size,md5Checksum,modifiedTime,parents)');
    expect(q.get('q')).toMatch(/^\('[^']+' in parents or '[^']+' in parents/);
  });

  it('reads a folder\'s files by the ids of one listing of it per batch; a file deleted or replaced since is looked up again', async () => {
    const { c } = connect();
    for (let i = 0; i < 20; i++) await e.seed(`reads/d/f${i}.txt`, `file ${i}`);
    // One batch of a copy: its reads share a signal.
    const signal = new AbortController().signal;
    const read = async (p: string, s = signal) => (await readAll(await c.read(p, { signal: s }))).toString();
    const start = e.log.length;
    for (let i = 0; i < 20; i++) expect(await read(`reads/d/f${i}.txt`)).toBe(`file ${i}`);
    const log = e.log.slice(start);
    // The folders on the way are looked up once, the folder listed once; then one GET per file.
    expect(log.filter((l) => l.role === 'list').length).toBeLessThanOrEqual(3);
    expect(log.filter((l) => l.method === 'GET' && new URLSearchParams(l.query).get('alt') === 'media')).toHaveLength(20);

    // Changed by someone else after the listing. Trashed: its id still reads within the batch, as
    // it was after the plan (and as rclone reads by its listing). Another batch lists afresh.
    e.remove('reads/d/f1.txt');
    expect(await read('reads/d/f1.txt')).toBe('file 1');
    await expectKind(() => read('reads/d/f1.txt', new AbortController().signal), 'not_found');
    // Deleted for good, or replaced by a new file: looked up afresh.
    e.remove('reads/d/f2.txt', { permanent: true });
    await expectKind(() => read('reads/d/f2.txt'), 'not_found');
    e.remove('reads/d/f3.txt', { permanent: true });
    await e.seed('reads/d/f3.txt', 'file 3, new');
    expect(await read('reads/d/f3.txt')).toBe('file 3, new');
    // A stat (a copy checks its source with one) is what later reads go by, even of a file only trashed.
    e.remove('reads/d/f4.txt');
    await e.seed('reads/d/f4.txt', 'file 4, new');
    expect((await c.stat('reads/d/f4.txt')).size).toBe('file 4, new'.length);
    expect(await read('reads/d/f4.txt')).toBe('file 4, new');
    // Deleted, rewritten or moved through this connector: at once.
    await c.delete('reads/d/f5.txt');
    await expectKind(() => read('reads/d/f5.txt'), 'not_found');
    await c.write('reads/d/f6.txt', bufferSource(Buffer.from('file 6, rewritten')));
    expect(await read('reads/d/f6.txt')).toBe('file 6, rewritten');
    await c.move('reads/d/f7.txt', 'reads/d/f8.txt');
    await expectKind(() => read('reads/d/f7.txt'), 'not_found');
    expect(await read('reads/d/f8.txt')).toBe('file 7');
  });

  it('deletes to the trash by default, for good when asked', async () => {
    const { c } = connect();
    await c.write('trash/soft.txt', bufferSource(Buffer.from('soft')));
    await c.write('trash/hard.txt', bufferSource(Buffer.from('hard')));
    await c.delete('trash/soft.txt');
    await c.delete('trash/hard.txt', { permanent: true });
    const all = e.list({ includeTrashed: true }).filter((x) => x.path.startsWith('trash/'));
    expect(all.map((x) => [x.path, x.trashed])).toEqual([['trash/soft.txt', true]]);
  });
});

describe('drive roots', () => {
  it('roots a remote at a folder id', async () => {
    await e.seed('rooted/inside/a.txt', 'a');
    const { c } = connect({ rootFolderId: e.item('rooted')?.id });
    expect(paths((await collect(c.walk(''))).entries)).toEqual(['inside/', 'inside/a.txt']);
    await c.write('b.txt', bufferSource(Buffer.from('b')));
    expect(e.item('rooted/b.txt')).toBeDefined();
    const missing = connect({ rootFolderId: 'nope' }).c;
    expect((await expectKind(() => missing.stat(''), 'not_found')).message).toMatch(/root folder "nope" does not exist/);
  });

  it('works in a shared drive (supportsAllDrives, driveId): list, write, read, changes', async () => {
    const driveId = e.addSharedDrive('Team');
    await e.seed('team/plan.txt', 'plan', { driveId });
    const { c } = connect({ driveId });
    expect(paths((await collect(c.walk(''))).entries)).toEqual(['team/', 'team/plan.txt']);
    const cursor = await c.changeCursor();
    await c.write('team/new.bin', bufferSource(randomBytes(300 * KiB)), { chunkSize: 256 * KiB });
    await e.seed('my-drive-only.txt', 'x');
    expect(e.list({ driveId }).map((x) => x.path).sort()).toEqual(['team', 'team/new.bin', 'team/plan.txt']);
    const all = await drain(c.changes(cursor));
    expect(all.flatMap((b) => b.changed).map((x) => x.path)).toEqual(['team/new.bin']);
    // My Drive does not see the shared drive's items.
    const mine = connect().c;
    await expectKind(() => mine.stat('team'), 'not_found');
    expect(await mine.about()).toMatchObject({ unlimited: false, totalBytes: 15 * 1024 ** 3 });
  });
});
