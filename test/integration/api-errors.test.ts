import { mkdtemp, readdir, rm, mkdir } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { jobs, runs, remotes } from '../../db/schema.js';
import { api, startInProcessKnarr, type InProcessKnarr } from '../support/knarr.js';

// Every client mistake: a 4xx with {"error":{"code","message","field"}}, no stack trace, nothing written.
describe('API refuses bad input clearly and writes nothing', () => {
  let k: InProcessKnarr;
  let dir: string;
  const name = (n: string) => `${n}-${Math.random().toString(36).slice(2, 8)}`;
  let src: string;
  let dst: string;
  // Its own user, so what other test files write to the shared database at the same time is not counted.
  const user = { id: '', key: '' };
  const call = (method: string, path: string, body?: unknown) => api(k.url, method, path, body, { key: user.key });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-api-'));
    await mkdir(join(dir, 'src/folder'), { recursive: true });
    await mkdir(join(dir, 'dst'), { recursive: true });
    k = await startInProcessKnarr({ databaseUrl: inject('databaseUrl') });
    user.id = (await api(k.url, 'POST', '/v1/users', { name: name('api-errors') })).body.id;
    user.key = (await api(k.url, 'POST', `/v1/users/${user.id}/keys`)).body.key;
    src = name('src');
    dst = name('dst');
    expect((await call('POST', '/v1/remotes', { name: src, type: 'local', config: { root: join(dir, 'src') } })).status).toBe(201);
    expect((await call('POST', '/v1/remotes', { name: dst, type: 'local', config: { root: join(dir, 'dst') } })).status).toBe(201);
  });
  afterAll(async () => {
    await k?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const counts = async () => ({
    remotes: (await k.database.db.select().from(remotes).where(eq(remotes.ownerId, user.id))).length,
    jobs: (await k.database.db.select().from(jobs).where(eq(jobs.ownerId, user.id))).length,
    runs: (await k.database.db.select().from(runs).where(eq(runs.ownerId, user.id))).length,
  });

  const expectError = (r: { status: number; body: any }, status: number, code: string, field: string | null, mention?: RegExp) => {
    expect(r.status, JSON.stringify(r.body)).toBe(status);
    expect(r.body.error.code).toBe(code);
    expect(r.body.error.field).toBe(field);
    expect(typeof r.body.error.message).toBe('string');
    expect(r.body.error.message).not.toMatch(/\n\s+at /);
    if (mention) expect(r.body.error.message).toMatch(mention);
  };

  it('a job whose source path does not exist', async () => {
    const before = await counts();
    const r = await call('POST', '/v1/jobs', { source: `${src}:no/such/folder`, destination: `${dst}:out`, mode: 'copy' });
    expectError(r, 422, 'source_not_found', 'source', /no\/such\/folder/);
    expect(await counts()).toEqual(before);
    expect(await readdir(join(dir, 'dst'))).toEqual([]);
  });

  it('an unknown remote type', async () => {
    const before = await counts();
    const r = await call('POST', '/v1/remotes', { name: name('x'), type: 'ftpish', config: {} });
    expectError(r, 400, 'invalid_request', 'type', /local/);
    expect(await counts()).toEqual(before);
  });

  it('a remote name that is taken', async () => {
    const before = await counts();
    const r = await call('POST', '/v1/remotes', { name: src, type: 'local', config: { root: join(dir, 'dst') } });
    expectError(r, 409, 'name_taken', 'name', new RegExp(src));
    expect(await counts()).toEqual(before);
  });

  it('a malformed location', async () => {
    const before = await counts();
    for (const bad of ['no-colon-here', ':path-without-remote', `${src}:../escape`, `${src}:/absolute`]) {
      const r = await call('POST', '/v1/jobs', { source: bad, destination: `${dst}:`, mode: 'copy' });
      expectError(r, 400, 'invalid_request', 'source');
    }
    expect(await counts()).toEqual(before);
  });

  it('a location naming a remote that does not exist', async () => {
    const r = await call('POST', '/v1/jobs', { source: `${src}:folder`, destination: 'nosuchremote:x', mode: 'copy' });
    expectError(r, 422, 'unknown_remote', 'destination', /nosuchremote/);
  });

  it('a local root that is relative or missing', async () => {
    const before = await counts();
    expectError(await call('POST', '/v1/remotes', { name: name('rel'), type: 'local', config: { root: 'relative/path' } }), 400, 'invalid_request', 'config.root', /absolute/);
    expectError(await call('POST', '/v1/remotes', { name: name('gone'), type: 'local', config: { root: join(dir, 'missing') } }), 422, 'remote_unreachable', 'config');
    expect(await counts()).toEqual(before);
  });

  it('a server that takes the connection and never answers: a 422 naming the wait, not a 503 blaming the workers', async () => {
    const held = new Set<Socket>();
    const silent: Server = await new Promise((res) => {
      const server = createServer((s) => { held.add(s); s.on('error', () => {}); }).listen(0, '127.0.0.1', () => res(server));
    });
    try {
      const port = (silent.address() as { port: number }).port;
      const before = await counts();
      // FTP waits for the server's greeting, which never comes.
      const r = await call('POST', '/v1/remotes', { name: name('mute'), type: 'ftp', config: { host: '127.0.0.1', port, user: 'u', password: 'never-shown-1' } });
      expectError(r, 422, 'remote_unreachable', 'config', /did not answer within \d+ s/);
      expect(JSON.stringify(r.body)).not.toContain('never-shown-1');
      expect(await counts()).toEqual(before);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((res) => silent.close(res));
    }
  }, 120_000);

  it('broken JSON, unknown fields, unknown modes, unknown endpoints and runs', async () => {
    expectError(await call('POST', '/v1/jobs', '{"source": '), 400, 'invalid_json', null);
    expectError(await call('POST', '/v1/jobs', { source: `${src}:folder`, destination: `${dst}:`, colour: 'red' }), 400, 'invalid_request', null, /colour/);
    expectError(await call('POST', '/v1/jobs', { source: `${src}:folder`, destination: `${dst}:`, mode: 'teleport' }), 400, 'invalid_request', 'mode');
    expectError(await call('POST', '/v1/jobs', { source: `${src}:folder`, destination: `${dst}:`, mode: 'move', options: { verify: false } }), 400, 'invalid_request', 'options.verify', /verified by hash/);
    expectError(await call('POST', '/v1/jobs', { source: `${src}:folder`, destination: `${dst}:out`, mode: 'sync', options: { backupDir: 'out/old' } }), 400, 'invalid_request', 'options.backupDir', /overlaps the destination/);
    expectError(await call('POST', '/v1/jobs', { source: `${src}:folder`, destination: `${dst}:`, mode: 'sync', options: { maxDeleteBytes: '10 parsecs' } }), 400, 'invalid_request', 'options.maxDeleteBytes', /not a size/);
    expectError(await call('POST', '/v1/jobs', { source: `${src}:folder`, destination: `${dst}:`, options: { transfers: 0 } }), 400, 'invalid_request', 'options.transfers');
    expectError(await call('GET', '/v1/runs/not-a-uuid'), 404, 'not_found', null);
    expectError(await call('GET', `/v1/runs/${crypto.randomUUID()}`), 404, 'not_found', null);
    expectError(await call('GET', '/v1/nothing'), 404, 'not_found', null);
  });

  it('credentials for a remote that has none, or for one that does not exist', async () => {
    expectError(await call('PUT', `/v1/remotes/${src}/credentials`, { loginToken: 'x'.repeat(40) }), 422, 'no_credentials', null, new RegExp(src));
    expectError(await call('PUT', '/v1/remotes/nobody/credentials', { loginToken: 'x'.repeat(40) }), 404, 'not_found', null);
  });

  it('a jottacloud remote without a login token', async () => {
    const before = await counts();
    expectError(await call('POST', '/v1/remotes', { name: name('j'), type: 'jottacloud', config: {} }), 400, 'invalid_request', 'config.loginToken', /Account → Security/);
    expectError(await call('POST', '/v1/remotes', { name: name('j'), type: 'jottacloud', config: { loginToken: 'short' } }), 400, 'invalid_request', 'config.loginToken');
    expect(await counts()).toEqual(before);
  });

  it('never shows credentials or internals in a remote', async () => {
    const r = await call('GET', `/v1/remotes/${src}`);
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(['config', 'createdAt', 'id', 'name', 'type']);
  });

  it('a body over 1 MiB, and paths that climb out of a remote', async () => {
    const before = await counts();
    const huge = JSON.stringify({ name: name('big'), type: 'local', config: { root: join(dir, 'src'), pad: 'x'.repeat(1_100_000) } });
    expectError(await call('POST', '/v1/remotes', huge), 413, 'too_large', null);
    expectError(await call('POST', '/v1/jobs', { source: `${src}:`, destination: `${dst}:x`, mode: 'copy', filters: { include: Array.from({ length: 100_000 }, (_, i) => `**/photos-${i}.jpg`) } }), 413, 'too_large', null);
    // NUL, which no file name holds and PostgreSQL refuses, in a body, a query or a path.
    expectError(await call('POST', '/v1/jobs', { source: `${src}:`, destination: `${dst}:x`, mode: 'copy', filters: { include: ['*.jpg', 'a\u0000b'] } }), 400, 'invalid_request', 'filters.include[1]', /NUL/);
    expectError(await call('GET', `/v1/runs/${crypto.randomUUID()}/events?kind=a%00b`), 400, 'invalid_request', 'kind', /NUL/);
    expectError(await call('GET', '/v1/remotes/a%00b'), 400, 'invalid_request', null, /NUL/);
    for (const path of ['..', '../..', 'a/../../etc', '/etc']) {
      expectError(await call('GET', `/v1/remotes/${src}/ls?path=${encodeURIComponent(path)}`), 400, 'invalid_request', 'path');
    }
    expect(await counts()).toEqual(before);
  });
});
