import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { jobOptionsSchema } from '../../core/job.js';
import { queryRows } from '../../db/client.js';
import { checkSummary, insertCheckItems } from '../../db/queries/check.js';
import { insertEntries } from '../../db/queries/ledger.js';
import { insertRemote } from '../../db/queries/remotes.js';
import { insertJobAndRun } from '../../db/queries/runs.js';
import { findRclone } from '../fakes/jottacloud/rclone.js';
import { api, knarrWithLocalRemotes, testAdminKey, waitForRun, type InProcessKnarr } from '../support/knarr.js';
import { describeTree } from '../support/tree.js';
import { adminUserId } from '../../db/queries/users.js';

const execFileP = promisify(execFile);
const t0 = new Date(Date.UTC(2026, 0, 1));
const mib = 1024 * 1024;

/** name → [source bytes, destination bytes]; null: not on that side. */
const files: Record<string, [Buffer | null, Buffer | null]> = {
  'same.txt': [Buffer.from('identical'), Buffer.from('identical')],
  'bytes.txt': [Buffer.from('source side'), Buffer.from('SOURCE SIDE')],
  'size.txt': [Buffer.from('short'), Buffer.from('a little longer')],
  'only-src.txt': [Buffer.from('here'), null],
  'sub/only-dst.txt': [null, Buffer.from('there')],
  'sub/big.bin': [Buffer.alloc(3 * mib, 7), Buffer.alloc(3 * mib, 7)],
  'sub/big-differs.bin': [Buffer.alloc(3 * mib, 7), Buffer.concat([Buffer.alloc(3 * mib - 1, 7), Buffer.from([8])])],
};

/**
 * check mode through the API on local trees, with rclone's `check` on the same trees as the
 * independent judge: the same verdict for every path, and nothing written on either side.
 */
for (const db of ['postgres', 'pglite'] as const) describe(`check mode through the API (${db})`, () => {
  let k: InProcessKnarr;
  let dir: string;
  let rclone: string;
  const suffix = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    rclone = (await findRclone())!;
    expect(rclone, 'rclone is installed by the test setup (scripts/install-test-servers.sh)').toBeTruthy();
    dir = await mkdtemp(join(tmpdir(), 'knarr-check-'));
    for (const [path, sides] of Object.entries(files)) {
      for (const [i, side] of (['src', 'dst'] as const).entries()) {
        const body = sides[i];
        if (!body) continue;
        const file = join(dir, side, path);
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, body);
        await utimes(file, t0, t0);
      }
    }
    k = await knarrWithLocalRemotes(dir, suffix, db);
  });
  afterAll(async () => {
    await k?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** rclone check's verdicts: its --combined report marks each path = match, * differ, + only in the source, - only in the destination. */
  const rcloneCheck = async (...flags: string[]) => {
    const r = await execFileP(rclone, ['check', join(dir, 'src'), join(dir, 'dst'), '--combined', '-', '--config', '/dev/null', ...flags]).catch((e: { stdout: string }) => e);
    const marks: Record<string, string> = { '=': 'match', '*': 'differ', '+': 'missing_on_dst', '-': 'missing_on_src' };
    return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(2), marks[l[0]] ?? l]));
  };
  const knarrCheck = async (options: Record<string, unknown>, filters: Record<string, unknown> = {}) => {
    const before = { src: await describeTree(join(dir, 'src')), dst: await describeTree(join(dir, 'dst')) };
    const r = await api(k.url, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `dst-${suffix}:`, mode: 'check', options: { largeFileThreshold: mib, ...options }, filters });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const run = await waitForRun(k.url, r.body.runId);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    expect({ src: await describeTree(join(dir, 'src')), dst: await describeTree(join(dir, 'dst')) }).toEqual(before);
    const report = await (await fetch(`${k.url}/v1/runs/${run.id}/report`, { headers: { accept: 'application/json', authorization: `Bearer ${testAdminKey}` } })).json() as { rows: { path: string; action: string; state: string; error: string | null; srcHash: string | null; dstHash: string | null }[] };
    const events = (await api(k.url, 'GET', `/v1/runs/${run.id}/events`)).body.data as { kind: string; message: string; data: Record<string, number> }[];
    return { run, rows: report.rows, verdicts: Object.fromEntries(report.rows.map((x) => [x.path, x.action])), events };
  };

  it('with download, reads both sides and agrees with rclone check --download on every path', async () => {
    const knarr = await knarrCheck({ download: true });
    expect(knarr.verdicts).toEqual(await rcloneCheck('--download'));
    expect(knarr.verdicts).toEqual({
      'same.txt': 'match', 'bytes.txt': 'differ', 'size.txt': 'differ', 'only-src.txt': 'missing_on_dst',
      'sub/only-dst.txt': 'missing_on_src', 'sub/big.bin': 'match', 'sub/big-differs.bin': 'differ',
    });
    expect(knarr.rows.every((r) => r.state === 'checked')).toBe(true);
    const bytes = knarr.rows.find((r) => r.path === 'bytes.txt')!;
    expect(bytes.error).toMatch(/checksum mismatch: source md5 [0-9a-f]{32}, destination md5 [0-9a-f]{32}/);
    expect(bytes.srcHash).not.toBe(bytes.dstHash);
    expect(knarr.rows.find((r) => r.path === 'size.txt')!.error).toBe('sizes differ: source 5 bytes, destination 15 bytes');
    expect(knarr.run.files).toMatchObject({ total: 7, done: 7, failed: 0 });
    const finished = knarr.events.find((e) => e.kind === 'finished')!;
    expect(finished.data).toMatchObject({ match: 2, differ: 3, missing_on_dst: 1, missing_on_src: 1 });
    expect(finished.message).toMatch(/2 match, 3 differ, 1 missing on the destination, 1 missing on the source/);
  });

  it('without download, local listings share no hash: equal sizes count as matching, as rclone check --size-only, and the run says so', async () => {
    const knarr = await knarrCheck({});
    expect(knarr.verdicts).toEqual(await rcloneCheck('--size-only'));
    expect(knarr.verdicts['bytes.txt']).toBe('match');
    expect(knarr.events.find((e) => e.kind === 'check_size_only')?.message).toMatch(/set options.download/);
  });

  it('filters apply: what they leave out is not reported on either side', async () => {
    const knarr = await knarrCheck({ download: true }, { exclude: ['only-*'] });
    expect(Object.keys(knarr.verdicts).sort()).toEqual(['bytes.txt', 'same.txt', 'size.txt', 'sub/big-differs.bin', 'sub/big.bin']);
  });

  it('decides from hashes both listings give, without reading, and matches names by case where the destination ignores it', async () => {
    const r = await insertRemote(k.database.db, { ownerId: adminUserId, name: `listed-${suffix}`, type: 'local', config: { root: dir }, credentials: null });
    const { run } = await insertJobAndRun(k.database.db, {
      ownerId: adminUserId, sourceRemoteId: r.id, sourcePath: 'src', destRemoteId: r.id, destPath: 'dst', mode: 'check', options: jobOptionsSchema.parse({}), filters: {},
    }, (id) => `run-${id}`);
    const e = (path: string, md5?: string, size = 5) => ({ path, isDir: false, size, mtimeMs: 1, hashes: md5 ? { md5 } : {} });
    await insertEntries(k.database.db, run.id, 'src', [e('same', 'aa'), e('differs', 'aa'), e('unhashed'), e('Case.TXT', 'cc')]);
    await insertEntries(k.database.db, run.id, 'dst', [e('same', 'aa'), e('differs', 'bb'), e('unhashed', 'dd'), e('case.txt', 'cc'), e('extra', 'ee', 9)]);
    const totals = await insertCheckItems(k.database.db, run.id, {
      largeFileThreshold: 1 << 30, batchFiles: 100, batchBytes: 1 << 30, caseInsensitive: true, listedHash: 'md5', download: true, sizeOnly: false,
    });
    expect(totals).toMatchObject({ filesTotal: 5, batchCount: 1 });
    const rows = await queryRows<{ path: string; action: string; state: string; last_error: string | null }>(k.database.db,
      sql`SELECT path, action, state, last_error FROM items WHERE run_id = ${run.id} ORDER BY path`);
    expect(rows).toEqual([
      { path: 'Case.TXT', action: 'match', state: 'checked', last_error: null },
      { path: 'differs', action: 'differ', state: 'checked', last_error: 'md5 differs' },
      { path: 'extra', action: 'missing_on_src', state: 'checked', last_error: null },
      { path: 'same', action: 'match', state: 'checked', last_error: null },
      { path: 'unhashed', action: 'check', state: 'pending', last_error: null },
    ]);
    expect(await checkSummary(k.database.db, run.id)).toEqual({ match: 2, differ: 1, missing_on_dst: 0, missing_on_src: 1 });
  });

  it('the report streams every row of a run larger than one page, as JSON and as CSV', async () => {
    const r = await insertRemote(k.database.db, { ownerId: adminUserId, name: `many-${suffix}`, type: 'local', config: { root: dir }, credentials: null });
    const { run } = await insertJobAndRun(k.database.db, {
      ownerId: adminUserId, sourceRemoteId: r.id, sourcePath: 'src', destRemoteId: r.id, destPath: 'dst', mode: 'check', options: jobOptionsSchema.parse({}), filters: {},
    }, (id) => `run-${id}`);
    const n = 2_500;
    const names = Array.from({ length: n }, (_, i) => `d/f-${String(i).padStart(5, '0')}, "q".txt`);
    await insertEntries(k.database.db, run.id, 'src', names.map((path) => ({ path, isDir: false, size: 1, mtimeMs: 1, hashes: {} })));
    await insertCheckItems(k.database.db, run.id, { largeFileThreshold: 1 << 30, batchFiles: 100, batchBytes: 1 << 30, caseInsensitive: false, listedHash: null, download: false, sizeOnly: false });
    const json = await (await fetch(`${k.url}/v1/runs/${run.id}/report`, { headers: { accept: 'application/json', authorization: `Bearer ${testAdminKey}` } })).json() as { rows: { path: string; action: string }[] };
    expect(json.rows.map((x) => x.path)).toEqual(names);
    expect(new Set(json.rows.map((x) => x.action))).toEqual(new Set(['missing_on_dst']));
    const csv = (await (await fetch(`${k.url}/v1/runs/${run.id}/report`, { headers: { accept: 'text/csv', authorization: `Bearer ${testAdminKey}` } })).text()).trimEnd().split('\r\n');
    expect(csv).toHaveLength(n + 1);
    // Commas and quotes in names are quoted as RFC 4180 says.
    expect(csv[n]).toBe(`"d/f-02499, ""q"".txt",missing_on_dst,checked,1,,,,,,0,0`);
  });
});
