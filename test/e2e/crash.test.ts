import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../support/ports.js';
import { api, waitForRun } from '../support/knarr.js';
import { checkpointOf } from '../support/ledger.js';
import { ensureStopped, spawnKnarr, type KnarrProcess } from '../support/processes.js';
import { expectSameTree, makeTree } from '../support/tree.js';

const MiB = 1024 * 1024;
const largeBytes = 256 * MiB;
const chunk = 8 * MiB;
// Makes "mid-file" certain whatever the machine: at this rate the file takes 16 s, and the worker
// is killed as soon as the ledger has a checkpoint past 96 MiB.
const bandwidthLimit = 16 * MiB;

/**
 * Scaled-out topology with real processes: `knarr api` and `knarr worker` on PostgreSQL and the
 * shared Temporal server. The worker is SIGKILLed in the middle of a large file; a new worker
 * finishes the run from the checkpoint.
 */
describe('a worker killed mid-file', () => {
  const procs: KnarrProcess[] = [];
  let dir: string;
  afterAll(async () => {
    for (const p of procs) await ensureStopped(p);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('resumes the large file on a new worker, re-sending at most one chunk', async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-crash-'));
    await makeTree(join(dir, 'src'), { files: 20, largeBytes });
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
    const job = await api(base, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `dst-${suffix}:`, options: { chunkSize: chunk, bwlimit: bandwidthLimit } });
    expect(job.status, JSON.stringify(job.body)).toBe(202);

    // Kill the worker once a good part of the large file is on the destination.
    const runId = job.body.runId;
    while ((await checkpointOf(base, runId, 'big/large file.bin')) < 96 * MiB) await new Promise((r) => setTimeout(r, 20));
    worker.child.kill('SIGKILL');
    await worker.exited;
    // Read once the worker is gone: no checkpoint can land after this.
    const checkpointAtKill = await checkpointOf(base, runId, 'big/large file.bin');
    expect(checkpointAtKill).toBeLessThan(largeBytes);
    expect(existsSync(join(dir, 'dst/big/large file.bin'))).toBe(false);

    worker = spawnKnarr('worker', env);
    procs.push(worker);
    const run = await waitForRun(base, job.body.runId, 600_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');

    await expectSameTree(join(dir, 'src'), join(dir, 'dst'));

    // The write offsets: the new attempt started from the checkpoint the killed worker saved (it
    // checkpoints every chunk, so at most one chunk is sent again), or later where the
    // destination kept more, never earlier.
    const resumes = (await api(base, 'GET', `/v1/runs/${runId}/events?kind=resume`)).body.data;
    expect(resumes).toHaveLength(1);
    const { resumedFrom, checkpoint, path } = resumes[0].data;
    expect(path).toBe('big/large file.bin');
    expect(checkpoint).toBe(checkpointAtKill);
    expect(resumedFrom).toBeGreaterThanOrEqual(checkpoint);
    expect(resumedFrom).toBeLessThanOrEqual(checkpoint + chunk);
    expect(run.bytes.done).toBe(run.bytes.total);
  }, 900_000);
});
