import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { jobOptionsSchema } from '../../core/job.js';
import { queryRows } from '../../db/client.js';
import { diffIntoItems, insertEntries } from '../../db/queries/ledger.js';
import { insertRemote } from '../../db/queries/remotes.js';
import { insertJobAndRun } from '../../db/queries/runs.js';
import { api, knarrWithLocalRemotes, waitForRun, type InProcessKnarr } from '../support/knarr.js';
import { describeTree } from '../support/tree.js';
import { adminUserId } from '../../db/queries/users.js';

const day = 86_400_000;
/** The source tree: name → [bytes, age in days]. */
const tree: Record<string, [number, number]> = {
  'Photos/2024/IMG_1.HEIC': [10 * 1024, 2],
  'Photos/2024/IMG_2.jpg': [2 * 1024 * 1024, 3],
  'Photos/2024/.DS_Store': [100, 1],
  'Photos/2023/old.CR3': [40 * 1024, 400],
  'Videos/clip.MOV': [300 * 1024, 10],
  'Music/song.flac': [50 * 1024, 60],
  'Docs/report.pdf': [20 * 1024, 5],
  'Docs/notes.txt': [1024, 1],
  'tmp/cache.bin': [5 * 1024 * 1024, 0],
  'deep/a/b/c.jpg': [4096, 90],
  '.DS_Store': [100, 1],
};
const all = Object.keys(tree);
const where = (keep: (path: string, size: number, ageDays: number) => boolean) => all.filter((p) => keep(p, ...tree[p])).sort();

/**
 * Each filter through the API on a real worker, PostgreSQL and the Temporal dev server: the run
 * plans exactly the files the filter keeps, and the destination holds exactly those.
 */
describe('job filters through the API', () => {
  let k: InProcessKnarr;
  let dir: string;
  const suffix = Math.random().toString(36).slice(2, 8);
  let n = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-filters-'));
    const now = Date.now();
    for (const [path, [size, ageDays]] of Object.entries(tree)) {
      const file = join(dir, 'src', path);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, Buffer.alloc(size, path.length));
      const t = new Date(now - ageDays * day - 60_000);
      await utimes(file, t, t);
    }
    k = await knarrWithLocalRemotes(dir, suffix);
  });
  afterAll(async () => {
    await k?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const copyWith = async (filters: Record<string, unknown>) => {
    const out = `out-${++n}`;
    const r = await api(k.url, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `dst-${suffix}:${out}`, mode: 'copy', filters });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const run = await waitForRun(k.url, r.body.runId);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    const copied = [...(await describeTree(join(dir, 'dst', out))).keys()].sort();
    expect(run.files.total).toBe(copied.length);
    const events = (await api(k.url, 'GET', `/v1/runs/${r.body.runId}/events`)).body.data as { kind: string; data: { files?: number } }[];
    return { copied, filtered: events.find((e) => e.kind === 'filtered')?.data.files ?? 0 };
  };

  it('include: only matching files, at any depth unless anchored', async () => {
    const r = await copyWith({ include: ['*.jpg'] });
    expect(r.copied).toEqual(['Photos/2024/IMG_2.jpg', 'deep/a/b/c.jpg']);
    expect(r.filtered).toBe(all.length - 2);
    expect((await copyWith({ include: ['/deep/**'] })).copied).toEqual(['deep/a/b/c.jpg']);
  });

  it('exclude: names anywhere and anchored folders, winning over includes', async () => {
    expect((await copyWith({ exclude: ['.DS_Store', '/tmp/**'] })).copied).toEqual(where((p) => !p.endsWith('.DS_Store') && !p.startsWith('tmp/')));
    expect((await copyWith({ include: ['*.{jpg,HEIC}'], exclude: ['IMG_2.*'] })).copied).toEqual(['Photos/2024/IMG_1.HEIC', 'deep/a/b/c.jpg']);
  });

  it('folders: only what is inside them', async () => {
    expect((await copyWith({ folders: ['Photos/2024', '/Docs/'] })).copied).toEqual(where((p) => p.startsWith('Photos/2024/') || p.startsWith('Docs/')));
  });

  it('minSize and maxSize, with units', async () => {
    expect((await copyWith({ minSize: '1M' })).copied).toEqual(['Photos/2024/IMG_2.jpg', 'tmp/cache.bin']);
    expect((await copyWith({ maxSize: '20K' })).copied).toEqual(where((_p, size) => size <= 20 * 1024));
  });

  it('minAge, maxAge and changedSince', async () => {
    expect((await copyWith({ minAge: '30d' })).copied).toEqual(where((_p, _s, age) => age >= 30));
    expect((await copyWith({ maxAge: '7d' })).copied).toEqual(where((_p, _s, age) => age < 7));
    const since = new Date(Date.now() - 4 * day).toISOString();
    expect((await copyWith({ changedSince: since })).copied).toEqual(where((_p, _s, age) => age < 4));
  });

  it('presets by extension, any case: HEIC and RAW are photos, MOV is a video', async () => {
    expect((await copyWith({ presets: ['photos'] })).copied).toEqual(['Photos/2023/old.CR3', 'Photos/2024/IMG_1.HEIC', 'Photos/2024/IMG_2.jpg', 'deep/a/b/c.jpg']);
    expect((await copyWith({ presets: ['videos', 'audio'] })).copied).toEqual(['Music/song.flac', 'Videos/clip.MOV']);
    expect((await copyWith({ presets: ['documents'] })).copied).toEqual(['Docs/notes.txt', 'Docs/report.pdf']);
  });

  it('a destination file the filters leave out is not looked at: the included ones are copied beside it', async () => {
    await mkdir(join(dir, 'dst/keep'), { recursive: true });
    await writeFile(join(dir, 'dst/keep/mine.jpg'), 'the user\'s own');
    const r = await api(k.url, 'POST', '/v1/jobs', { source: `src-${suffix}:Docs`, destination: `dst-${suffix}:keep`, mode: 'copy', filters: { exclude: ['*.jpg'] } });
    expect((await waitForRun(k.url, r.body.runId)).state).toBe('completed');
    expect([...(await describeTree(join(dir, 'dst/keep'))).keys()].sort()).toEqual(['mine.jpg', 'notes.txt', 'report.pdf']);
  });

  it.each([
    [{ minSize: '10X' }, 'filters.minSize', /not a size/],
    [{ maxAge: 'a week' }, 'filters.maxAge', /not a duration.*"30d"/],
    [{ presets: ['selfies'] }, 'filters.presets.0', /photos, videos, documents, audio/],
    [{ folders: ['../../etc'] }, 'filters.folders.0', /not a folder inside the source/],
    [{ include: ['a**b'] }, 'filters.include.0', /\*\* must start/],
    [{ minSize: '2M', maxSize: '1M' }, 'filters.minSize', /larger than maxSize/],
  ])('refuses filters %j with a 400 naming %s, and creates nothing', async (filters, field, message) => {
    const r = await api(k.url, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `dst-${suffix}:never`, mode: 'copy', filters });
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.error.code).toBe('invalid_request');
    expect(r.body.error.field).toBe(field);
    expect(r.body.error.message).toMatch(message);
  });

  it('a file larger than the destination takes is skipped with the reason, not failed', async () => {
    const r = await insertRemote(k.database.db, { ownerId: adminUserId, name: `big-${suffix}`, type: 'local', config: { root: dir }, credentials: null });
    const { run } = await insertJobAndRun(k.database.db, {
      ownerId: adminUserId, sourceRemoteId: r.id, sourcePath: 'src', destRemoteId: r.id, destPath: 'dst', mode: 'copy', options: jobOptionsSchema.parse({}), filters: {},
    }, (id) => `run-${id}`);
    await insertEntries(k.database.db, run.id, 'src', [
      { path: 'small.bin', isDir: false, size: 1000, mtimeMs: 1, hashes: {} },
      { path: 'huge.bin', isDir: false, size: 1001, mtimeMs: 1, hashes: {} },
    ]);
    const totals = await diffIntoItems(k.database.db, run.id, { mtimeToleranceMs: 1, largeFileThreshold: 1 << 30, batchFiles: 100, batchBytes: 1 << 30, caseInsensitive: false, maxFileSize: 1000 });
    expect(totals).toMatchObject({ filesTotal: 1, bytesTotal: 1000, filesSkipped: 1, tooLarge: 1 });
    const rows = await queryRows<{ path: string; action: string; state: string; last_error: string | null }>(k.database.db,
      sql`SELECT path, action, state, last_error FROM items WHERE run_id = ${run.id} ORDER BY path`);
    expect(rows).toEqual([
      { path: 'huge.bin', action: 'skip', state: 'skipped', last_error: 'larger than the destination allows (1000 bytes): skipped' },
      { path: 'small.bin', action: 'copy', state: 'pending', last_error: null },
    ]);
  });
});
