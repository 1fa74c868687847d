import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api, waitForRun } from '../support/knarr.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { freePort } from '../support/ports.js';
import { ensureStopped, spawnKnarr, type KnarrProcess } from '../support/processes.js';
import { startTemporalServer, type TemporalServer } from '../support/temporalServer.js';
import { describeTree, expectSameTree, makeTree } from '../support/tree.js';

const MiB = 1024 * 1024;
const chunk = MiB;
const largeBytes = 32 * MiB;
const mediumFiles = 8;
const mediumBytes = 4 * MiB;
// Per worker, for all of its copies of the run. At this rate the large file takes at least 16 s
// and each medium file at least 2 s, so a worker seen reading one is still inside it when it is
// killed milliseconds later, however fast the disk.
const bandwidthLimit = 2 * MiB;
const log = (line: string) => console.error(`[scaled] ${line}`);

/**
 * The scaled-out shape on the server a cluster runs: Temporal's own temporal-server on
 * PostgreSQL (configured from deploy/temporal/, as docker-compose.yml runs it), `knarr api` and
 * three `knarr worker` processes on a PostgreSQL ledger. Two workers are SIGKILLed mid-file, one
 * inside the large file and one inside a small-file batch; the third finishes the run alone.
 */
describe('scaled out on temporal-server and PostgreSQL', () => {
  const procs: KnarrProcess[] = [];
  let temporal: TemporalServer | undefined;
  let ledgerDb: TestDatabase | undefined;
  let sql: postgres.Sql | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    temporal = await startTemporalServer({ serverDir: inject('temporalServerDir'), cliPath: inject('temporalCliPath'), log });
    ledgerDb = await createTestDatabase('knarr_scaled');
  });

  afterAll(async () => {
    for (const p of procs) await ensureStopped(p);
    await sql?.end({ timeout: 5 });
    await ledgerDb?.drop();
    await temporal?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('completes with identical trees and exact ledger counts after two of three workers are SIGKILLed mid-file', async () => {
    // Real path: /proc reports open files with symlinks resolved.
    dir = await realpath(await mkdtemp(join(tmpdir(), 'knarr-scaled-')));
    const src = join(dir, 'src');
    const dst = join(dir, 'dst');
    await makeTree(src, { files: 600, largeBytes });
    // Below the large-file threshold, so they go in small-file batches, yet long enough at the
    // bandwidth limit to catch a batch inside one of them.
    await mkdir(join(src, 'medium'));
    for (let i = 0; i < mediumFiles; i++) await writeFile(join(src, 'medium', `m-${i}.bin`), randomBytes(mediumBytes));
    await mkdir(dst);
    const source = await describeTree(src);

    const apiPort = await freePort();
    const env = {
      DATABASE_URL: ledgerDb!.url,
      TEMPORAL_ADDRESS: temporal!.address,
      TEMPORAL_NAMESPACE: temporal!.namespace,
      KNARR_TASK_QUEUE: `knarr-scaled-${randomBytes(4).toString('hex')}`,
      // One key for all: the API seals the remotes' credentials, the workers open them.
      KNARR_MASTER_KEY: randomBytes(32).toString('base64'),
      KNARR_DATA_DIR: join(dir, 'data'),
      KNARR_API_PORT: String(apiPort),
      // A dead worker's activities move to the survivor after this long without a heartbeat.
      KNARR_HEARTBEAT_TIMEOUT_MS: '3000',
    };
    const apiProc = spawnKnarr('api', env);
    procs.push(apiProc);
    const workers = [0, 1, 2].map(() => spawnKnarr('worker', env));
    procs.push(...workers);
    await apiProc.waitFor(/api ready/);
    await Promise.all(workers.map((w) => w.waitFor(/worker ready/)));

    const base = `http://127.0.0.1:${apiPort}`;
    for (const side of ['src', 'dst']) {
      const r = await api(base, 'POST', '/v1/remotes', { name: side, type: 'local', config: { root: join(dir, side) } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
    const job = await api(base, 'POST', '/v1/jobs', {
      source: 'src:', destination: 'dst:',
      options: { transfers: 6, batchFiles: 40, largeFileThreshold: 8 * MiB, chunkSize: chunk, bwlimit: bandwidthLimit },
    });
    // A 500 here was seen once in a full CI run (and never alone): keep what the API logged about it.
    expect(job.status, `${JSON.stringify(job.body)}\napi:\n${apiProc.output().slice(-4000)}\ntemporal:\n${await temporal!.logTail()}`).toBe(202);
    const runId: string = job.body.runId;

    // Which worker copies what, from the files each one has open. Temporal hands activities to
    // whichever worker polls first, so the victims are found, not chosen: first the worker inside
    // the large file, then another one inside a medium file (a small-file batch). Kills of one
    // worker at a time also make the second one hit work the first one's death moved to it.
    const large = join(src, 'big/large file.bin');
    const mediumDir = join(src, 'medium') + '/';
    // The ledger's checkpoint of the large file (how its partial looks on disk is the connector's
    // business: parts are written in place into a full-length file).
    sql = postgres(ledgerDb!.url, { max: 1, onnotice: () => {} });
    const largeItem = async () => {
      const [row] = await sql!<{ bytesDone: number; state: string }[]>`select bytes_done::float8 as "bytesDone", state from items where path = 'big/large file.bin'`;
      return row ?? { bytesDone: 0, state: 'unplanned' };
    };
    const largeAtKills: number[] = [];
    const killed: KnarrProcess[] = [];
    const killWhen = async (what: string, pick: (open: string[]) => boolean | Promise<boolean>): Promise<string[]> => {
      const deadline = Date.now() + 180_000;
      for (;;) {
        const live = workers.filter((w) => !killed.includes(w));
        const open = await Promise.all(live.map(async (w) => openFiles(await w.pid)));
        let i = -1;
        for (let j = 0; j < open.length && i < 0; j++) if (await pick(open[j]!)) i = j;
        if (i >= 0) {
          const victim = live[i]!;
          process.kill(await victim.pid, 'SIGKILL');
          expect((await victim.exited).signal).toBe('SIGKILL');
          killed.push(victim);
          const inside = open[i]!.filter((f) => f.startsWith(src + '/')).map((f) => f.slice(src.length + 1));
          let largeNote = '';
          if (open[i]!.includes(large)) {
            // Read once the process is gone: no checkpoint of it can land after this.
            const { bytesDone, state } = await largeItem();
            expect(bytesDone, 'the large file was cut short').toBeLessThan(largeBytes);
            expect(state).toBe('copying');
            await expectMissing(join(dst, 'big/large file.bin'));
            largeAtKills.push(bytesDone);
            largeNote = `; the large file checkpointed at ${bytesDone} bytes`;
          }
          log(`SIGKILLed worker ${await victim.pid} ${what}, reading ${JSON.stringify(inside)}${largeNote}`);
          return open[i]!;
        }
        const run = (await api(base, 'GET', `/v1/runs/${runId}`)).body;
        if (['completed', 'completed_with_errors', 'failed', 'cancelled'].includes(run.state)) throw new Error(`the run ended (${run.state}) before a worker was seen ${what}`);
        if (Date.now() > deadline) throw new Error(`no worker was seen ${what}: ${JSON.stringify(open)}`);
        await sleep(25);
      }
    };

    // Past the second checkpoint, so the next worker has something to resume from.
    await killWhen('inside the large file', async (open) => open.includes(large) && (await largeItem()).bytesDone >= 2 * chunk);
    const batchOpen = await killWhen('inside a medium file', (open) => open.some((f) => f.startsWith(mediumDir)));
    // Still being read when its worker died, and not at the destination: killed inside this file,
    // not between two files of the batch.
    const medium = batchOpen.find((f) => f.startsWith(mediumDir))!.slice(mediumDir.length);
    await expectMissing(join(dst, 'medium', medium));

    const run = await waitForRun(base, runId, 600_000);
    const survivor = workers.find((w) => !killed.includes(w))!;
    expect(run.state, `${JSON.stringify(run)}\nsurvivor:\n${survivor.output().slice(-4000)}\ntemporal:\n${await temporal!.logTail()}`).toBe('completed');

    // Nothing lost, nothing left over (partials are files too), every byte and mtime the same.
    await expectSameTree(src, dst);

    // Nothing counted twice: the interrupted batch and the large file ran again on the survivor.
    const totalBytes = [...source.values()].reduce((sum, f) => sum + f.size, 0);
    expect(run.files).toEqual({ done: source.size, total: source.size, failed: 0, skipped: 0, deduplicated: 0, moved: 0, deleted: 0 });
    // bytes.sent may exceed the total: the chunks in flight when a worker died were sent again.
    expect(run.bytes).toMatchObject({ done: totalBytes, total: totalBytes });
    expect(run.bytes.sent).toBeGreaterThanOrEqual(totalBytes);
    const ledger: { path: string; state: string; size: number; bytesDone: number }[] = [];
    for (let after = ''; ;) {
      const page = await api(base, 'GET', `/v1/runs/${runId}/files?limit=1000&after=${encodeURIComponent(after)}`);
      expect(page.status).toBe(200);
      ledger.push(...page.body.data);
      if (!page.body.next) break;
      after = page.body.next;
    }
    expect(ledger.map((f) => f.path).sort()).toEqual([...source.keys()].sort());
    expect(new Set(ledger.map((f) => f.state))).toEqual(new Set(['verified']));
    for (const f of ledger) expect(f.bytesDone, f.path).toBe(f.size);
    const [row] = await sql<{ items: number; runs: number }[]>`select (select count(*)::int from items) as items, (select count(*)::int from runs) as runs`;
    expect(row).toEqual({ items: source.size, runs: 1 });

    // After each kill inside it, the large file went on from its checkpoint, not from zero.
    const resumes = (await api(base, 'GET', `/v1/runs/${runId}/events?kind=resume`)).body.data as { data: { path: string; resumedFrom: number } }[];
    const largeResumes = resumes.filter((e) => e.data.path === 'big/large file.bin').map((e) => e.data.resumedFrom);
    // A worker killed after it began a resume of the large file but before it read from it
    // (its kill was "inside a medium file") records a resume too: so at least one resume per
    // kill inside the large file, at most one per kill, and none goes back behind a checkpoint.
    expect(largeResumes.length).toBeGreaterThanOrEqual(largeAtKills.length);
    expect(largeResumes.length).toBeLessThanOrEqual(2);
    largeResumes.forEach((from, i) => {
      expect(from).toBeGreaterThanOrEqual(largeAtKills[0] ?? 0);
      expect(from).toBeLessThan(largeBytes);
      if (i > 0) expect(from).toBeGreaterThanOrEqual(largeResumes[i - 1]);
    });
    largeAtKills.forEach((atKill) => expect(largeResumes.some((from) => from >= atKill)).toBe(true));

    // And Temporal (the real server, on its PostgreSQL) holds one completed workflow for the run.
    const connection = await Connection.connect({ address: temporal!.address });
    try {
      const { workflowExecutionInfo: info } = await connection.workflowService.describeWorkflowExecution({
        namespace: temporal!.namespace, execution: { workflowId: `run-${runId}` },
      });
      expect(info?.status).toBe(2); // WORKFLOW_EXECUTION_STATUS_COMPLETED
    } finally {
      await connection.close();
    }
    expect(apiProc.child.exitCode).toBeNull();
    expect(survivor.child.exitCode).toBeNull();
  }, 900_000);
});

async function expectMissing(path: string): Promise<void> {
  const code = await stat(path).then(() => 'exists', (err: NodeJS.ErrnoException) => err.code);
  expect(code, `${path} at the kill`).toBe('ENOENT');
}

/** Absolute paths of the files a process has open right now (Linux /proc). */
async function openFiles(pid: number): Promise<string[]> {
  if (process.platform !== 'linux') throw new Error('scaled.test.ts tells workers apart by their open files in /proc: Linux only');
  const fdDir = `/proc/${pid}/fd`;
  const fds = await readdir(fdDir).catch(() => [] as string[]);
  const targets = await Promise.all(fds.map((fd) => readlink(join(fdDir, fd)).catch(() => '')));
  return targets.filter((t) => t.startsWith('/'));
}
