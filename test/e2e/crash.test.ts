import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../support/ports.js';
import { api, waitForRun } from '../support/knarr.js';
import { ensureStopped, spawnKnarr, type KnarrProcess } from '../support/processes.js';
import { expectSameTree, makeTree } from '../support/tree.js';

const GiB = 1024 * 1024 * 1024;
const chunk = 8 * 1024 * 1024;

/**
 * Scaled-out topology with real processes: `knarr api` and `knarr worker` on PostgreSQL and the
 * shared Temporal server. The worker is SIGKILLed in the middle of a 1 GiB file; a new worker
 * finishes the run from the checkpoint.
 */
describe('a worker killed mid-file', () => {
  const procs: KnarrProcess[] = [];
  let dir: string;
  afterAll(async () => {
    for (const p of procs) await ensureStopped(p);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('resumes the 1 GiB file on a new worker, re-sending at most one chunk', async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-crash-'));
    await makeTree(join(dir, 'src'), { files: 20, largeBytes: GiB });
    await mkdir(join(dir, 'dst'));
    const apiPort = await freePort();
    const env = {
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      KNARR_TASK_QUEUE: `knarr-crash-${randomBytes(4).toString('hex')}`,
      KNARR_MASTER_KEY: randomBytes(32).toString('base64'),
      KNARR_DATA_DIR: join(dir, 'data'),
      KNARR_API_PORT: String(apiPort),
      // A dead worker's activity is handed to another after this long without a heartbeat.
      KNARR_HEARTBEAT_TIMEOUT_MS: '4000',
    };
    const apiProc = spawnKnarr('api', env);
    procs.push(apiProc);
    let worker = spawnKnarr('worker', env);
    procs.push(worker);
    await apiProc.waitFor(/api ready/);
    await worker.waitFor(/worker ready/);
    const base = `http://127.0.0.1:${apiPort}`;
    const suffix = randomBytes(3).toString('hex');
    for (const side of ['src', 'dst']) {
      expect((await api(base, 'POST', '/v1/remotes', { name: `${side}-${suffix}`, type: 'local', config: { root: join(dir, side) } })).status).toBe(201);
    }
    const job = await api(base, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `dst-${suffix}:`, options: { chunkSize: chunk } });
    expect(job.status, JSON.stringify(job.body)).toBe(202);

    // Kill the worker once a good part of the large file is on the destination.
    const partial = join(dir, 'dst/big/.large file.bin.knarr-partial');
    for (;;) {
      const size = await stat(partial).then((s) => s.size, () => 0);
      if (size >= 300 * 1024 * 1024) break;
      if ((await api(base, 'GET', `/v1/runs/${job.body.runId}`)).body.state === 'completed') throw new Error('the run finished before the worker could be killed');
      await new Promise((r) => setTimeout(r, 20));
    }
    worker.child.kill('SIGKILL');
    await worker.exited;
    const onDiskAtKill = (await stat(partial)).size;
    expect(onDiskAtKill).toBeLessThan(GiB);

    worker = spawnKnarr('worker', env);
    procs.push(worker);
    const run = await waitForRun(base, job.body.runId, 600_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');

    await expectSameTree(join(dir, 'src'), join(dir, 'dst'));

    // The write offsets: the new attempt started where the bytes on disk ended, and the ledger's
    // checkpoint was at most one chunk behind them.
    const resumes = (await api(base, 'GET', `/v1/runs/${job.body.runId}/events?kind=resume`)).body.events;
    expect(resumes).toHaveLength(1);
    const { resumedFrom, checkpoint, path } = resumes[0].data;
    expect(path).toBe('big/large file.bin');
    expect(resumedFrom).toBeGreaterThanOrEqual(onDiskAtKill - chunk);
    expect(resumedFrom).toBeLessThanOrEqual(onDiskAtKill);
    expect(checkpoint).toBeGreaterThanOrEqual(onDiskAtKill - chunk);
    expect(run.bytes.done).toBe(run.bytes.total);
  }, 900_000);
});
