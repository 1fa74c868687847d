import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDevServerProcess } from '../../runtime/devServer.js';
import { api, waitForRun } from '../support/knarr.js';
import { checkpointOf } from '../support/ledger.js';
import { ensureStopped, type KnarrProcess, spawnKnarr, startEmbeddedServer } from '../support/processes.js';
import { expectSameTree, makeTree } from '../support/tree.js';

const MiB = 1024 * 1024;
const largeBytes = 256 * MiB;
// The job's bandwidth limit makes "mid-file" certain on any machine: once 64 MiB are checkpointed,
// the 5 s a stop may take (README) let at most another 80 MiB through, so the file cannot finish.
const bandwidthLimit = 16 * MiB;
/** README: "a stop takes under 5 seconds". A bound on knarr's own stop logic, not on the disk. */
const stopBoundMs = 5_000;

/**
 * What a new user does: `npm start` (embedded Temporal dev server, embedded PGlite), then the
 * README's curl calls. knarr is stopped with SIGTERM in the middle of the large file, must be gone
 * (dev server included) within the README's stop time, and is started again on the same data
 * directory; the run completes.
 */
describe('embedded knarr, as a new user runs it', () => {
  let dir: string;
  let proc: KnarrProcess | undefined;
  afterAll(async () => {
    await ensureStopped(proc);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('copies 1,000+ files and a large file, stops within 5 s mid-file, resumes after a restart, and shows the run in Temporal Web', async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-embedded-'));
    await makeTree(join(dir, 'src'), { files: 1_000, largeBytes });
    await mkdir(join(dir, 'dst'));
    const { proc: started, env, base, ports } = await startEmbeddedServer(dir);
    proc = started;
    await proc.waitFor(/data dir/);
    expect(proc.output()).toContain(`API           ${base}`);
    expect(proc.output()).toContain(`Temporal Web  http://127.0.0.1:${ports.ui}`);
    expect(proc.output()).toContain(join(dir, 'data'));
    expect((await stat(join(dir, 'data/master.key'))).mode & 0o777).toBe(0o600);

    const suffix = randomBytes(3).toString('hex');
    const src = await api(base, 'POST', '/v1/remotes', { name: `src-${suffix}`, type: 'local', config: { root: join(dir, 'src') } });
    expect(src.status, JSON.stringify(src.body)).toBe(201);
    expect((await api(base, 'POST', '/v1/remotes', { name: `dst-${suffix}`, type: 'local', config: { root: join(dir, 'dst') } })).status).toBe(201);
    const job = await api(base, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `dst-${suffix}:backup/2026`, mode: 'copy', options: { bwlimit: bandwidthLimit } });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const runId = job.body.runId;

    // Stop knarr while the large file is part-way.
    let checkpointBeforeStop = 0;
    while ((checkpointBeforeStop = await checkpointOf(base, runId, 'big/large file.bin')) < 64 * MiB) await new Promise((r) => setTimeout(r, 100));
    const devPid = Number(await readFile(join(dir, 'data/temporal.pid'), 'utf8'));
    const stopStarted = performance.now();
    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    const stopMs = performance.now() - stopStarted;
    console.log(`embedded knarr exited ${Math.round(stopMs)} ms after SIGTERM (${proc.output().match(/stopped in [\d.]+ s/)?.[0] ?? 'no stop line'})`);
    expect(exit.code, proc.output()).toBe(0);
    expect(isDevServerProcess(devPid), 'the Temporal dev server is left running').toBe(false);
    expect(stopMs, `knarr took ${Math.round(stopMs)} ms to stop; output:\n${proc.output()}`).toBeLessThan(stopBoundMs);
    expect(existsSync(join(dir, 'dst/backup/2026/big/large file.bin'))).toBe(false);

    proc = spawnKnarr('server', env);
    await proc.waitFor(/server ready/, 180_000);
    const run = await waitForRun(base, runId, 900_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    // It went on from the checkpoint the stopped copy had saved (no later one can have been lost:
    // a cancelled copy saves nothing after the one the ledger holds), not from zero.
    const resumes = (await api(base, 'GET', `/v1/runs/${runId}/events?kind=resume`)).body.data;
    expect(resumes.map((e: any) => e.data.path)).toEqual(['big/large file.bin']);
    expect(resumes[0].data.checkpoint).toBeGreaterThanOrEqual(checkpointBeforeStop);
    expect(resumes[0].data.checkpoint).toBeLessThan(largeBytes);
    expect(resumes[0].data.resumedFrom).toBeGreaterThanOrEqual(resumes[0].data.checkpoint);

    const want = await expectSameTree(join(dir, 'src'), join(dir, 'dst/backup/2026'));
    expect(want.size).toBeGreaterThanOrEqual(1_001);
    expect(run.files).toMatchObject({ done: want.size, total: want.size, failed: 0 });

    // Temporal Web's own HTTP API knows the run.
    const ui = await fetch(`http://127.0.0.1:${ports.ui}/api/v1/namespaces/default/workflows/run-${runId}`);
    expect(ui.status).toBe(200);
    expect(JSON.stringify(await ui.json())).toContain('COMPLETED');

    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  }, 1_500_000);
});
