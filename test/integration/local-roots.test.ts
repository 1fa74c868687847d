import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api, startInProcessKnarr, waitForRun, type InProcessKnarr } from '../support/knarr.js';
import { startJottacloudEmulator } from '../fakes/jottacloud/index.js';

/**
 * What a local remote may reach: on a service for many users only the operator's roots, and in
 * no mode knarr's own data directory (its database and master key).
 */
describe('local remotes and the machine knarr runs on', () => {
  let dir: string;
  let multiUser: InProcessKnarr;
  let oneOwner: InProcessKnarr;
  let none: InProcessKnarr;
  let out: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-roots-'));
    for (const d of ['allowed/photos', 'elsewhere', 'data']) await mkdir(join(dir, d), { recursive: true });
    out = await mkdtemp(join(tmpdir(), 'knarr-roots-out-'));
    await writeFile(join(dir, 'allowed/photos/a.jpg'), 'jpeg');
    await writeFile(join(dir, 'elsewhere/private.txt'), 'not yours');
    await writeFile(join(dir, 'data/master.key'), 'the master key');
    await writeFile(join(dir, 'kept.txt'), 'beside the data dir');
    await symlink(join(dir, 'elsewhere'), join(dir, 'allowed/escape'));
    const databaseUrl = inject('databaseUrl');
    const dataDir = join(dir, 'data');
    multiUser = await startInProcessKnarr({ databaseUrl, host: { localRoots: [join(dir, 'allowed')], protectedPaths: [dataDir], privateNetworks: true } });
    oneOwner = await startInProcessKnarr({ databaseUrl, host: { localRoots: null, protectedPaths: [dataDir], privateNetworks: true } });
    none = await startInProcessKnarr({ databaseUrl, host: { localRoots: [], protectedPaths: [dataDir], privateNetworks: true }, worker: false });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([multiUser, oneOwner, none].map((k) => k?.stop()));
    for (const d of [dir, out]) if (d) await rm(d, { recursive: true, force: true });
  });

  const remote = (k: InProcessKnarr, name: string, root: string) => api(k.url, 'POST', '/v1/remotes', { name, type: 'local', config: { root } });
  const names = async (k: InProcessKnarr) => (await api(k.url, 'GET', '/v1/remotes?limit=1000')).body.data.map((r: { name: string }) => r.name) as string[];

  it('refuses, with 403 naming config.root, a folder outside KNARR_LOCAL_ROOTS, by any spelling, and saves nothing', async () => {
    for (const [i, root] of ['/', '/etc', join(dir, 'elsewhere'), `${join(dir, 'allowed')}/../elsewhere`, join(dir, 'allowed-not')].entries()) {
      const r = await remote(multiUser, `outside-${i}`, root);
      expect(r.status, `${root}: ${JSON.stringify(r.body)}`).toBe(403);
      expect(r.body.error).toMatchObject({ code: 'not_allowed', field: 'config.root' });
      expect(r.body.error.message).toContain('KNARR_LOCAL_ROOTS');
    }
    expect(await names(multiUser)).not.toContain('outside-0');
    const ok = await remote(multiUser, 'inside', join(dir, 'allowed/photos'));
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
  });

  it('refuses a root that leads out of the allowed roots through a symbolic link, once the worker has looked', async () => {
    const r = await remote(multiUser, 'escape', join(dir, 'allowed/escape'));
    expect(r.status, JSON.stringify(r.body)).toBe(422);
    expect(r.body.error.message).toMatch(/outside the folders this server allows/);
    expect(await names(multiUser)).not.toContain('escape');
  });

  it('allows no local remote at all when the operator named no root', async () => {
    const r = await remote(none, 'any', join(dir, 'allowed'));
    expect(r.status).toBe(403);
    expect(r.body.error.message).toMatch(/allows none.*KNARR_LOCAL_ROOTS/);
  });

  it("never reaches knarr's data directory, even from a root that holds it", async () => {
    for (const root of [join(dir, 'data'), join(dir, 'data/sub')]) {
      const r = await remote(oneOwner, 'data', root);
      expect(r.status, JSON.stringify(r.body)).toBe(403);
      expect(r.body.error.message).toContain("knarr's own data directory");
    }
    expect((await remote(oneOwner, 'parent', dir)).status).toBe(201);
    expect((await remote(oneOwner, 'out', out)).status).toBe(201);
    const ls = await api(oneOwner.url, 'GET', '/v1/remotes/parent/ls');
    expect(ls.status, JSON.stringify(ls.body)).toBe(200);
    expect(ls.body.data.map((e: { name: string }) => e.name)).toEqual(['allowed', 'elsewhere', 'kept.txt']);
    expect((await api(oneOwner.url, 'GET', '/v1/remotes/parent/ls?path=data')).status).toBe(404);
    const job = await api(oneOwner.url, 'POST', '/v1/jobs', { source: 'parent:data', destination: 'out:stolen', mode: 'copy' });
    expect(job.status).toBe(422);
    expect(job.body.error.code).toBe('source_not_found');

    // A copy of the whole parent folder leaves the data directory out.
    const whole = await api(oneOwner.url, 'POST', '/v1/jobs', { source: 'parent:', destination: 'out:', mode: 'copy' });
    expect(whole.status, JSON.stringify(whole.body)).toBe(202);
    const done = await waitForRun(oneOwner.url, whole.body.runId);
    expect(done.state, JSON.stringify(done)).toBe('completed');
    expect(existsSync(join(out, 'data'))).toBe(false);
    expect((await readdir(out)).sort()).toEqual(['allowed', 'elsewhere', 'kept.txt']);
  }, 120_000);

  it("refuses, on a server for many users, an endpoint on this machine's networks, by address or by name", async () => {
    const emu = await startJottacloudEmulator();
    const guarded = await startInProcessKnarr({ databaseUrl: inject('databaseUrl'), host: { localRoots: [], protectedPaths: [join(dir, 'data')], privateNetworks: false } });
    try {
      const port = new URL(emu.url).port;
      for (const [i, base] of [emu.url, `http://localhost:${port}`, `http://[::ffff:127.0.0.1]:${port}`].entries()) {
        const r = await api(guarded.url, 'POST', '/v1/remotes', { name: `inside-${i}`, type: 'jottacloud', config: { loginToken: emu.issueLoginToken(), jfsUrl: `${base}/jfs/`, apiUrl: `${base}/` } });
        expect(r.status, `${base}: ${JSON.stringify(r.body)}`).toBe(422);
        expect(r.body.error.message).toMatch(/private or local address/);
      }
      expect((await api(guarded.url, 'GET', '/v1/remotes')).body.data.map((x: { name: string }) => x.name)).not.toContain('inside-0');
      // The same emulator is fine where the owner allows it (a NAS on the LAN, here the emulator).
      const ok = await api(oneOwner.url, 'POST', '/v1/remotes', { name: 'lan', type: 'jottacloud', config: { loginToken: emu.issueLoginToken(), jfsUrl: emu.jfsUrl, apiUrl: emu.apiUrl } });
      expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    } finally {
      await guarded.stop();
      await emu.stop();
    }
  }, 120_000);
});
