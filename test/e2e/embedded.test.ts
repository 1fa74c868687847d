import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { isDevServerProcess } from '../../runtime/devServer.js';
import { freePort } from '../support/ports.js';
import { api, waitForRun } from '../support/knarr.js';
import { ensureStopped, spawnKnarr, type KnarrProcess } from '../support/processes.js';
import { expectSameTree, makeTree } from '../support/tree.js';

const GiB = 1024 * 1024 * 1024;

/**
 * What a new user does: `npm start` (embedded Temporal dev server, embedded PGlite), then the
 * README's curl calls. knarr is stopped with SIGTERM in the middle of the 1 GiB file and started
 * again on the same data directory; the run completes.
 */
describe('embedded knarr, as a new user runs it', () => {
  let dir: string;
  let proc: KnarrProcess | undefined;
  afterAll(async () => {
    await ensureStopped(proc);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('copies 1,000+ files and a 1 GiB file, survives a restart mid-run, and shows the run in Temporal Web', async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-embedded-'));
    await makeTree(join(dir, 'src'), { files: 1_000, largeBytes: GiB });
    await mkdir(join(dir, 'dst'));
    const ports = { api: await freePort(), temporal: await freePort(), ui: await freePort() };
    const env = {
      KNARR_DATA_DIR: join(dir, 'data'),
      KNARR_API_PORT: String(ports.api),
      KNARR_TEMPORAL_PORT: String(ports.temporal),
      KNARR_TEMPORAL_UI_PORT: String(ports.ui),
      TEMPORAL_CLI_PATH: inject('temporalCliPath'),
      KNARR_HEARTBEAT_TIMEOUT_MS: '5000',
      DATABASE_URL: undefined,
      TEMPORAL_ADDRESS: undefined,
      KNARR_MASTER_KEY: undefined,
    };
    const base = `http://127.0.0.1:${ports.api}`;
    proc = spawnKnarr('server', env);
    await proc.waitFor(/server ready/, 180_000);
    await proc.waitFor(/data dir/);
    expect(proc.output()).toContain(`API           ${base}`);
    expect(proc.output()).toContain(`Temporal Web  http://127.0.0.1:${ports.ui}`);
    expect(proc.output()).toContain(join(dir, 'data'));
    expect((await stat(join(dir, 'data/master.key'))).mode & 0o777).toBe(0o600);

    const suffix = randomBytes(3).toString('hex');
    const src = await api(base, 'POST', '/v1/remotes', { name: `src-${suffix}`, type: 'local', config: { root: join(dir, 'src') } });
    expect(src.status, JSON.stringify(src.body)).toBe(201);
    expect((await api(base, 'POST', '/v1/remotes', { name: `dst-${suffix}`, type: 'local', config: { root: join(dir, 'dst') } })).status).toBe(201);
    const job = await api(base, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `dst-${suffix}:backup/2026`, mode: 'copy' });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const runId = job.body.runId;

    // Stop knarr while the large file is part-way.
    const partial = join(dir, 'dst/backup/2026/big/.large file.bin.knarr-partial');
    for (;;) {
      if (await stat(partial).then((s) => s.size >= 200 * 1024 * 1024, () => false)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const devPid = Number(await readFile(join(dir, 'data/temporal.pid'), 'utf8'));
    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    expect(exit.code, proc.output()).toBe(0);
    expect(isDevServerProcess(devPid), 'the Temporal dev server is left running').toBe(false);
    expect(existsSync(join(dir, 'dst/backup/2026/big/large file.bin'))).toBe(false);

    proc = spawnKnarr('server', env);
    await proc.waitFor(/server ready/, 180_000);
    const run = await waitForRun(base, runId, 900_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');

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
