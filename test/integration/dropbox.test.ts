/**
 * The Dropbox connector against its emulator (test/fakes/dropbox): throttling, token refresh and
 * revocation, the change feed, notices, and what is Dropbox's own (batched commits, content
 * hashes, case, names, the Dropbox-API-Arg escaping, concurrent sessions, quota, slow links).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Entry } from '../../core/entry.js';
import { dropboxContentHash } from '../../connectors/shared/dropboxHash.js';
import { dropboxDefinition } from '../../connectors/dropbox/definition.js';
import { createDropboxConnector, type DropboxConfig, type DropboxConnector } from '../../connectors/dropbox/index.js';
import { isConnectorError } from '../../connectors/errors.js';
import { unrestrictedHost, type ChangeBatch, type ListNotice, type UploadState } from '../../connectors/types.js';
import { startDropboxEmulator, type DropboxEmulator } from '../fakes/dropbox/index.js';
import { bufferSource, collect, expectKind, KiB, readAll, rejectionOf } from '../conformance/suite.js';
import { memoryCredentials, type MemoryCredentialStore } from '../support/memoryCredentials.js';

const MiB = 1024 * KiB;

describe('dropbox connector against the emulator', () => {
  let e: DropboxEmulator;
  const open: DropboxConnector[] = [];

  /** A connector on its own account, so faults and contents of one test stay apart. */
  function remote(name = `acct${open.length}${randomBytes(3).toString('hex')}`): { c: DropboxConnector; creds: MemoryCredentialStore; account: string } {
    const { token, clientSecret, ...settings } = e.remoteConfig(name);
    const creds = memoryCredentials({ token, clientSecret });
    // A batch goes once every write under way has queued its commit; the long delay keeps the
    // timer, which depends on the machine's speed, out of the tests' batch counts.
    const c = createDropboxConnector(settings as DropboxConfig, { host: unrestrictedHost, remoteName: `dbx-${name}`, credentials: creds }, { batchDelayMs: 30_000 });
    open.push(c);
    return { c, creds, account: name };
  }

  const put = (c: DropboxConnector, path: string, data: Buffer, mtimeMs?: number) => c.write(path, bufferSource(data, { mtimeMs }));

  beforeAll(async () => {
    e = await startDropboxEmulator({ pageSize: 7 });
  });
  afterEach(() => e.faults.reset());
  afterAll(async () => {
    for (const c of open) await c.close();
    await e.stop();
  });

  describe('the definition', () => {
    it("takes the emulator's remoteConfig as a remote's config: the token and client secret are the secrets, the rest opens a working connector", async () => {
      const account = `def${randomBytes(3).toString('hex')}`;
      const config = dropboxDefinition.configSchema.parse(e.remoteConfig(account)) as Record<string, unknown>;
      expect([...dropboxDefinition.secretKeys].sort()).toEqual(['clientSecret', 'token']);
      const settings = dropboxDefinition.settingsSchema.parse(Object.fromEntries(Object.entries(config).filter(([k]) => !dropboxDefinition.secretKeys.includes(k))));
      const c = dropboxDefinition.create(settings, { host: unrestrictedHost, remoteName: 'def', credentials: memoryCredentials({ token: config.token, clientSecret: config.clientSecret }) });
      await c.write('via-definition.txt', bufferSource(Buffer.from('ok')));
      expect(e.list(account).map((x) => x.path)).toEqual(['/via-definition.txt']);
      await c.close();
      expect(dropboxDefinition.oauth).toMatchObject({ envPrefix: 'DROPBOX', authParams: { token_access_type: 'offline' } });
      expect(() => dropboxDefinition.configSchema.parse({ apiUrl: 'ftp://x' })).toThrow(/apiUrl/);
    });
  });

  describe('throttling', () => {
    it('a 429 with Retry-After is throttled with retryAfterMs; the JSON retry_after counts as well', async () => {
      const { c } = remote();
      e.faults.throttle(1, { retryAfterSec: 30, routes: ['files/create_folder_v2'] });
      const err = await expectKind(() => c.mkdir('t'), 'throttled');
      expect(err).toMatchObject({ retryAfterMs: 30_000, scope: 'account', status: 429 });
      e.faults.throttle(1, { retryAfterSec: 12, jsonOnly: true, routes: ['files/create_folder_v2'] });
      expect(await expectKind(() => c.mkdir('t'), 'throttled')).toMatchObject({ retryAfterMs: 12_000 });
      e.faults.throttle(1, { reason: 'too_many_write_operations', routes: ['files/create_folder_v2'] });
      const bare = await expectKind(() => c.mkdir('t'), 'throttled');
      expect(bare.retryAfterMs).toBeUndefined();
      expect(bare.message).toMatch(/too many writes/);
    });

    it('a short Retry-After on a read is waited out once; a long one goes to the engine', async () => {
      const { c } = remote();
      await c.mkdir('r');
      e.faults.throttle(1, { retryAfterSec: 0, routes: ['files/get_metadata'] });
      expect((await c.stat('r')).isDir).toBe(true);
      e.faults.throttle(1, { retryAfterSec: 60, routes: ['files/list_folder'] });
      expect(await expectKind(() => collect(c.list('r')), 'throttled')).toMatchObject({ retryAfterMs: 60_000 });
    });

    it('a throttled batch fails each of its writes as throttled; the next attempt commits them', async () => {
      const { c } = remote();
      e.faults.throttle(1, { retryAfterSec: 5, reason: 'too_many_write_operations', routes: ['files/upload_session/finish_batch_v2'] });
      const results = await Promise.allSettled([1, 2, 3].map((i) => put(c, `b/${i}.txt`, Buffer.from(`f${i}`))));
      for (const r of results) expect(r.status === 'rejected' && isConnectorError(r.reason, 'throttled') && r.reason.retryAfterMs === 5000).toBe(true);
      await Promise.all([1, 2, 3].map((i) => put(c, `b/${i}.txt`, Buffer.from(`f${i}`))));
      expect((await collect(c.list('b'))).entries.map((x) => x.path)).toEqual(['b/1.txt', 'b/2.txt', 'b/3.txt']);
    });

    it('a 503 is transient', async () => {
      const { c } = remote();
      e.faults.throttle(1, { status: 503, routes: ['files/create_folder_v2'] });
      await expectKind(() => c.mkdir('x'), 'transient');
    });
  });

  describe('tokens', () => {
    it('an expired access token is refreshed once, and the request goes through', async () => {
      const { c, creds } = remote();
      await c.mkdir('tok');
      const refreshes = e.oauth.stats.refreshes;
      e.faults.expireTokens();
      expect((await c.stat('tok')).isDir).toBe(true);
      expect(e.oauth.stats.refreshes).toBe(refreshes + 1);
      expect(c.auth.stats.refreshes).toBe(1);
      expect(creds.snapshot()).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
      await c.stat('tok');
      expect(e.oauth.stats.refreshes).toBe(refreshes + 1);
    });

    it('a revoked account is auth, telling the user to reconnect the remote', async () => {
      const { c, account } = remote();
      await c.mkdir('rev');
      e.faults.revoke(account);
      const err = await expectKind(() => c.stat('rev'), 'auth');
      expect(err.message).toMatch(/Dropbox refused the credentials of remote "dbx-.*".*Reconnect/s);
      expect(err.message).not.toMatch(/r-[A-Za-z0-9_-]{20}/);
    });
  });

  describe('the change feed', () => {
    const paths = (b: ChangeBatch[]) => ({
      changed: b.flatMap((x) => x.changed.map((en) => `${en.path}${en.isDir ? '/' : ''}`)).sort(),
      deleted: b.flatMap((x) => x.deleted).sort(),
    });

    it('reports creates, modifications, deletes and moves since the cursor, in pages, and a cursor to go on from', async () => {
      const { c, account } = remote();
      await put(c, 'keep/same.txt', Buffer.from('same'));
      await put(c, 'keep/mod.txt', Buffer.from('v1'));
      await put(c, 'gone.txt', Buffer.from('x'));
      await put(c, 'dir/a.txt', Buffer.from('a'));
      await put(c, 'dir/sub/b.txt', Buffer.from('b'));
      const cursor = await c.changeCursor();

      await put(c, 'keep/mod.txt', Buffer.from('v2'));
      await put(c, 'new/n.txt', Buffer.from('n'));
      await c.delete('gone.txt');
      await c.move('dir', 'moved');
      // Another client's change (the emulator's seed) is in the feed too.
      await e.seed('/Other.TXT', Buffer.from('o'), Date.UTC(2024, 0, 2), { account });

      const batches: ChangeBatch[] = [];
      for await (const b of c.changes(cursor)) batches.push(b);
      expect(batches.length).toBeGreaterThan(1);
      expect(batches.slice(0, -1).every((b) => b.cursor === undefined)).toBe(true);
      const next = batches.at(-1)?.cursor as string;
      expect(next).toEqual(expect.any(String));
      expect(paths(batches)).toEqual({
        changed: ['Other.TXT', 'keep/mod.txt', 'moved/', 'moved/a.txt', 'moved/sub/', 'moved/sub/b.txt', 'new/', 'new/n.txt'],
        deleted: ['dir', 'gone.txt'],
      });
      const mod = batches.flatMap((b) => b.changed).find((x) => x.path === 'keep/mod.txt') as Entry;
      expect(mod).toMatchObject({ size: 2, hashes: { dropbox: dropboxContentHash(Buffer.from('v2')) } });

      const none: ChangeBatch[] = [];
      for await (const b of c.changes(next)) none.push(b);
      expect(paths(none)).toEqual({ changed: [], deleted: [] });
      expect(none.at(-1)?.cursor).toEqual(expect.any(String));
    });

    it('a cursor Dropbox no longer takes (reset) asks for a full walk', async () => {
      const { c, account } = remote();
      const cursor = await c.changeCursor();
      await put(c, 'x.txt', Buffer.from('x'));
      e.faults.resetCursors(account);
      const batches: ChangeBatch[] = [];
      for await (const b of c.changes(cursor)) batches.push(b);
      expect(batches).toEqual([{ changed: [], deleted: [], resync: true }]);
    });

    it('sees only what is below a remote rooted at a folder, relative to it', async () => {
      const { account } = remote();
      const { token, clientSecret, ...settings } = e.remoteConfig(account);
      const rooted = createDropboxConnector({ ...(settings as DropboxConfig), root: 'Backups/Sub' }, { host: unrestrictedHost, remoteName: 'rooted', credentials: memoryCredentials({ token, clientSecret }) });
      open.push(rooted);
      await rooted.mkdir('');
      const cursor = await rooted.changeCursor();
      await e.seed('/Backups/Sub/in.txt', Buffer.from('in'), undefined, { account });
      await e.seed('/Backups/out.txt', Buffer.from('out'), undefined, { account });
      const batches: ChangeBatch[] = [];
      for await (const b of rooted.changes(cursor)) batches.push(b);
      expect(paths(batches)).toEqual({ changed: ['in.txt'], deleted: [] });
      expect((await collect(rooted.walk(''))).entries.map((x) => x.path)).toEqual(['in.txt']);
    });
  });

  describe('notices', () => {
    it('reports a file with no bytes (a Paper doc) and a name knarr cannot address, and lists neither', async () => {
      const { c, account } = remote();
      await e.seed('/n/plain.txt', Buffer.from('p'), undefined, { account });
      await e.seed('/n/Notes.paper', Buffer.from(''), undefined, { account, downloadable: false });
      // A quote rune before an ordinary character: decoding drops it, so the name cannot be written back as it is.
      await e.seed('/n/\u201Bodd.txt', Buffer.from('q'), undefined, { account });
      for (const lister of [(o: { onNotice: (n: ListNotice) => void }) => c.list('n', o), (o: { onNotice: (n: ListNotice) => void }) => c.walk('n', o)]) {
        const notices: ListNotice[] = [];
        const { entries } = await collect(lister({ onNotice: (n) => void notices.push(n) }));
        expect(entries.map((x) => x.path)).toEqual(['n/plain.txt']);
        expect(notices.map((n) => [n.path, n.kind]).sort()).toEqual([['n/Notes.paper', 'skipped'], ['n/odd.txt', 'unencodable']]);
      }
    });
  });

  describe('dropbox specifics', () => {
    it('commits many small files in few finish_batch_v2 calls, clear of the write-lock contention single commits meet', async () => {
      const { c } = remote();
      e.faults.writeContention({ maxConcurrent: 2, holdMs: 1000 });
      const before = { batches: e.stats.finishBatches, entries: e.stats.finishBatchEntries, finishes: e.stats.finishes, throttled: e.stats.writeThrottled };
      const files = Array.from({ length: 24 }, (_, i) => `many/f${String(i).padStart(2, '0')}`);
      const results = await Promise.all(files.map((f) => put(c, f, Buffer.from(f))));
      expect(results.map((r) => r.entry.path)).toEqual(files);
      expect(e.stats.finishBatchEntries - before.entries).toBe(24);
      expect(e.stats.finishBatches - before.batches).toBe(1);
      expect(e.stats.finishes - before.finishes).toBe(0);
      expect(e.stats.writeThrottled - before.throttled).toBe(0);

      // The same files committed one by one, at once, as a client without batching would: refused.
      const token = e.issueToken(`raw${randomBytes(3).toString('hex')}`).access_token;
      const call = (route: string, arg: unknown, body?: Buffer) =>
        fetch(`${e.url}/2/${route}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...(body ? { 'dropbox-api-arg': JSON.stringify(arg), 'content-type': 'application/octet-stream' } : { 'content-type': 'application/json' }) }, body: body ?? JSON.stringify(arg) });
      const ids = await Promise.all(files.slice(0, 6).map(async (f) => ((await (await call('files/upload_session/start', { close: true }, Buffer.from(f))).json()) as { session_id: string }).session_id));
      const singles = await Promise.all(ids.map((id, i) => call('files/upload_session/finish', { cursor: { session_id: id, offset: files[i].length }, commit: { path: `/raw/${i}`, mode: 'overwrite' } }, Buffer.alloc(0))));
      const refused = singles.filter((r) => r.status === 429);
      expect(refused.length).toBeGreaterThan(0);
      const body = (await refused[0].json()) as { error_summary: string; error: { reason: { '.tag': string } } };
      expect(body.error_summary).toMatch(/^too_many_write_operations\//);
      expect(refused[0].headers.get('retry-after')).toBe('1');
    });

    it("gives each write in a batch its own entry's outcome", async () => {
      const { c } = remote();
      await c.mkdir('mixed/taken');
      const results = await Promise.allSettled([put(c, 'mixed/ok1', Buffer.from('1')), put(c, 'mixed/taken', Buffer.from('2')), put(c, 'mixed/ok2', Buffer.from('3'))]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      const err = (results[1] as PromiseRejectedResult).reason;
      expect(isConnectorError(err, 'conflict'), String(err)).toBe(true);
      expect(String(err)).toMatch(/path\/conflict\/folder/);
    });

    it('reports the content hash, verified against the bytes sent, and is corrupt when Dropbox reports another', async () => {
      const { c } = remote();
      const small = randomBytes(10 * KiB);
      const large = randomBytes(5 * MiB + 3);
      const a = await put(c, 'h/small', small);
      const b = await c.write('h/large', bufferSource(large), { chunkSize: 2 * MiB });
      expect(a.entry.hashes.dropbox).toBe(dropboxContentHash(small));
      expect(a.hashes.dropbox).toBe(dropboxContentHash(small));
      expect(b.entry.hashes.dropbox).toBe(dropboxContentHash(large));
      expect(b.hashes.dropbox).toBe(dropboxContentHash(large));
      e.faults.corruptNextHash();
      await expectKind(() => put(c, 'h/bad-small', small), 'corrupt');
      e.faults.corruptNextHash();
      await expectKind(() => c.write('h/bad-large', bufferSource(large), { chunkSize: 2 * MiB }), 'corrupt');
    });

    it('sets client_modified to the second, and keeps it through copy and move', async () => {
      const { c } = remote();
      const mtime = Date.UTC(2021, 4, 6, 7, 8, 9, 999);
      const res = await put(c, 'm/f', Buffer.from('t'), mtime);
      expect(res.entry.mtimeMs).toBe(Date.UTC(2021, 4, 6, 7, 8, 9));
      expect((await c.copy('m/f', 'm/g')).mtimeMs).toBe(Date.UTC(2021, 4, 6, 7, 8, 9));
      expect((await c.move('m/g', 'm/h')).mtimeMs).toBe(Date.UTC(2021, 4, 6, 7, 8, 9));
    });

    it('is case-insensitive and case-preserving', async () => {
      const { c, account } = remote();
      expect(c.capabilities.caseInsensitive).toBe(true);
      await put(c, 'Case/Hello.TXT', Buffer.from('hi'));
      expect((await c.stat('case/hello.txt')).size).toBe(2);
      await put(c, 'CASE/HELLO.txt', Buffer.from('bye!'));
      expect((await collect(c.list('case'))).entries.map((x) => [x.path, x.size])).toEqual([['case/Hello.TXT', 4]]);
      expect(e.list(account).map((x) => x.path)).toEqual(['/Case', '/Case/Hello.TXT']);
      // A case-only rename.
      expect((await c.move('Case/Hello.TXT', 'Case/hello.txt')).path).toBe('Case/hello.txt');
      expect(e.list(account).map((x) => x.path)).toEqual(['/Case', '/Case/hello.txt']);
    });

    it("encodes names as rclone's Dropbox default (BackSlash, Del, RightSpace, Dot) and escapes Dropbox-API-Arg", async () => {
      const { c, account } = remote();
      const names = ['back\\slash', 'del\x7fchar', 'trailing space ', 'Æøå 🚢 \u00e9', 'ctl\x01ok'];
      for (const n of names) await put(c, `enc/${n}`, Buffer.from(n));
      expect(e.list(account).filter((x) => !x.isDir).map((x) => x.path).sort()).toEqual(
        ['/enc/back\uFF3Cslash', '/enc/del\u2421char', '/enc/trailing space\u2420', '/enc/Æøå 🚢 \u00e9', '/enc/ctl\x01ok'].sort(),
      );
      const listed = (await collect(c.list('enc'))).entries.map((x) => x.path.slice(4)).sort();
      expect(listed).toEqual([...names].sort());
      for (const n of names) expect((await readAll(await c.read(`enc/${n}`))).toString()).toBe(n);
      // The emulator refuses a header that is not ASCII, as Dropbox does.
      const token = e.issueToken(account).access_token;
      const raw = await fetch(`${e.url}/2/files/download`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'dropbox-api-arg': Buffer.from(JSON.stringify({ path: '/enc/Æøå 🚢 é' }), 'utf8').toString('latin1') } });
      expect(raw.status).toBe(400);
      expect(await raw.text()).toMatch(/Dropbox-API-Arg/);
    });

    it('downloads by id: path and by the arg query parameter (what rclone and browsers use)', async () => {
      const { account } = remote();
      const seeded = await e.seed('/ids/f.bin', Buffer.from('by id'), undefined, { account });
      const token = e.issueToken(account).access_token;
      const byId = await fetch(`${e.url}/2/files/download`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'dropbox-api-arg': JSON.stringify({ path: seeded.id }) } });
      expect(await byId.text()).toBe('by id');
      expect(JSON.parse(byId.headers.get('dropbox-api-result') as string)).toMatchObject({ path_display: '/ids/f.bin', content_hash: seeded.contentHash });
      const byQuery = await fetch(`${e.url}/2/files/download?arg=${encodeURIComponent(JSON.stringify({ path: '/IDS/F.BIN' }))}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, range: 'bytes=3-' } });
      expect(byQuery.status).toBe(206);
      expect(await byQuery.text()).toBe('id');
    });

    it('sends parts of a large file in parallel through a concurrent session, and resumes one', async () => {
      const { c } = remote();
      const data = randomBytes(3 * 4 * MiB + 1000);
      const open1 = await c.openChunkWriter('cw/big.bin', { size: data.length, mtimeMs: 1_600_000_000_000, hashes: {} }, { partSize: 5 * MiB });
      expect(open1.partSize).toBe(8 * MiB);
      await open1.writeChunk(0, data.subarray(0, 8 * MiB));
      const state: UploadState = structuredClone(open1.state());
      await open1.abandon();
      const w = await c.openChunkWriter('cw/big.bin', { size: data.length, mtimeMs: 1_600_000_000_000, hashes: {} }, { resume: state });
      expect(w.isDone(0)).toBe(true);
      await w.writeChunk(1, data.subarray(8 * MiB));
      const res = await w.close();
      expect(res.resumedFrom).toBe(8 * MiB);
      expect(res.entry).toMatchObject({ path: 'cw/big.bin', size: data.length, hashes: { dropbox: dropboxContentHash(data) } });
      expect((await readAll(await c.read('cw/big.bin'))).equals(data)).toBe(true);

      const parts = randomBytes(3 * 4 * MiB + 7);
      const p = await c.openChunkWriter('cw/par.bin', { size: parts.length, mtimeMs: 1_600_000_000_000, hashes: {} }, { partSize: 4 * MiB });
      await Promise.all([3, 1, 0, 2].map((i) => p.writeChunk(i, parts.subarray(i * 4 * MiB, (i + 1) * 4 * MiB))));
      expect((await p.close()).hashes.dropbox).toBe(dropboxContentHash(parts));
      expect((await readAll(await c.read('cw/par.bin'))).equals(parts)).toBe(true);
    });

    it('keeps the 4 MiB rule of concurrent sessions', async () => {
      const token = e.issueToken(`rule${randomBytes(3).toString('hex')}`).access_token;
      const call = (route: string, arg: unknown, body: Buffer) => fetch(`${e.url}/2/${route}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'dropbox-api-arg': JSON.stringify(arg), 'content-type': 'application/octet-stream' }, body });
      const { session_id } = (await (await call('files/upload_session/start', { session_type: { '.tag': 'concurrent' } }, Buffer.alloc(0))).json()) as { session_id: string };
      const odd = await call('files/upload_session/append_v2', { cursor: { session_id, offset: 1000 }, close: false }, Buffer.alloc(10));
      expect(((await odd.json()) as { error_summary: string }).error_summary).toMatch(/^concurrent_session_invalid_offset/);
      const short = await call('files/upload_session/append_v2', { cursor: { session_id, offset: 0 }, close: false }, Buffer.alloc(1000));
      expect(((await short.json()) as { error_summary: string }).error_summary).toMatch(/^concurrent_session_invalid_data_size/);
      const notClosed = await call('files/upload_session/finish', { cursor: { session_id, offset: 0 }, commit: { path: '/x' } }, Buffer.alloc(0));
      expect(((await notClosed.json()) as { error_summary: string }).error_summary).toMatch(/^concurrent_session_not_closed/);
    });

    it('reports usage and a full Dropbox as quota_exceeded', async () => {
      const { c, account } = remote();
      await put(c, 'q/a', randomBytes(1000));
      e.faults.setAllocation(1500, account);
      expect(await c.about()).toEqual({ usedBytes: 1000, totalBytes: 1500, freeBytes: 500, unlimited: false });
      await expectKind(() => put(c, 'q/b', randomBytes(1000)), 'quota_exceeded');
      await expectKind(() => c.write('q/c', bufferSource(randomBytes(3000)), { chunkSize: 1024 }), 'quota_exceeded');
    });

    it('deletes to Dropbox\'s deleted files by default, permanently when asked', async () => {
      const { c } = remote();
      await put(c, 'd/soft', Buffer.from('s'));
      await put(c, 'd/hard', Buffer.from('h'));
      const before = { soft: e.stats.requests['files/delete_v2'] ?? 0, hard: e.stats.requests['files/permanently_delete'] ?? 0 };
      await c.delete('d/soft');
      await c.delete('d/hard', { permanent: true });
      expect(e.stats.requests['files/delete_v2']).toBe(before.soft + 1);
      expect(e.stats.requests['files/permanently_delete']).toBe(before.hard + 1);
      expect((await collect(c.list('d'))).entries).toEqual([]);
    });

    it('replaces a file at the destination of a copy or move', async () => {
      const { c } = remote();
      await put(c, 'rp/src', Buffer.from('new'));
      await put(c, 'rp/dst', Buffer.from('old!'));
      expect(await c.copy('rp/src', 'rp/dst')).toMatchObject({ size: 3 });
      expect((await readAll(await c.read('rp/dst'))).toString()).toBe('new');
      await c.mkdir('rp/folder');
      await expectKind(() => c.move('rp/src', 'rp/folder'), 'conflict');
    });

    it('seeds large files from a fill byte (sparse when 0) with the content hash of their bytes', async () => {
      const { c, account } = remote();
      const size = 9 * MiB + 5;
      const seeded = await e.seed('/big/filled.bin', { size, fill: 7 }, Date.UTC(2020, 0, 1), { account });
      expect(seeded.contentHash).toBe(dropboxContentHash(Buffer.alloc(size, 7)));
      const zero = await e.seed('/big/zero.bin', { size }, undefined, { account });
      expect(zero.contentHash).toBe(dropboxContentHash(Buffer.alloc(size)));
      expect(await c.stat('big/filled.bin')).toMatchObject({ size, mtimeMs: Date.UTC(2020, 0, 1), hashes: { dropbox: seeded.contentHash } });
      const tail = await readAll(await c.read('big/filled.bin', { offset: size - 10 }));
      expect(tail.equals(Buffer.alloc(10, 7))).toBe(true);
      expect((await e.readFile('/BIG/zero.bin', account)).length).toBe(size);
    });

    it('answers a longpoll on the notify host when something changed since the cursor', async () => {
      const { c, account } = remote();
      const cursor = await c.changeCursor();
      const poll = fetch(`${e.url}/2/files/list_folder/longpoll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cursor, timeout: 30 }) });
      await e.seed('/poke.txt', Buffer.from('p'), undefined, { account });
      expect(await (await poll).json()).toEqual({ changes: true });
    });

    it('walks a tree of several pages with every folder and file once', async () => {
      const { c } = remote();
      const files = Array.from({ length: 20 }, (_, i) => `w/${i % 3}/${i % 2}/f${i}`);
      await Promise.all(files.map((f) => put(c, f, Buffer.from(f))));
      const { entries, pages } = await collect(c.walk('w'));
      expect(pages.length).toBeGreaterThan(2);
      const got = entries.map((x) => x.path);
      expect(new Set(got).size).toBe(got.length);
      expect(got.filter((p) => !entries.find((x) => x.path === p)?.isDir).sort()).toEqual([...files].sort());
    });

    it('stays alive through slow uploads and downloads, with progress', async () => {
      const { c } = remote();
      e.faults.bandwidth({ uploadBps: 256 * KiB, downloadBps: 256 * KiB });
      const data = randomBytes(384 * KiB);
      const progress: number[] = [];
      const t0 = Date.now();
      await c.write('slow/f', bufferSource(data, { piece: 16 * KiB }), { chunkSize: 128 * KiB, onProgress: (b) => void progress.push(b) });
      expect(Date.now() - t0).toBeGreaterThan(1000);
      expect(progress.length).toBeGreaterThan(3);
      const t1 = Date.now();
      expect((await readAll(await c.read('slow/f'))).equals(data)).toBe(true);
      expect(Date.now() - t1).toBeGreaterThan(1000);
    });

    it('a cut upload is transient; the session is resumed from the saved state', async () => {
      const { c } = remote();
      const data = randomBytes(600 * KiB);
      const states: UploadState[] = [];
      e.faults.cutUploadAfter(300 * KiB);
      const err = await rejectionOf(() => c.write('cut/f', bufferSource(data), { chunkSize: 128 * KiB, onCheckpoint: (s) => void states.push(s) }));
      expect(isConnectorError(err, 'transient'), String(err)).toBe(true);
      expect(JSON.stringify(err)).not.toContain('pid_upload_session');
      expect(String((err as Error).message)).not.toContain('pid_upload_session');
      const res = await c.write('cut/f', bufferSource(data), { chunkSize: 128 * KiB, resume: states.at(-1) });
      expect(res.resumedFrom).toBe(256 * KiB);
    });
  });
});
