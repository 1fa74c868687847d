import { sql } from 'drizzle-orm';
import { cp, mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobOptionsSchema } from '../../core/job.js';
import { queryRows } from '../../db/client.js';
import { diffIntoItems, insertEntries } from '../../db/queries/ledger.js';
import { insertRemote } from '../../db/queries/remotes.js';
import { insertJobAndRun } from '../../db/queries/runs.js';
import { api, knarrWithLocalRemotes, testAdminKey, waitForRun, type InProcessKnarr } from '../support/knarr.js';
import { describeTree, expectSameTree } from '../support/tree.js';
import { adminUserId } from '../../db/queries/users.js';

const t0 = new Date(Date.UTC(2026, 0, 1));

/**
 * The compare option through the API on local trees, after a first copy and then these changes
 * at the source: a.txt new bytes of the same size with its old mtime (only a checksum sees it),
 * b.txt touched (same bytes, new mtime), c.txt a new size, d.txt untouched.
 */
for (const db of ['postgres', 'pglite'] as const) describe(`compare modes through the API (${db})`, () => {
  let k: InProcessKnarr;
  let dir: string;
  const suffix = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-compare-'));
    await mkdir(join(dir, 'src/sub'), { recursive: true });
    for (const [name, body] of [['a.txt', 'hello world'], ['b.txt', 'bravo'], ['sub/c.txt', 'charlie'], ['sub/d.txt', 'delta']]) {
      await writeFile(join(dir, 'src', name), body);
      await utimes(join(dir, 'src', name), t0, t0);
    }
    k = await knarrWithLocalRemotes(dir, suffix, db);
    const first = await api(k.url, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `dst-${suffix}:base`, mode: 'copy' });
    expect((await waitForRun(k.url, first.body.runId)).state).toBe('completed');
    for (const mode of ['size_mtime', 'size_only', 'checksum']) {
      await cp(join(dir, 'dst/base'), join(dir, 'dst', mode), { recursive: true, preserveTimestamps: true });
    }
    await writeFile(join(dir, 'src/a.txt'), 'HELLO WORLD');
    await utimes(join(dir, 'src/a.txt'), t0, t0);
    const later = new Date(t0.getTime() + 3_600_000);
    await utimes(join(dir, 'src/b.txt'), later, later);
    await writeFile(join(dir, 'src/sub/c.txt'), 'charlie, longer');
  });
  afterAll(async () => {
    await k?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const again = async (compare: string) => {
    const r = await api(k.url, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `dst-${suffix}:${compare}`, mode: 'copy', options: { compare } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const run = await waitForRun(k.url, r.body.runId);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    return run;
  };
  const dst = (compare: string, name: string) => readFile(join(dir, 'dst', compare, name), 'utf8');

  it('size_mtime (the default) copies the touched and resized files, and cannot see same-size new bytes', async () => {
    const run = await again('size_mtime');
    expect(run.files).toMatchObject({ total: 2, done: 2, skipped: 2 });
    expect(await dst('size_mtime', 'a.txt')).toBe('hello world');
    expect(await dst('size_mtime', 'sub/c.txt')).toBe('charlie, longer');
    expect((await stat(join(dir, 'dst/size_mtime/b.txt'))).mtimeMs).toBe(t0.getTime() + 3_600_000);
  });

  it('size_only copies only the resized file', async () => {
    const run = await again('size_only');
    expect(run.files).toMatchObject({ total: 1, done: 1, skipped: 3 });
    expect(await dst('size_only', 'sub/c.txt')).toBe('charlie, longer');
    expect(await dst('size_only', 'a.txt')).toBe('hello world');
  });

  it('checksum hashes both sides where no listing has a hash: the changed bytes are copied, equal files are not sent', async () => {
    const run = await again('checksum');
    // a, b and d are hashed first (same sizes); b and d are equal and kept; c differs in size.
    expect(run.files).toMatchObject({ total: 4, done: 4, skipped: 0, deduplicated: 2, failed: 0 });
    expect(await dst('checksum', 'a.txt')).toBe('HELLO WORLD');
    expect(await dst('checksum', 'sub/c.txt')).toBe('charlie, longer');
    await expectSameTree(join(dir, 'src'), join(dir, 'dst/checksum'), 3_600_000);
    // Kept, not rewritten: its mtime is still the first copy's.
    expect((await stat(join(dir, 'dst/checksum/b.txt'))).mtimeMs).toBe(t0.getTime());
  });

  it('checksum compares the hashes both listings give, without reading anything', async () => {
    const r = await insertRemote(k.database.db, { ownerId: adminUserId, name: `listed-${suffix}`, type: 'local', config: { root: dir }, credentials: null });
    const { run } = await insertJobAndRun(k.database.db, {
      ownerId: adminUserId, sourceRemoteId: r.id, sourcePath: 'src', destRemoteId: r.id, destPath: 'dst', mode: 'copy', options: jobOptionsSchema.parse({ compare: 'checksum' }), filters: {},
    }, (id) => `run-${id}`);
    const e = (path: string, md5?: string) => ({ path, isDir: false, size: 5, mtimeMs: 1, hashes: md5 ? { md5 } : {} });
    await insertEntries(k.database.db, run.id, 'src', [e('same', 'aa'), e('differs', 'aa'), e('unhashed')]);
    await insertEntries(k.database.db, run.id, 'dst', [e('same', 'aa'), e('differs', 'bb'), e('unhashed', 'cc')]);
    await diffIntoItems(k.database.db, run.id, { mtimeToleranceMs: 1, largeFileThreshold: 1 << 30, batchFiles: 100, batchBytes: 1 << 30, caseInsensitive: false, compare: 'checksum', listedHash: 'md5' });
    const rows = await queryRows<{ path: string; action: string; check_first: boolean }>(k.database.db,
      sql`SELECT path, action, check_first FROM items WHERE run_id = ${run.id} ORDER BY path`);
    expect(rows).toEqual([
      { path: 'differs', action: 'copy', check_first: false },
      { path: 'same', action: 'skip', check_first: false },
      { path: 'unhashed', action: 'copy', check_first: true },
    ]);
  });

  it('refuses an unknown compare mode, naming the choices', async () => {
    const r = await api(k.url, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `dst-${suffix}:x`, mode: 'copy', options: { compare: 'md5' } });
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe('options.compare');
    expect(r.body.error.message).toMatch(/size_mtime, size_only, checksum/);
  });

});

/**
 * The conflict policy, after a first copy and then at the source: a.txt new bytes (newer),
 * b.txt new bytes with an mtime older than the destination's, c.txt only at the source.
 */
for (const db of ['postgres', 'pglite'] as const) describe(`conflict policies through the API (${db})`, () => {
  let k: InProcessKnarr;
  let dir: string;
  const suffix = Math.random().toString(36).slice(2, 8);
  const at = (h: number) => new Date(t0.getTime() + h * 3_600_000);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-conflict-'));
    await mkdir(join(dir, 'src'), { recursive: true });
    await mkdir(join(dir, 'base'), { recursive: true });
    for (const [name, body, h] of [['a.txt', 'old a', 0], ['b.txt', 'old b', 5], ['noext', 'old n', 0]] as const) {
      await writeFile(join(dir, 'base', name), body);
      await utimes(join(dir, 'base', name), at(h), at(h));
    }
    for (const [name, body, h] of [['a.txt', 'new a!', 2], ['b.txt', 'new b!', 1], ['c.txt', 'only c', 0], ['noext', 'new n!', 3]] as const) {
      await writeFile(join(dir, 'src', name), body);
      await utimes(join(dir, 'src', name), at(h), at(h));
    }
    for (const policy of ['overwrite', 'skip', 'newer', 'rename']) await cp(join(dir, 'base'), join(dir, 'dst', policy), { recursive: true, preserveTimestamps: true });
    k = await knarrWithLocalRemotes(dir, suffix, db);
  });
  afterAll(async () => {
    await k?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const copyWith = async (conflict: string) => {
    const r = await api(k.url, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `dst-${suffix}:${conflict}`, mode: 'copy', options: { conflict } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const run = await waitForRun(k.url, r.body.runId);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    const tree = await describeTree(join(dir, 'dst', conflict));
    const files: Record<string, string> = {};
    for (const p of [...tree.keys()].sort()) files[p] = await readFile(join(dir, 'dst', conflict, p), 'utf8');
    return { run, files };
  };

  it('overwrite (the default) replaces what differs', async () => {
    const { files } = await copyWith('overwrite');
    expect(files).toEqual({ 'a.txt': 'new a!', 'b.txt': 'new b!', 'c.txt': 'only c', noext: 'new n!' });
  });

  it('skip keeps the destination\'s files and copies only what is missing', async () => {
    const { run, files } = await copyWith('skip');
    expect(files).toEqual({ 'a.txt': 'old a', 'b.txt': 'old b', 'c.txt': 'only c', noext: 'old n' });
    expect(run.files).toMatchObject({ total: 1, done: 1, skipped: 3 });
  });

  it('newer copies a file only when the source\'s is newer', async () => {
    const { files } = await copyWith('newer');
    expect(files).toEqual({ 'a.txt': 'new a!', 'b.txt': 'old b', 'c.txt': 'only c', noext: 'new n!' });
  });

  it('rename keeps both, the source\'s copy named by its mtime, and a second run makes no other', async () => {
    const { run, files } = await copyWith('rename');
    expect(files).toEqual({
      'a.txt': 'old a', 'a.conflict-20260101T020000Z.txt': 'new a!',
      'b.txt': 'old b', 'b.conflict-20260101T010000Z.txt': 'new b!',
      noext: 'old n', 'noext.conflict-20260101T030000Z': 'new n!',
      'c.txt': 'only c',
    });
    const events = (await api(k.url, 'GET', `/v1/runs/${run.id}/events`)).body.data as { kind: string; data: { files?: number } }[];
    expect(events.find((e) => e.kind === 'conflicts_renamed')?.data.files).toBe(3);
    const report = await fetch(`${k.url}/v1/runs/${run.id}/report`, { headers: { accept: 'application/json', authorization: `Bearer ${testAdminKey}` } });
    expect(report.headers.get('content-type')).toMatch(/application\/json/);
    const rows = ((await report.json()) as { rows: Record<string, unknown>[] }).rows;
    expect(rows.map((r) => [r.path, r.action, r.state, r.dstPath])).toEqual([
      ['a.txt', 'copy', 'verified', 'a.conflict-20260101T020000Z.txt'],
      ['b.txt', 'copy', 'verified', 'b.conflict-20260101T010000Z.txt'],
      ['c.txt', 'copy', 'verified', null],
      ['noext', 'copy', 'verified', 'noext.conflict-20260101T030000Z'],
    ]);
    expect(rows[0].srcHash).toMatch(/^md5:[0-9a-f]{32}$/);
    expect(rows[0].dstHash).toBe(rows[0].srcHash);
    const csv = await fetch(`${k.url}/v1/runs/${run.id}/report`, { headers: { accept: 'text/csv', authorization: `Bearer ${testAdminKey}` } });
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = (await csv.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe('path,action,state,size,srcHash,dstHash,error,dstPath,fromPath,attempts,throttles');
    expect(lines[1]).toBe(`a.txt,copy,verified,6,${rows[0].srcHash},${rows[0].dstHash},,a.conflict-20260101T020000Z.txt,,0,0`);
    expect(lines).toHaveLength(5);
    const refused = await fetch(`${k.url}/v1/runs/${run.id}/report`, { headers: { accept: 'application/xml', authorization: `Bearer ${testAdminKey}` } });
    expect(refused.status).toBe(406);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/application\/json or text\/csv/);

    const second = await copyWith('rename');
    expect(second.files).toEqual(files);
    expect(second.run.files).toMatchObject({ total: 0, skipped: 4 });
  });

  it('refuses an unknown policy, naming the choices', async () => {
    const r = await api(k.url, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `dst-${suffix}:x`, mode: 'copy', options: { conflict: 'merge' } });
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe('options.conflict');
    expect(r.body.error.message).toMatch(/overwrite, skip, newer, rename/);
  });
});
