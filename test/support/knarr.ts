import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, inject } from 'vitest';
import { apiRoutes, createApp } from '../../api/app.js';
import { openDatabase, type OpenedDatabase } from '../../db/client.js';
import { CredentialCipher } from '../../db/credentials.js';
import { createWorker } from '../../runtime/worker.js';
import { KeyHasher } from '../../api/keys.js';
import type { HostPolicy } from '../../connectors/types.js';
import { ensureAdminKey } from '../../runtime/adminKey.js';
import { ensureSearchAttributes } from '../../runtime/temporal.js';
import type { OAuthSetup } from '../../connectors/oauthConnect.js';

// Worker INFO lines drown test output; once per test process, before any worker exists.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed by an earlier import in this process.
}

export interface InProcessKnarr {
  url: string;
  database: OpenedDatabase;
  client: Client;
  taskQueue: string;
  /** Every authenticated route, "METHOD /v1/…" (api/app.ts apiRoutes). */
  routes: string[];
  stop(): Promise<void>;
}

/**
 * API + worker in the test process, against the shared Temporal dev server. Each instance gets
 * its own task queue, so test files never pick up each other's workflows.
 */
export async function startInProcessKnarr(opts: { databaseUrl?: string; dataDir?: string; heartbeatTimeoutMs?: number; worker?: boolean; host?: HostPolicy; oauthClients?: OAuthSetup['clients']; quotaProbeMs?: number; temporalUiUrl?: string } = {}): Promise<InProcessKnarr> {
  const address = inject('temporalAddress');
  const taskQueue = `knarr-test-${randomBytes(4).toString('hex')}`;
  const database = await openDatabase({ url: opts.databaseUrl, dataDir: opts.dataDir });
  const masterKey = randomBytes(32);
  const cipher = new CredentialCipher(masterKey);
  const hasher = new KeyHasher(masterKey);
  // One owner, as `knarr server`: any folder, but never this knarr's own data.
  // The public URL is this server's own, known once it listens (set below); the worker names reconnect links under it.
  const oauth: OAuthSetup = { publicUrl: 'http://127.0.0.1', clients: opts.oauthClients ?? {} };
  const host: HostPolicy = opts.host ?? { localRoots: null, protectedPaths: opts.dataDir ? [opts.dataDir] : [], privateNetworks: true };
  await ensureAdminKey({ db: database.db, hasher, adminKey: testAdminKey, dataDir: opts.dataDir ?? '', log: () => {} });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  await ensureSearchAttributes(client, 'default');
  let native: NativeConnection | null = null;
  let worker: Worker | null = null;
  let running: Promise<void> = Promise.resolve();
  if (opts.worker !== false) {
    native = await NativeConnection.connect({ address });
    worker = await createWorker({ connection: native, namespace: 'default', taskQueue, deps: { db: database.db, cipher, host, oauth }, shutdownGraceMs: 2000, quotaProbeMs: opts.quotaProbeMs });
    running = worker.run();
  }
  const app = createApp({ db: database.db, cipher, hasher, host, oauth, temporalUiUrl: opts.temporalUiUrl ?? null, client, taskQueue, heartbeatTimeoutMs: opts.heartbeatTimeoutMs ?? 10_000, log: () => {} });
  const server: Server = await new Promise((res) => { const s = app.listen(0, '127.0.0.1', () => res(s)); });
  const port = (server.address() as { port: number }).port;
  oauth.publicUrl = `http://127.0.0.1:${port}`;
  return {
    url: `http://127.0.0.1:${port}`,
    database,
    client,
    taskQueue,
    routes: apiRoutes(app),
    async stop() {
      await new Promise<void>((res) => { server.close(() => res()); server.closeAllConnections(); });
      worker?.shutdown();
      await running;
      await native?.close();
      await connection.close();
      await database.close();
    },
  };
}

/**
 * The admin key of every knarr a test starts (in process, or spawned with KNARR_ADMIN_KEY), and
 * what `api` sends unless told otherwise.
 */
export const testAdminKey = `knarr_${Buffer.alloc(32, 7).toString('base64url')}`;

/** JSON over fetch, returning status, headers and parsed body; as the admin unless `key` says otherwise (null: no key). */
export async function api(base: string, method: string, path: string, body?: unknown, opts: { key?: string | null; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const key = opts.key === undefined ? testAdminKey : opts.key;
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...opts.headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* keep text */ }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Polls a run until it reaches a terminal state. */
export async function waitForRun(base: string, runId: string, timeoutMs = 300_000, until: (run: any) => boolean = (r) => ['completed', 'completed_with_errors', 'failed', 'cancelled'].includes(r.state), key: string = testAdminKey): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await api(base, 'GET', `/v1/runs/${runId}`, undefined, { key });
    if (r.status === 200 && until(r.body)) return r.body;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not get there in ${timeoutMs} ms: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

/**
 * The setup of most API tests on local trees: a knarr in this process on PostgreSQL (the suite's
 * database) or PGlite (under `dir/data`), with two local remotes, `src-<suffix>` on `dir/src`
 * and `dst-<suffix>` on `dir/dst` (made if missing).
 */
export async function knarrWithLocalRemotes(dir: string, suffix: string, db: 'postgres' | 'pglite' = 'postgres'): Promise<InProcessKnarr> {
  const k = await startInProcessKnarr(db === 'postgres' ? { databaseUrl: inject('databaseUrl') } : { dataDir: join(dir, 'data') });
  for (const side of ['src', 'dst']) {
    await mkdir(join(dir, side), { recursive: true });
    const r = await api(k.url, 'POST', '/v1/remotes', { name: `${side}-${suffix}`, type: 'local', config: { root: join(dir, side) } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
  return k;
}
