import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDriveEmulator, type DriveEmulator } from '../fakes/drive/index.js';
import { startDropboxEmulator, type DropboxEmulator } from '../fakes/dropbox/index.js';
import { api, startInProcessKnarr, waitForRun, type InProcessKnarr } from '../support/knarr.js';

/**
 * Incremental runs from the source's change feed (Google Drive's changes API, emulated): the
 * first run of a job walks and leaves the feed's position with the job; the next plans from the
 * changes since then without listing either tree and copies only what changed. Drive's feed does
 * not name where a moved file was, so a sync job walks instead of deleting from it.
 */
describe('plans from the change feed', () => {
  const id = randomBytes(3).toString('hex');
  let emu: DriveEmulator;
  let dbx: DropboxEmulator;
  let k: InProcessKnarr;
  let dir: string;

  const events = async (runId: string): Promise<{ kind: string; message: string; data: Record<string, unknown> }[]> =>
    (await api(k.url, 'GET', `/v1/runs/${runId}/events?limit=500`)).body.data;
  const run = async (jobId: string) => {
    const r = await api(k.url, 'POST', `/v1/jobs/${jobId}/runs`, {});
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return waitForRun(k.url, r.body.runId, 120_000);
  };
  /** Folder listings: `files.list` for the children of folders, not a lookup of one name (which stat and the feed's paths use). */
  const listRequests = () => emu.log.filter((e) => e.role === 'list' && !decodeURIComponent(e.query.replace(/\+/g, ' ')).includes('name =')).length;
  /** A change another Dropbox client makes: an RPC of the API with the account's own token. */
  const dbxRpc = async (route: string, arg: unknown): Promise<number> => {
    const res = await fetch(`${dbx.url}/2/${route}`, {
      method: 'POST', headers: { authorization: `Bearer ${dbx.issueToken().access_token}`, 'content-type': 'application/json' }, body: JSON.stringify(arg),
    });
    await res.arrayBuffer();
    return res.status;
  };
  const local = async (...parts: string[]) => (await readFile(join(dir, ...parts))).toString();

  beforeAll(async () => {
    emu = await startDriveEmulator();
    dir = await mkdtemp(join(tmpdir(), 'knarr-feed-'));
    for (let i = 0; i < 30; i++) await emu.seed(`docs/d${i % 3}/file-${i}.txt`, `version 1 of ${i}`, { mtime: 1_700_000_000_000 });
    await emu.seed('docs/keep.txt', 'kept');
    emu.createGoogleDoc('docs/notes', 'document', { text: 'meeting notes', mtime: 1_700_000_000_000 });
    dbx = await startDropboxEmulator();
    k = await startInProcessKnarr({ databaseUrl: inject('databaseUrl'), oauthClients: { GOOGLE: { clientId: emu.clientId, clientSecret: emu.clientSecret } } });
    expect((await api(k.url, 'POST', '/v1/remotes', { name: `gd-${id}`, type: 'drive', config: emu.remoteConfig() })).status).toBe(201);
    expect((await api(k.url, 'POST', '/v1/remotes', { name: `disk-${id}`, type: 'local', config: { root: dir } })).status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await k?.stop();
    await Promise.allSettled([emu?.stop(), dbx?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the second run plans from the changes and copies only them', async () => {
    const job = await api(k.url, 'POST', '/v1/jobs', { source: `gd-${id}:docs`, destination: `disk-${id}:mirror`, mode: 'copy' });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const first = await waitForRun(k.url, job.body.runId, 120_000);
    expect(first.state, JSON.stringify(first)).toBe('completed');
    expect(first.files.done).toBe(32);
    // The Google Doc is exported and named for its format; the listing said so.
    expect(await local('mirror', 'notes.docx')).not.toHaveLength(0);
    expect((await events(job.body.runId)).map((e) => e.kind)).toContain('source_exported');
    expect((await events(job.body.runId)).map((e) => e.kind)).not.toContain('plan_from_changes');

    // A day of changes in the account: two files edited, one added, one moved to another folder, one deleted.
    await emu.seed('docs/d0/file-0.txt', 'version 2 of 0', { mtime: 1_800_000_000_000 });
    await emu.seed('docs/d1/file-1.txt', 'version 2 of 1', { mtime: 1_800_000_000_000 });
    await emu.seed('docs/new/added.txt', 'brand new');
    emu.move('docs/d2/file-2.txt', 'docs/d0/file-2-moved.txt');
    emu.remove('docs/keep.txt');
    const listsBefore = listRequests();
    const logBefore = emu.log.length;

    const second = await run(job.body.jobId);
    expect(second.state, JSON.stringify(second)).toBe('completed');
    // The plan came from the feed: the one folder listed is the new one, whose files the feed names as the folder.
    // The copy then lists each of the three folders it reads from once (d0, d1, new), and reads by those ids.
    expect(listRequests(), JSON.stringify(emu.log.slice(logBefore).filter((e) => e.role === 'list').map((e) => decodeURIComponent(e.query)))).toBe(listsBefore + 1 + 3);
    expect((await events(second.id)).find((e) => e.kind === 'plan_from_changes'), JSON.stringify(await events(second.id))).toBeDefined();
    expect(second.files.done).toBe(4);
    expect(await local('mirror', 'd0', 'file-0.txt')).toBe('version 2 of 0');
    expect(await local('mirror', 'd1', 'file-1.txt')).toBe('version 2 of 1');
    expect(await local('mirror', 'new', 'added.txt')).toBe('brand new');
    expect(await local('mirror', 'd0', 'file-2-moved.txt')).toBe('version 1 of 2');
    // A copy keeps what the source deleted.
    expect(await local('mirror', 'keep.txt')).toBe('kept');

    // Nothing changed since: the third run plans from the feed and has nothing to do.
    const third = await run(job.body.jobId);
    expect(third.state).toBe('completed');
    expect(third.files.total).toBe(0);
    expect((await events(third.id)).map((e) => e.kind)).toContain('plan_from_changes');
    expect(listRequests()).toBe(listsBefore + 1 + 3);
  }, 300_000);

  it("a sync job walks: Drive's feed does not say where a moved file was, so it cannot delete from it", async () => {
    const job = await api(k.url, 'POST', '/v1/jobs', { source: `gd-${id}:docs`, destination: `disk-${id}:synced`, mode: 'sync', options: { approve: 'auto' } });
    expect((await waitForRun(k.url, job.body.runId, 120_000)).state).toBe('completed');
    emu.move('docs/d0/file-3.txt', 'docs/d1/file-3-moved.txt');
    const next = await run(job.body.jobId);
    expect(next.state).toBe('completed');
    expect((await events(next.id)).map((e) => e.kind)).not.toContain('plan_from_changes');
    const d0 = await readdir(join(dir, 'synced', 'd0'));
    expect(d0).not.toContain('file-3.txt');
    expect(await local('synced', 'd1', 'file-3-moved.txt')).toBe('version 1 of 3');
  }, 300_000);

  // The filters hold for the destination's side of a deletion (its size, its name), as in a walk;
  // a deleted source file has no size to be filtered by.
  it("a Dropbox sync plans from the feed, which names what was deleted or moved away; what the filters leave out is never deleted", async () => {
    for (let i = 0; i < 6; i++) await dbx.seed(`/box/f${i}.txt`, Buffer.from(`file ${i}`), Date.UTC(2024, 0, 1));
    await dbx.seed('/box/notes.tmp', Buffer.from('scratch'), Date.UTC(2024, 0, 1));
    expect((await api(k.url, 'POST', '/v1/remotes', { name: `dbx-${id}`, type: 'dropbox', config: dbx.remoteConfig() })).status).toBe(201);
    const job = await api(k.url, 'POST', '/v1/jobs', { source: `dbx-${id}:box`, destination: `disk-${id}:boxed`, mode: 'sync', filters: { exclude: ['*.tmp'], minSize: 1 }, options: { approve: 'auto' } });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    expect((await waitForRun(k.url, job.body.runId, 120_000)).state).toBe('completed');
    // A file the filters leave out, put on the destination by someone else: no sync may delete it.
    await writeFile(join(dir, 'boxed', 'local.tmp'), 'kept');

    // At the source: one file deleted, one moved into a new folder, and the excluded one deleted.
    expect(await dbxRpc('files/delete_v2', { path: '/box/f1.txt' })).toBe(200);
    expect(await dbxRpc('files/move_v2', { from_path: '/box/f2.txt', to_path: '/box/sub/f2-moved.txt' })).toBe(200);
    expect(await dbxRpc('files/delete_v2', { path: '/box/notes.tmp' })).toBe(200);

    const next = await run(job.body.jobId);
    expect(next.state, JSON.stringify(next)).toBe('completed');
    expect((await events(next.id)).map((e) => e.kind)).toContain('plan_from_changes');
    const boxed = await readdir(join(dir, 'boxed'));
    expect(boxed.sort()).toEqual(['f0.txt', 'f3.txt', 'f4.txt', 'f5.txt', 'local.tmp', 'sub'].sort());
    expect(await local('boxed', 'sub', 'f2-moved.txt')).toBe('file 2');
  }, 300_000);

  it('a feed the provider no longer answers from: the run walks instead, and says so', async () => {
    const job = await api(k.url, 'POST', '/v1/jobs', { source: `gd-${id}:docs`, destination: `disk-${id}:again`, mode: 'copy' });
    expect((await waitForRun(k.url, job.body.runId, 120_000)).state).toBe('completed');
    emu.faults.apply({ expireChangeTokens: true });
    await emu.seed('docs/d0/file-6.txt', 'version 2 of 6', { mtime: 1_800_000_000_000 });
    const next = await run(job.body.jobId);
    expect(next.state).toBe('completed');
    const kinds = (await events(next.id)).map((e) => e.kind);
    expect(kinds).toContain('changes_resync');
    expect(kinds).not.toContain('plan_from_changes');
    expect(await local('again', 'd0', 'file-6.txt')).toBe('version 2 of 6');
  }, 300_000);
});
