import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../db/client.js';
import { isDevServerProcess } from '../../runtime/devServer.js';
import { api, waitForRun } from '../support/knarr.js';
import { checkpointOf } from '../support/ledger.js';
import { embeddedServer, ensureStopped, isRunning, spawnKnarr, type KnarrProcess } from '../support/processes.js';
import { expectSameTree, makeTree } from '../support/tree.js';

const MiB = 1024 * 1024;

function procStat(pid: number): { state: string; startTime: string } {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, startTime: fields[19]! };
}

/** Spawns `sh -c script` and resolves with the first number it prints. */
async function spawnPrintingPid(script: string): Promise<{ child: ChildProcess; pid: number }> {
  const child = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number.parseInt(d.toString(), 10))));
  return { child, pid };
}

describe('the embedded database lock after a crash', () => {
  const children: ChildProcess[] = [];
  let dir: string;
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const openWithLockOf = async (holder: string) => {
    dir ??= await mkdtemp(join(tmpdir(), 'knarr-lock-'));
    const dataDir = join(dir, randomBytes(3).toString('hex'));
    await mkdir(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'pglite.lock'), `${holder}\n`);
    const lines: string[] = [];
    const opened = await openDatabase({ dataDir, log: (l) => lines.push(l) });
    await opened.close();
    return lines;
  };

  it('never counts a zombie as the holder', async () => {
    // `sleep 30` is the parent of the exited child and never reaps it. The child ends only once
    // the shell has become that `sleep`: a child ending sooner could be reaped by the shell.
    const { child, pid } = await spawnPrintingPid('(while [ "$(cat /proc/$$/comm)" != sleep ]; do sleep 0.02; done) & echo $!; exec sleep 30');
    children.push(child);
    while (procStat(pid).state !== 'Z') await sleep(20);
    const lines = await openWithLockOf(`${pid} ${procStat(pid).startTime}`);
    expect(lines.join('\n')).not.toMatch(/waiting for process/);
  });

  it('never counts a process that only got the holder pid again', async () => {
    const { child, pid } = await spawnPrintingPid('echo $$; exec sleep 30');
    children.push(child);
    const lines = await openWithLockOf(`${pid} ${Number(procStat(pid).startTime) + 1}`);
    expect(lines.join('\n')).not.toMatch(/waiting for process/);
  });

  it('waits for a holder that is on its way out', async () => {
    const { child, pid } = await spawnPrintingPid('echo $$; exec sleep 1');
    children.push(child);
    const lines = await openWithLockOf(`${pid} ${procStat(pid).startTime}`);
    expect(lines.join('\n')).toMatch(new RegExp(`waiting for process ${pid} to close`));
    expect(isRunning(pid)).toBe(false);
  });
});

/**
 * Issue 6: `kill -9` of knarr's whole process group during a large copy, then `npm start` again
 * at once on the same data directory. knarr runs under a parent that never reaps it, so the
 * killed process is certainly still a zombie when the second start looks at the lock.
 */
describe('knarr server started again right after kill -9', () => {
  const procs: KnarrProcess[] = [];
  let dir: string;
  afterAll(async () => {
    for (const p of procs) await ensureStopped(p);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('starts, the old dev server is gone within seconds, and the run completes with identical trees', async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-restart-'));
    const largeBytes = 256 * MiB;
    await makeTree(join(dir, 'src'), { files: 300, largeBytes });
    await mkdir(join(dir, 'dst'));
    const { env, base } = await embeddedServer(dir);
    let proc = spawnKnarr('server', env, { unreapedParent: true });
    procs.push(proc);
    await proc.waitFor(/server ready/, 180_000);

    for (const side of ['src', 'dst']) {
      expect((await api(base, 'POST', '/v1/remotes', { name: side, type: 'local', config: { root: join(dir, side) } })).status).toBe(201);
    }
    // The limit keeps the large file in flight whatever the machine's speed.
    const job = await api(base, 'POST', '/v1/jobs', { source: 'src:', destination: 'dst:', options: { bwlimit: 16 * MiB } });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    while ((await checkpointOf(base, job.body.runId, 'big/large file.bin')) < 32 * MiB) await sleep(100);

    const devPid = Number(await readFile(join(dir, 'data/temporal.pid'), 'utf8'));
    const knarrPid = await proc.pid;
    await proc.killGroup('SIGKILL');
    await proc.exited;
    // The situation of the issue: the killed knarr is a zombie, and its dev server still runs.
    expect(procStat(knarrPid).state).toBe('Z');

    proc = spawnKnarr('server', env);
    procs.push(proc);
    await proc.waitFor(/server ready/, 180_000);
    expect(proc.output()).not.toMatch(/already open/);
    // The watchdog stops it (SIGTERM, SIGKILL 2.5 s later), and the new start would too: it must
    // be gone before the new one can open the SQLite file, so this is the start's own bound.
    expect(isDevServerProcess(devPid)).toBe(false);

    const run = await waitForRun(base, job.body.runId, 600_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    const want = await expectSameTree(join(dir, 'src'), join(dir, 'dst'));
    expect(run.files).toMatchObject({ done: want.size, total: want.size, failed: 0, skipped: 0 });
    expect(run.bytes.done).toBe(run.bytes.total);
    expect((await api(base, 'GET', `/v1/runs/${job.body.runId}/files?state=failed`)).body.data).toEqual([]);
  }, 900_000);

  it('the watchdog stops a dev server within seconds of its knarr being killed, with no new start', async () => {
    const d = await mkdtemp(join(tmpdir(), 'knarr-watchdog-'));
    try {
      const proc = spawnKnarr('server', (await embeddedServer(d)).env);
      procs.push(proc);
      await proc.waitFor(/server ready/, 180_000);
      const devPid = Number(await readFile(join(d, 'data/temporal.pid'), 'utf8'));
      expect(isDevServerProcess(devPid)).toBe(true);
      await proc.killGroup('SIGKILL');
      await proc.exited;
      const killedAt = performance.now();
      while (isDevServerProcess(devPid)) await sleep(50);
      // SIGTERM at once, SIGKILL after 2.5 s: a bound on knarr's own stop logic.
      expect(performance.now() - killedAt).toBeLessThan(5_000);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  }, 300_000);
});
