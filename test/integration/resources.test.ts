import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, knarrWithLocalRemotes, waitForRun, type InProcessKnarr } from '../support/knarr.js';

/** Remotes and jobs change and go as a user expects: checked like new ones, never under a run. */
describe('updating and deleting remotes and jobs', () => {
  let dir: string;
  let k: InProcessKnarr;
  const suffix = randomBytes(3).toString('hex');
  const src = `src-${suffix}`;
  const dst = `dst-${suffix}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-resources-'));
    k = await knarrWithLocalRemotes(dir, suffix);
    await writeFile(join(dir, 'src/a.txt'), 'alpha');
    await mkdir(join(dir, 'dst2'));
  }, 60_000);

  afterAll(async () => {
    await k?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("changes a remote's settings after checking them, and keeps the old ones when the check fails", async () => {
    const moved = await api(k.url, 'PATCH', `/v1/remotes/${dst}`, { config: { root: join(dir, 'dst2') } });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body.config.root).toBe(join(dir, 'dst2'));
    const missing = await api(k.url, 'PATCH', `/v1/remotes/${dst}`, { config: { root: join(dir, 'nowhere') } });
    expect(missing.status).toBe(422);
    expect((await api(k.url, 'GET', `/v1/remotes/${dst}`)).body.config.root).toBe(join(dir, 'dst2'));
    const unknown = await api(k.url, 'PATCH', `/v1/remotes/${dst}`, { config: { colour: 'blue' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain('colour');
    const back = await api(k.url, 'PATCH', `/v1/remotes/${dst}`, { config: { root: join(dir, 'dst') } });
    expect(back.status).toBe(200);
  });

  it('changes a job for its next run, refuses while it runs, and deletes it with its runs', async () => {
    const job = await api(k.url, 'POST', '/v1/jobs', { source: `${src}:`, destination: `${dst}:one`, mode: 'copy' });
    expect((await waitForRun(k.url, job.body.runId)).state).toBe('completed');
    const jobId = job.body.jobId as string;
    const changed = await api(k.url, 'PATCH', `/v1/jobs/${jobId}`, { destination: `${dst}:two`, options: { transfers: 2 } });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body).toMatchObject({ destination: `${dst}:two`, options: { transfers: 2 } });
    expect((await api(k.url, 'PATCH', `/v1/jobs/${jobId}`, { destination: `${src}:inside` })).status).toBe(422);
    expect((await api(k.url, 'PATCH', `/v1/jobs/${jobId}`, {})).status).toBe(400);
    const next = await api(k.url, 'POST', `/v1/jobs/${jobId}/runs`);
    expect((await waitForRun(k.url, next.body.runId)).state).toBe('completed');
    expect(await readFile(join(dir, 'dst/two/a.txt'), 'utf8')).toBe('alpha');

    // A run held at 1 KiB/s is certainly still going while the job is changed.
    await writeFile(join(dir, 'src/slow.bin'), randomBytes(256 * 1024));
    await api(k.url, 'PATCH', `/v1/jobs/${jobId}`, { options: { bwlimit: '1K' } });
    const again = await api(k.url, 'POST', `/v1/jobs/${jobId}/runs`);
    expect(again.status).toBe(202);
    const busy = await api(k.url, 'PATCH', `/v1/jobs/${jobId}`, { mode: 'sync' });
    expect(busy.status).toBe(409);
    expect((await api(k.url, 'DELETE', `/v1/jobs/${jobId}`)).status).toBe(409);
    expect((await api(k.url, 'DELETE', `/v1/remotes/${src}`)).status).toBe(409);
    await api(k.url, 'POST', `/v1/runs/${again.body.runId}/cancel`);
    expect((await waitForRun(k.url, again.body.runId)).state).toBe('cancelled');

    expect((await api(k.url, 'DELETE', `/v1/jobs/${jobId}`)).status).toBe(204);
    expect((await api(k.url, 'GET', `/v1/jobs/${jobId}`)).status).toBe(404);
    expect((await api(k.url, 'GET', `/v1/runs/${again.body.runId}`)).status).toBe(404);
    // The files it copied stay where they are.
    expect(existsSync(join(dir, 'dst/one/a.txt'))).toBe(true);
  }, 120_000);
});
