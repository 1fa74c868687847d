import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { api, startInProcessKnarr, type InProcessKnarr } from '../support/knarr.js';
import { searchAttributes } from '../../core/searchAttributes.js';

/**
 * One user's things are invisible to another: user B, with a valid key, tries every route on
 * user A's remotes, jobs, runs and keys. The table must name every route the API has, so a new
 * route cannot land without someone deciding what B sees of it.
 */
describe('users and keys', () => {
  let k: InProcessKnarr;
  let dir: string;
  const suffix = randomBytes(3).toString('hex');
  const a = { id: '', key: '', keyId: '', name: `alice-${suffix}` };
  const b = { id: '', key: '', name: `bob-${suffix}` };
  const ids = { run: '', job: '', schedule: '', src: `photos-${suffix}`, dst: `backup-${suffix}` };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-security-'));
    for (const side of ['src', 'dst']) await mkdir(join(dir, side));
    await writeFile(join(dir, 'src/secret-of-alice.txt'), 'alice only');
    k = await startInProcessKnarr({ databaseUrl: inject('databaseUrl') });
    for (const user of [a, b]) {
      const made = await api(k.url, 'POST', '/v1/users', { name: user.name });
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      expect(made.body).toMatchObject({ id: expect.any(String), name: user.name });
      user.id = made.body.id;
      const key = await api(k.url, 'POST', `/v1/users/${user.id}/keys`);
      expect(key.status).toBe(201);
      user.key = key.body.key;
      if (user === a) a.keyId = key.body.id;
    }
    const as = { key: a.key };
    expect((await api(k.url, 'POST', '/v1/remotes', { name: ids.src, type: 'local', config: { root: join(dir, 'src') } }, as)).status).toBe(201);
    expect((await api(k.url, 'POST', '/v1/remotes', { name: ids.dst, type: 'local', config: { root: join(dir, 'dst') } }, as)).status).toBe(201);
    const job = await api(k.url, 'POST', '/v1/jobs', { source: `${ids.src}:`, destination: `${ids.dst}:`, mode: 'copy' }, as);
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    ids.job = job.body.jobId;
    ids.run = job.body.runId;
    const asA = (path: string) => api(k.url, 'GET', path, undefined, as);
    for (let i = 0; i < 400; i++) {
      const r = await asA(`/v1/runs/${ids.run}`);
      if (r.body.state === 'completed') break;
      await new Promise((res) => setTimeout(res, 250));
    }
    expect((await asA(`/v1/runs/${ids.run}`)).body.state).toBe('completed');
    const schedule = await api(k.url, 'POST', '/v1/schedules', { name: `nightly-${suffix}`, source: `${ids.src}:`, destination: `${ids.dst}:nightly`, cron: '0 2 * * *', timezone: 'Europe/Oslo' }, as);
    expect(schedule.status, JSON.stringify(schedule.body)).toBe(201);
    ids.schedule = schedule.body.id;
  }, 120_000);

  afterAll(async () => {
    if (ids.schedule) await api(k.url, 'DELETE', `/v1/schedules/${ids.schedule}`, undefined, { key: a.key });
    await k?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** What user B meets on each route when it names A's things; `status` is what B must get. */
  const asB: Record<string, { path: () => string; body?: unknown; status: number }> = {
    'GET /v1/me': { path: () => '/v1/me', status: 200 },
    'POST /v1/users': { path: () => '/v1/users', body: { name: `mallory-${suffix}` }, status: 403 },
    'GET /v1/users': { path: () => '/v1/users', status: 403 },
    'GET /v1/users/:id': { path: () => `/v1/users/${a.id}`, status: 404 },
    'POST /v1/users/:id/keys': { path: () => `/v1/users/${a.id}/keys`, status: 404 },
    'GET /v1/users/:id/keys': { path: () => `/v1/users/${a.id}/keys`, status: 404 },
    'DELETE /v1/users/:id/keys/:keyId': { path: () => `/v1/users/${a.id}/keys/${a.keyId}`, status: 404 },
    // Names are per user: B's own remote of the same name is another remote, and A's is untouched.
    'POST /v1/remotes': { path: () => '/v1/remotes', get body() { return { name: ids.src, type: 'local', config: { root: join(dir, 'dst') } }; }, status: 201 },
    'GET /v1/remotes': { path: () => '/v1/remotes', status: 200 },
    'GET /v1/remotes/:name': { path: () => `/v1/remotes/${ids.dst}`, status: 404 },
    'DELETE /v1/remotes/:name': { path: () => `/v1/remotes/${ids.dst}`, status: 404 },
    'PATCH /v1/remotes/:name': { path: () => `/v1/remotes/${ids.dst}`, body: { config: { root: '/' } }, status: 404 },
    'GET /v1/remotes/:name/about': { path: () => `/v1/remotes/${ids.dst}/about`, status: 404 },
    'GET /v1/remotes/:name/ls': { path: () => `/v1/remotes/${ids.dst}/ls`, status: 404 },
    'DELETE /v1/session': { path: () => '/v1/session', status: 204 },
    'PUT /v1/remotes/:name/credentials': { path: () => `/v1/remotes/${ids.dst}/credentials`, body: {}, status: 404 },
    'POST /v1/remotes/:name/reconnect': { path: () => `/v1/remotes/${ids.dst}/reconnect`, status: 404 },
    'POST /v1/jobs': { path: () => '/v1/jobs', body: { source: `${ids.dst}:`, destination: `${ids.src}:stolen`, mode: 'copy' }, status: 422 },
    'GET /v1/jobs': { path: () => '/v1/jobs', status: 200 },
    'GET /v1/jobs/:id': { path: () => `/v1/jobs/${ids.job}`, status: 404 },
    'POST /v1/jobs/:id/runs': { path: () => `/v1/jobs/${ids.job}/runs`, status: 404 },
    'DELETE /v1/jobs/:id': { path: () => `/v1/jobs/${ids.job}`, status: 404 },
    'PATCH /v1/jobs/:id': { path: () => `/v1/jobs/${ids.job}`, body: { mode: 'sync' }, status: 404 },
    'POST /v1/schedules': { path: () => '/v1/schedules', body: { name: 'steal', source: `${ids.dst}:`, destination: `${ids.src}:x`, every: '1h' }, status: 422 },
    'GET /v1/schedules': { path: () => '/v1/schedules', status: 200 },
    'GET /v1/schedules/:id': { path: () => `/v1/schedules/${ids.schedule}`, status: 404 },
    'POST /v1/schedules/:id/pause': { path: () => `/v1/schedules/${ids.schedule}/pause`, status: 404 },
    'POST /v1/schedules/:id/unpause': { path: () => `/v1/schedules/${ids.schedule}/unpause`, status: 404 },
    'POST /v1/schedules/:id/trigger': { path: () => `/v1/schedules/${ids.schedule}/trigger`, status: 404 },
    'DELETE /v1/schedules/:id': { path: () => `/v1/schedules/${ids.schedule}`, status: 404 },
    'GET /v1/runs': { path: () => '/v1/runs', status: 200 },
    'GET /v1/runs/:id': { path: () => `/v1/runs/${ids.run}`, status: 404 },
    'GET /v1/runs/:id/events': { path: () => `/v1/runs/${ids.run}/events`, status: 404 },
    'GET /v1/runs/:id/files': { path: () => `/v1/runs/${ids.run}/files`, status: 404 },
    'GET /v1/runs/:id/report': { path: () => `/v1/runs/${ids.run}/report`, status: 404 },
    'POST /v1/runs/:id/pause': { path: () => `/v1/runs/${ids.run}/pause`, status: 404 },
    'POST /v1/runs/:id/resume': { path: () => `/v1/runs/${ids.run}/resume`, status: 404 },
    'POST /v1/runs/:id/limits': { path: () => `/v1/runs/${ids.run}/limits`, body: { transfers: 2 }, status: 404 },
    'POST /v1/runs/:id/approve': { path: () => `/v1/runs/${ids.run}/approve`, body: { digest: 'x' }, status: 404 },
    'POST /v1/runs/:id/retry': { path: () => `/v1/runs/${ids.run}/retry`, status: 404 },
    'POST /v1/runs/:id/cancel': { path: () => `/v1/runs/${ids.run}/cancel`, status: 404 },
  };

  it('holds every route of the API to an owner check', () => {
    expect(Object.keys(asB).sort()).toEqual([...k.routes].sort());
  });

  it('answers no key, a malformed header, a wrong key and a revoked key with 401 on every route, and changes nothing', async () => {
    const revoked = await api(k.url, 'POST', `/v1/users/${b.id}/keys`);
    expect((await api(k.url, 'DELETE', `/v1/users/${b.id}/keys/${revoked.body.id}`)).status).toBe(204);
    for (const route of k.routes) {
      const [method] = route.split(' ');
      const { path, body } = asB[route]!;
      for (const key of [null, `knarr_${randomBytes(32).toString('base64url')}`, revoked.body.key]) {
        const r = await api(k.url, method!, path(), body, { key });
        expect(r.status, `${route} with key ${key}`).toBe(401);
        expect(r.body.error.code).toMatch(/^(unauthorized|invalid_key)$/);
      }
      const raw = await fetch(k.url + path(), { method, headers: { authorization: a.key } });
      expect(raw.status, `${route} without "Bearer"`).toBe(401);
    }
  });

  it("lets user B read, list, change, delete or use none of user A's things, and tells B nothing about them", async () => {
    for (const [route, { path, body, status }] of Object.entries(asB)) {
      const [method] = route.split(' ');
      const r = await api(k.url, method!, path(), body, { key: b.key });
      expect(r.status, `${route}: ${JSON.stringify(r.body)}`).toBe(status);
      const text = JSON.stringify(r.body);
      // Only what B itself sent may come back (a 404 names the id asked for).
      for (const secret of [a.name, a.id, a.keyId, ids.job, ids.run, ids.schedule, `nightly-${suffix}`, 'secret-of-alice', join(dir, 'src')].filter((x) => !path().includes(x))) {
        expect(text, `${route} shows B "${secret}"`).not.toContain(secret);
      }
      if (status === 404 && path().includes(ids.run)) {
        // A run of A's and a run that never existed get the same answer.
        const none = await api(k.url, method!, path().replace(ids.run, randomUUID()), body, { key: b.key });
        expect(none.status).toBe(404);
        expect(none.body.error.code).toBe(r.body.error.code);
      }
    }
    const lists = await Promise.all(['/v1/remotes', '/v1/jobs', '/v1/runs', '/v1/schedules'].map((p) => api(k.url, 'GET', p, undefined, { key: b.key })));
    expect(lists[3]!.body).toEqual({ data: [], next: null });
    expect(lists[0]!.body.data.map((r: { name: string }) => r.name)).toEqual([ids.src]);
    expect(lists[1]!.body).toEqual({ data: [], next: null });
    expect(lists[2]!.body).toEqual({ data: [], next: null });
    expect((await api(k.url, 'GET', '/v1/me', undefined, { key: b.key })).body).toEqual({ id: b.id, name: b.name, admin: false });

    // A's things are as they were.
    const as = { key: a.key };
    expect((await api(k.url, 'GET', `/v1/runs/${ids.run}`, undefined, as)).body).toMatchObject({ state: 'completed', files: { done: 1 } });
    expect((await api(k.url, 'GET', `/v1/jobs/${ids.job}`, undefined, as)).body).toMatchObject({ source: `${ids.src}:`, destination: `${ids.dst}:` });
    expect((await api(k.url, 'GET', `/v1/schedules/${ids.schedule}`, undefined, as)).body).toMatchObject({ state: 'active', cron: '0 2 * * *' });
    const mine = await api(k.url, 'GET', '/v1/remotes', undefined, as);
    expect(mine.body.data.map((r: { name: string; config: { root: string } }) => [r.name, r.config.root])).toEqual([[ids.dst, join(dir, 'dst')], [ids.src, join(dir, 'src')]]);
    expect((await api(k.url, 'GET', `/v1/users/${a.id}/keys`, undefined, as)).body.data).toMatchObject([{ id: a.keyId, revokedAt: null }]);
  });

  it('lets a user run their own job again, and the admin see everyone', async () => {
    const again = await api(k.url, 'POST', `/v1/jobs/${ids.job}/runs`, undefined, { key: a.key });
    expect(again.status, JSON.stringify(again.body)).toBe(202);
    for (let i = 0; i < 400; i++) {
      const r = await api(k.url, 'GET', `/v1/runs/${again.body.runId}`, undefined, { key: a.key });
      if (r.body.state === 'completed') break;
      await new Promise((res) => setTimeout(res, 250));
    }
    const runs = await api(k.url, 'GET', `/v1/runs?job=${ids.job}&limit=1`, undefined, { key: a.key });
    expect(runs.body.data.map((r: { id: string }) => r.id)).toEqual([again.body.runId]);
    const next = await api(k.url, 'GET', `/v1/runs?job=${ids.job}&limit=1&after=${runs.body.next}`, undefined, { key: a.key });
    expect(next.body.data.map((r: { id: string }) => r.id)).toEqual([ids.run]);
    const users = await api(k.url, 'GET', '/v1/users?limit=1000');
    expect(users.body.data.map((u: { name: string }) => u.name)).toEqual(expect.arrayContaining(['admin', a.name, b.name]));
    expect((await api(k.url, 'POST', '/v1/users', { name: a.name })).status).toBe(409);
  }, 120_000);

  it("lets an operator find a user's runs in Temporal Web by owner, job and state", async () => {
    const query = `KnarrOwner = "${a.name}" AND KnarrJobId = "${ids.job}" AND KnarrState = "completed"`;
    let found: string[] = [];
    for (let i = 0; i < 120 && found.length < 2; i++) {
      found = [];
      for await (const wf of k.client.workflow.list({ query })) found.push(wf.workflowId);
      if (found.length < 2) await new Promise((res) => setTimeout(res, 250));
    }
    expect(found).toContain(`run-${ids.run}`);
    const described = await k.client.workflow.getHandle(`run-${ids.run}`).describe();
    expect(described.typedSearchAttributes.get(searchAttributes.sourceType)).toBe('local');
    expect(described.typedSearchAttributes.get(searchAttributes.destinationType)).toBe('local');
    expect(await described.staticSummary()).toBe(`copy ${ids.src}: → ${ids.dst}: (${a.name})`);
    let none = 0;
    for await (const _wf of k.client.workflow.list({ query: `KnarrOwner = "${b.name}"` })) none++;
    expect(none).toBe(0);
  }, 60_000);
});
