import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { isDevServerProcess } from '../../runtime/devServer.js';
import { api, waitForRun } from '../support/knarr.js';
import { checkpointOf } from '../support/ledger.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { freePort } from '../support/ports.js';
import { ensureStopped, type KnarrProcess, spawnKnarr, startEmbeddedServer } from '../support/processes.js';
import { expectSameTree, makeTree } from '../support/tree.js';

const MiB = 1024 * 1024;
const largePath = 'big/large file.bin';
// At this rate the large file takes 16 s, so every fault below certainly lands while it is in flight.
const bandwidthLimit = 16 * MiB;

async function addRemotes(base: string, dir: string): Promise<void> {
  for (const side of ['src', 'dst']) {
    const r = await api(base, 'POST', '/v1/remotes', { name: side, type: 'local', config: { root: join(dir, side) } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
}

/** The API's own query may be the one a cut hits (a 500): that poll just counts as "not yet". */
async function untilCheckpoint(base: string, runId: string, bytes: number): Promise<void> {
  while ((await checkpointOf(base, runId, largePath).catch(() => 0)) < bytes) await sleep(100);
}

/**
 * `knarr server` owns its dev server, so when that dies (killed, out of memory) knarr starts it
 * again on the same SQLite file and port; the worker and the API reconnect and the run goes on.
 */
describe('the embedded Temporal dev server killed mid-run', () => {
  let dir: string;
  let proc: KnarrProcess | undefined;
  afterAll(async () => {
    await ensureStopped(proc);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is restarted by knarr on the same SQLite file, and the run completes with nothing lost or doubled', async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-devkill-'));
    await makeTree(join(dir, 'src'), { files: 300, largeBytes: 256 * MiB });
    await mkdir(join(dir, 'dst'));
    const { proc: started, base } = await startEmbeddedServer(dir);
    proc = started;
    await addRemotes(base, dir);
    const job = await api(base, 'POST', '/v1/jobs', { source: 'src:', destination: 'dst:', options: { bwlimit: bandwidthLimit } });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const runId = job.body.runId;

    await untilCheckpoint(base, runId, 32 * MiB);
    const devPid = Number(await readFile(join(dir, 'data/temporal.pid'), 'utf8'));
    process.kill(devPid, 'SIGKILL');
    await proc.waitFor(/Temporal dev server running again/, 180_000);
    const nextPid = Number(await readFile(join(dir, 'data/temporal.pid'), 'utf8'));
    expect(nextPid).not.toBe(devPid);
    expect(isDevServerProcess(devPid)).toBe(false);
    expect(isDevServerProcess(nextPid)).toBe(true);

    const run = await waitForRun(base, runId, 600_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    const want = await expectSameTree(join(dir, 'src'), join(dir, 'dst'));
    expect(run.files).toMatchObject({ done: want.size, total: want.size, failed: 0 });
    expect(run.bytes.done).toBe(run.bytes.total);
    expect(proc.output()).not.toMatch(/worker stopped/);

    proc.child.kill('SIGTERM');
    expect((await proc.exited).code, proc.output()).toBe(0);
  }, 900_000);
});

/**
 * `knarr api` and `knarr worker` on PostgreSQL: every connection of the ledger database is cut
 * (`pg_terminate_backend`) while the large file and the small-file batches are being copied.
 * postgres.js opens new connections and the activities that failed on a cut retry.
 */
describe('PostgreSQL connections terminated mid-run', () => {
  const procs: KnarrProcess[] = [];
  let dir: string;
  let db: TestDatabase | undefined;
  let sql: postgres.Sql | undefined;
  afterAll(async () => {
    for (const p of procs) await ensureStopped(p);
    await sql?.end({ timeout: 5 });
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('completes with identical trees and an exact ledger', async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-pgkill-'));
    await makeTree(join(dir, 'src'), { files: 1_000, largeBytes: 256 * MiB });
    await mkdir(join(dir, 'dst'));
    db = await createTestDatabase('knarr_pgkill');
    sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const apiPort = await freePort();
    const env = {
      DATABASE_URL: db.url,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      KNARR_TASK_QUEUE: `knarr-pgkill-${randomBytes(4).toString('hex')}`,
      KNARR_MASTER_KEY: randomBytes(32).toString('base64'),
      KNARR_DATA_DIR: join(dir, 'data'),
      KNARR_API_PORT: String(apiPort),
      KNARR_HEARTBEAT_TIMEOUT_MS: '5000',
    };
    const apiProc = spawnKnarr('api', env);
    const worker = spawnKnarr('worker', env);
    procs.push(apiProc, worker);
    await apiProc.waitFor(/api ready/);
    await worker.waitFor(/worker ready/);
    const base = `http://127.0.0.1:${apiPort}`;
    await addRemotes(base, dir);
    // Small batches, so small files are being copied (and marked) while the large one streams.
    const job = await api(base, 'POST', '/v1/jobs', { source: 'src:', destination: 'dst:', options: { bwlimit: bandwidthLimit, batchFiles: 50 } });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const runId = job.body.runId;

    const terminateAll = async () => {
      // In the select list, not the WHERE clause: there PostgreSQL may call it before the filter
      // that spares this connection.
      const killed = await sql!<{ ok: boolean }[]>`
        select pg_terminate_backend(pid) as ok from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`;
      return killed.filter((k) => k.ok).length;
    };
    let cuts = 0;
    for (const at of [32 * MiB, 96 * MiB, 160 * MiB]) {
      await untilCheckpoint(base, runId, at);
      const n = await terminateAll();
      expect(n, 'connections of knarr api and knarr worker').toBeGreaterThan(0);
      cuts += n;
    }
    expect(cuts).toBeGreaterThanOrEqual(3);

    const run = await waitForRun(base, runId, 600_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    const want = await expectSameTree(join(dir, 'src'), join(dir, 'dst'));
    expect(run.files).toMatchObject({ done: want.size, total: want.size, failed: 0 });
    expect(run.bytes.done).toBe(run.bytes.total);

    // The ledger itself: one row per source file, every one verified, none twice.
    const [counts] = await sql<{ rows: number; paths: number; verified: number }[]>`
      select count(*)::int as rows, count(distinct path)::int as paths, count(*) filter (where state = 'verified')::int as verified
      from items where run_id = ${runId}`;
    expect(counts).toEqual({ rows: want.size, paths: want.size, verified: want.size });
    expect(worker.output()).not.toMatch(/worker stopped/);
  }, 900_000);
});
