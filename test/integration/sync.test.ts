import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, knarrWithLocalRemotes, waitForRun, type InProcessKnarr } from '../support/knarr.js';
import { describeTree, expectSameTree } from '../support/tree.js';

const t0 = new Date(Date.UTC(2026, 0, 1));
const finished = ['completed', 'completed_with_errors', 'failed', 'cancelled'];

async function put(root: string, files: Record<string, string>): Promise<void> {
  for (const [name, body] of Object.entries(files)) {
    await mkdir(join(root, name, '..'), { recursive: true });
    await writeFile(join(root, name), body);
    await utimes(join(root, name), t0, t0);
  }
}

/** Files under a root, relative, sorted (folders only as the files in them). */
async function filesOf(root: string): Promise<string[]> {
  return [...(await describeTree(root)).keys()].sort();
}

/**
 * sync, move and dry runs through the API on local trees, each test on its own pair of folders
 * under one knarr: the destination becomes the source's mirror only after approval, within the
 * delete guards, never after copy errors and never touching excluded files.
 */
for (const db of ['postgres', 'pglite'] as const) describe(`sync, move and dry-run approval through the API (${db})`, () => {
  let k: InProcessKnarr;
  let dir: string;
  const suffix = Math.random().toString(36).slice(2, 8);
  const src = (p = '') => join(dir, 'src', p);
  const dst = (p = '') => join(dir, 'dst', p);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-sync-'));
    k = await knarrWithLocalRemotes(dir, suffix, db);
  });
  afterAll(async () => {
    await k?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (name: string, mode: string, options: Record<string, unknown> = {}, filters?: Record<string, unknown>) => {
    const r = await api(k.url, 'POST', '/v1/jobs', { source: `src-${suffix}:${name}`, destination: `dst-${suffix}:${name}`, mode, options, ...(filters ? { filters } : {}) });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return r.body.runId as string;
  };
  const awaiting = (runId: string) => waitForRun(k.url, runId, 120_000, (r) => r.state === 'awaiting_approval' || finished.includes(r.state));
  const events = async (runId: string) => (await api(k.url, 'GET', `/v1/runs/${runId}/events`)).body.data as { kind: string; message: string }[];

  it('waits with its plan for approval by digest, then deletes what only the destination has, except excluded files', async () => {
    await put(src('a'), { 'keep.txt': 'same', 'new.txt': 'new', 'changed.txt': 'v2 longer' });
    await put(dst('a'), { 'keep.txt': 'same', 'changed.txt': 'v1', 'old.txt': 'old', 'gone/deep/x.txt': 'x', 'notes.local': 'mine' });
    const runId = await start('a', 'sync', {}, { exclude: ['*.local'] });

    const waiting = await awaiting(runId);
    expect(waiting.state).toBe('awaiting_approval');
    expect(waiting.plan.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(waiting.plan.groups).toMatchObject({
      copy: { files: 1, first: ['new.txt'] },
      overwrite: { files: 1, first: ['changed.txt'] },
      delete: { files: 2, bytes: 4, first: ['gone', 'gone/deep', 'gone/deep/x.txt', 'old.txt'] },
      skip: { files: 1, first: ['keep.txt'] },
    });
    // Nothing is written before approval.
    expect(await filesOf(dst('a'))).toEqual(['changed.txt', 'gone/deep/x.txt', 'keep.txt', 'notes.local', 'old.txt']);

    const wrong = await api(k.url, 'POST', `/v1/runs/${runId}/approve`, { digest: 'sha256:' + '0'.repeat(64) });
    expect(wrong.status).toBe(409);
    expect(wrong.body.error.code).toBe('digest_mismatch');
    expect((await api(k.url, 'POST', `/v1/runs/${runId}/approve`, {})).status).toBe(400);

    const ok = await api(k.url, 'POST', `/v1/runs/${runId}/approve`, { digest: waiting.plan.digest });
    expect(ok.status, JSON.stringify(ok.body)).toBe(202);
    const run = await waitForRun(k.url, runId);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    expect(run.files).toMatchObject({ total: 2, done: 2, deleted: 2, failed: 0 });
    expect(await filesOf(dst('a'))).toEqual(['changed.txt', 'keep.txt', 'new.txt', 'notes.local']);
    expect(existsSync(dst('a/gone'))).toBe(false);
    expect(await readFile(dst('a/changed.txt'), 'utf8')).toBe('v2 longer');
    expect((await events(runId)).map((e) => e.kind)).toEqual(expect.arrayContaining(['plan_stored', 'approved', 'folders_removed']));

    const report = await api(k.url, 'GET', `/v1/runs/${runId}/report`);
    const rows = report.body.rows;
    expect(rows).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'old.txt', action: 'delete', state: 'deleted' })]));

    const again = await api(k.url, 'POST', `/v1/runs/${runId}/approve`, { digest: waiting.plan.digest });
    expect(again.status).toBe(409);
  });

  it('deletes nothing beyond maxDelete, from an empty source, or after a copy error', async () => {
    await put(src('b'), { 'one.txt': '1' });
    await put(dst('b'), { 'x1.txt': 'x', 'x2.txt': 'x', 'x3.txt': 'x' });
    const capped = await waitForRun(k.url, await start('b', 'sync', { approve: 'auto', maxDelete: 2 }));
    expect(capped.state).toBe('completed_with_errors');
    expect(capped.files).toMatchObject({ done: 1, deleted: 0, failed: 3 });
    expect(await filesOf(dst('b'))).toEqual(['one.txt', 'x1.txt', 'x2.txt', 'x3.txt']);
    expect((await events(capped.id)).find((e) => e.kind === 'deletes_refused')!.message).toMatch(/more than maxDelete \(2\)/);

    await mkdir(src('c'), { recursive: true });
    await put(dst('c'), { 'precious.txt': 'p' });
    const empty = await waitForRun(k.url, await start('c', 'sync', { approve: 'auto' }));
    expect(empty.state).toBe('completed_with_errors');
    expect(await filesOf(dst('c'))).toEqual(['precious.txt']);
    expect((await events(empty.id)).find((e) => e.kind === 'deletes_refused')!.message).toMatch(/allowEmptySource/);
    const allowed = await waitForRun(k.url, await start('c', 'sync', { approve: 'auto', allowEmptySource: true }));
    expect(allowed.state).toBe('completed');
    expect(await filesOf(dst('c'))).toEqual([]);

    // A source file whose destination path is a folder cannot be copied: the sync then deletes nothing.
    await put(src('d'), { 'blocked': 'a file', 'fine.txt': 'ok' });
    await put(dst('d'), { 'blocked/inside.txt': 'a folder here', 'extra.txt': 'e' });
    const failed = await waitForRun(k.url, await start('d', 'sync', { approve: 'auto' }));
    expect(failed.state).toBe('completed_with_errors');
    expect(failed.files).toMatchObject({ deleted: 0 });
    expect(await filesOf(dst('d'))).toEqual(['blocked/inside.txt', 'extra.txt', 'fine.txt']);
    expect((await events(failed.id)).map((e) => e.kind)).toContain('deletes_skipped');
  });

  it('backupDir keeps what a sync overwrites or deletes', async () => {
    await put(src('e'), { 'doc.txt': 'new text' });
    await put(dst('e'), { 'doc.txt': 'old', 'stale.txt': 'stale' });
    const run = await waitForRun(k.url, await start('e', 'sync', { approve: 'auto', backupDir: 'attic/e' }));
    expect(run.state, JSON.stringify(run)).toBe('completed');
    expect(await filesOf(dst('e'))).toEqual(['doc.txt']);
    expect(await readFile(dst('attic/e/doc.txt'), 'utf8')).toBe('old');
    expect(await readFile(dst('attic/e/stale.txt'), 'utf8')).toBe('stale');
  });

  it('a dry run copies nothing until approved, and an approval is refused once the source changed', async () => {
    await put(src('f'), { 'a.txt': 'a', 'b/c.txt': 'c' });
    const runId = await start('f', 'copy', { dryRun: true });
    const waiting = await awaiting(runId);
    expect(waiting.state).toBe('awaiting_approval');
    expect(waiting.plan.groups.copy).toMatchObject({ files: 2, bytes: 2 });
    expect(existsSync(dst('f'))).toBe(false);
    await put(src('f'), { 'late.txt': 'added after the plan' });
    const refused = await api(k.url, 'POST', `/v1/runs/${runId}/approve`, { digest: waiting.plan.digest });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/source's top level changed/);
    expect((await api(k.url, 'GET', `/v1/runs/${runId}`)).body.state).toBe('awaiting_approval');
    expect((await api(k.url, 'POST', `/v1/runs/${runId}/cancel`)).status).toBe(202);
    expect((await waitForRun(k.url, runId)).state).toBe('cancelled');

    const second = await start('f', 'copy', { dryRun: true });
    const plan = (await awaiting(second)).plan;
    expect(plan.groups.copy.files).toBe(3);
    expect((await api(k.url, 'POST', `/v1/runs/${second}/approve`, { digest: plan.digest })).status).toBe(202);
    const run = await waitForRun(k.url, second);
    expect(run.state).toBe('completed');
    expect(run.files).toMatchObject({ total: 3, done: 3 });
    await expectSameTree(src('f'), dst('f'));
  });

  it('a plan not approved within planMaxAge ends the run with nothing done', async () => {
    await put(src('g'), { 'a.txt': 'a' });
    const run = await waitForRun(k.url, await start('g', 'copy', { dryRun: true, planMaxAge: '2s' }));
    expect(run.state).toBe('cancelled');
    expect(run.error).toMatch(/not approved within options.planMaxAge/);
    expect(existsSync(dst('g'))).toBe(false);
  });

  it('move deletes each source file once its copy verified, including files the destination already had', async () => {
    await put(src('h'), { 'a.txt': 'alpha', 'sub/b.txt': 'bravo', 'there.txt': 'same bytes' });
    await put(dst('h'), { 'there.txt': 'same bytes' });
    const run = await waitForRun(k.url, await start('h', 'move'));
    expect(run.state, JSON.stringify(run)).toBe('completed');
    expect(run.files).toMatchObject({ total: 3, done: 3, moved: 3, failed: 0 });
    expect(run.bytes.sent).toBe(10);
    expect(await filesOf(src('h'))).toEqual([]);
    expect(await filesOf(dst('h'))).toEqual(['a.txt', 'sub/b.txt', 'there.txt']);
    expect(await readFile(dst('h/sub/b.txt'), 'utf8')).toBe('bravo');
  });

  it('renames at the source are moved on the destination, nothing sent again (1,000 files reorganised)', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 1000; i++) files[`flat/f${String(i).padStart(4, '0')}.txt`] = `file number ${i} `.repeat(1 + (i % 7));
    await put(src('r'), files);
    const first = await waitForRun(k.url, await start('r', 'sync', { approve: 'auto' }));
    expect(first.state).toBe('completed');
    expect(first.files.done).toBe(1000);

    for (let i = 0; i < 1000; i++) {
      const name = `f${String(i).padStart(4, '0')}.txt`;
      await mkdir(src(`r/by-ten/${Math.floor(i / 10)}`), { recursive: true });
      await rename(src(`r/flat/${name}`), src(`r/by-ten/${Math.floor(i / 10)}/${name}`));
    }
    await rm(src('r/flat'), { recursive: true });
    const second = await waitForRun(k.url, await start('r', 'sync', { approve: 'auto' }));
    expect(second.state, JSON.stringify(second)).toBe('completed');
    expect(second.bytes.sent).toBe(0);
    expect(second.files).toMatchObject({ moved: 1000, deleted: 0, failed: 0 });
    await expectSameTree(src('r'), dst('r'));
    expect(await readdir(dst('r'))).toEqual(['by-ten']);
    expect((await stat(dst('r/by-ten/99/f0999.txt'))).size).toBe(files['flat/f0999.txt'].length);
  });

  it('copy copies renamed source files on the destination from the files already there, nothing sent, and keeps the old ones', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 200; i++) files[`old/f${String(i).padStart(3, '0')}.txt`] = `copy mode file ${i} `.repeat(1 + (i % 5));
    await put(src('c'), files);
    const first = await waitForRun(k.url, await start('c', 'copy'));
    expect(first.state).toBe('completed');

    for (let i = 0; i < 200; i++) {
      const name = `f${String(i).padStart(3, '0')}.txt`;
      await mkdir(src(`c/new/${i % 4}`), { recursive: true });
      await rename(src(`c/old/${name}`), src(`c/new/${i % 4}/${name}`));
    }
    // Same size and time as a file the destination holds, other bytes: uploaded, not copied from it.
    const impostor = files['old/f007.txt'].replace('copy', 'COPY');
    await writeFile(src('c/new/3/f007.txt'), impostor);
    await utimes(src('c/new/3/f007.txt'), t0, t0);
    const secondId = await start('c', 'copy');
    const second = await waitForRun(k.url, secondId);
    expect(second.state, JSON.stringify(second)).toBe('completed');
    expect(second.files).toMatchObject({ done: 200, failed: 0 });
    expect(second.bytes.sent).toBe(impostor.length);
    expect((await events(secondId)).filter((e) => e.kind === 'server_copied')).toHaveLength(199);
    expect((await events(secondId)).map((e) => e.kind)).toContain('rename_uploaded');
    await expectSameTree(src('c/new'), dst('c/new'));
    expect(await readFile(dst('c/new/3/f007.txt'), 'utf8')).toBe(impostor);
    const rows: { path: string; action: string; fromPath: string | null }[] = (await api(k.url, 'GET', `/v1/runs/${secondId}/report`)).body.rows;
    // The report tells which file came from where, and the uploaded impostor came from nowhere.
    expect(rows.find((r) => r.path === 'new/3/f007.txt')).toMatchObject({ action: 'copy', fromPath: null });
    expect(rows.find((r) => r.path === 'new/3/f003.txt')).toMatchObject({ action: 'copy', fromPath: 'old/f003.txt' });
    // copy never deletes: the old paths are still there.
    expect((await filesOf(dst('c/old'))).length).toBe(200);
  });
});
