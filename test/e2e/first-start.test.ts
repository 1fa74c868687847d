import { readFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api } from '../support/knarr.js';
import { embeddedServer, ensureStopped, spawnKnarr, type KnarrProcess } from '../support/processes.js';

/** `npm start` on a fresh clone, with no KNARR_ADMIN_KEY: the admin key is made once, and nothing is open without it. */
describe('knarr server on first start', () => {
  let dir: string;
  let proc: KnarrProcess | undefined;

  afterAll(async () => {
    await ensureStopped(proc);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints an admin key once, writes it 0600 for the CLI, and answers 401 without it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-first-start-'));
    const { env, base } = await embeddedServer(dir);
    const start = async () => {
      proc = spawnKnarr('server', { ...env, KNARR_ADMIN_KEY: undefined });
      await proc.waitFor(/server ready/, 180_000);
      await proc.waitFor(/local remotes/);
      return proc;
    };
    const first = await start();
    const file = join(dir, 'data/admin.key');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const key = (await readFile(file, 'utf8')).trim();
    expect(key).toMatch(/^knarr_[A-Za-z0-9_-]{43}$/);
    expect(first.output().split(key).length - 1).toBe(1);
    expect(first.output()).toContain('local remotes any folder');

    expect((await api(base, 'GET', '/v1/remotes', undefined, { key: null })).status).toBe(401);
    const noKey = await api(base, 'POST', '/v1/remotes', { name: 'root', type: 'local', config: { root: '/' } }, { key: null });
    expect(noKey.status).toBe(401);
    expect(noKey.body.error.message).toContain('admin.key');
    expect((await api(base, 'GET', '/v1/me', undefined, { key })).body).toMatchObject({ name: 'admin', admin: true });
    const data = await api(base, 'POST', '/v1/remotes', { name: 'data', type: 'local', config: { root: join(dir, 'data') } }, { key });
    expect(data.status).toBe(403);
    expect((await api(base, 'GET', '/v1/remotes', undefined, { key })).body).toEqual({ data: [], next: null });

    await first.killGroup('SIGTERM');
    await first.exited;
    const second = await start();
    expect(second.output()).not.toContain('admin API key');
    expect((await api(base, 'GET', '/v1/me', undefined, { key })).status).toBe(200);
  }, 400_000);
});
