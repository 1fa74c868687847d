import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScheduleView } from '../../cli/commands/schedule.js';
import type { RunView } from '../../core/run.js';
import { terminalRunStates } from '../../core/run.js';
import { testAdminKey } from '../support/knarr.js';
import { embeddedServer, ensureStopped, spawnKnarr, type KnarrProcess } from '../support/processes.js';
import { describeTree, expectSameTree, makeTree } from '../support/tree.js';
import { isolatedCliEnv, knarrCli, show } from './cli-process.js';

const ended = (r: { state: string }) => (terminalRunStates as readonly string[]).includes(r.state);

/**
 * A user's incremental backup, end to end: `knarr server` in its own process (embedded Temporal
 * and database), and every step taken with the knarr command, each in its own process.
 */
describe('knarr schedule against a knarr server in its own process', () => {
  let dir: string;
  let server: KnarrProcess | undefined;
  let base: string;
  let env: Record<string, string | undefined>;
  const cli = (...args: string[]) => knarrCli(args, env);
  let files: number;
  let jobId: string;

  /** `knarr … --json` that must succeed, parsed. */
  const json = async <T>(...args: string[]): Promise<T> => {
    const r = await cli(...args, '--json');
    expect(r.code, show(r)).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  const schedule = () => json<ScheduleView>('schedule', 'show', 'nightly');
  const runsOfJob = () => json<RunView[]>('runs', '--job', jobId, '--limit', '1000');

  /** Polls with `what` until `ok` holds; the deadline only catches a knarr that is stuck. */
  async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await get();
      if (ok(v)) return v;
      if (Date.now() > deadline) throw new Error(`never got to ${what}: ${JSON.stringify(v, null, 2)}`);
      await sleep(250);
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-cli-schedule-'));
    const started = await embeddedServer(dir);
    base = started.base;
    server = spawnKnarr('server', started.env);
    env = isolatedCliEnv(dir);
    // A large file and a bandwidth limit keep the copy going for seconds, so progress lines show on any machine.
    await makeTree(join(dir, 'src'), { files: 30, largeBytes: 4 * 1024 * 1024 });
    files = (await describeTree(join(dir, 'src'))).size;
    await mkdir(join(dir, 'dst'));
    await server.waitFor(/server ready/, 180_000);
  }, 240_000);

  afterAll(async () => {
    await ensureStopped(server);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('logs in, adds two local remotes and copies in the foreground to completion', async () => {
    const login = await cli('login', '--url', base, '--key', testAdminKey);
    expect(login.code, show(login)).toBe(0);
    expect(login.stdout).toContain(`logged in to ${base}`);
    for (const side of ['src', 'dst']) {
      const r = await cli('remote', 'add', side, 'local', '--root', join(dir, side));
      expect(r.code, show(r)).toBe(0);
    }

    const r = await cli('copy', 'src:', 'dst:', '--bwlimit', '2M', '--interval', '0.2');
    expect(r.code, show(r)).toBe(0);
    await expectSameTree(join(dir, 'src'), join(dir, 'dst'));
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^run [0-9a-f-]{36} started \(job [0-9a-f-]{36}\); Ctrl-C stops watching, not the run$/);
    expect(lines.some((l) => /^copying \d+\/\d+ files, /.test(l)), show(r)).toBe(true);
    expect(lines.at(-1)).toMatch(new RegExp(`^completed in \\d+s: ${files} files copied \\(4\\.\\d MiB, .* average\\)$`));
  });

  it('a schedule every 2 s sends only what is new, once', async () => {
    const added = await cli('schedule', 'add', 'nightly', 'src:', 'dst:', '--every', '2s', '--tz', 'Europe/Oslo');
    expect(added.code, show(added)).toBe(0);
    expect(added.stdout).toMatch(/^added schedule nightly \(id [0-9a-f-]{36}\): every 2s, time zone Europe\/Oslo; copy src: → dst:$/m);
    expect(added.stdout).toMatch(/^next runs: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/m);
    jobId = (await schedule()).jobId;

    const listed = await cli('schedule', 'ls');
    expect(listed.code, show(listed)).toBe(0);
    expect(listed.stdout).toMatch(/^NAME +STATE +SCHEDULE +TZ +NEXT +LAST-RUN$/m);
    expect(listed.stdout).toMatch(/^nightly +active +every 2s +Europe\/Oslo +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /m);

    // The foreground copy sent everything already: the first scheduled run has nothing to do.
    const first = await until('a completed scheduled run', schedule, (s) => s.recentRuns.some((run) => run.state === 'completed'));
    expect(first.recentRuns.find((run) => run.state === 'completed')!.files.done).toBe(0);

    const photo = 'a new photo, taken after the first scheduled run';
    await writeFile(join(dir, 'src', 'new photo.jpg'), photo);
    // Taken once the file is there: a run whose row is younger lists the source after it.
    const writtenAt = Date.now();
    const after = await until('a run started after the new file', schedule,
      (s) => s.recentRuns.some((run) => run.state === 'completed' && Date.parse(run.startedAt) > writtenAt));
    const firstAfter = after.recentRuns.filter((run) => run.state === 'completed' && Date.parse(run.startedAt) > writtenAt).at(-1)!;
    await expectSameTree(join(dir, 'src'), join(dir, 'dst'));

    const copying = (await runsOfJob()).filter((run) => run.files.done > 0);
    // One run copied one file, the new one; no run copied a file that was already there.
    expect(copying, JSON.stringify(copying)).toHaveLength(1);
    expect(copying[0]).toMatchObject({ state: 'completed', files: { done: 1, failed: 0 }, bytes: { sent: Buffer.byteLength(photo) } });
    // The first run started after the write, or one that started as it was written and listed after it.
    expect(Date.parse(copying[0]!.startedAt)).toBeLessThanOrEqual(Date.parse(firstAfter.startedAt));
  }, 240_000);

  it('a paused schedule starts no runs; a removed one is not found', async () => {
    const paused = await cli('schedule', 'pause', 'nightly');
    expect(paused.code, show(paused)).toBe(0);
    expect(paused.stdout).toBe('paused schedule nightly; "knarr schedule unpause nightly" starts it again\n');
    expect(await schedule()).toMatchObject({ state: 'paused', nextRuns: [] });

    // Ended, and still the same runs an interval later: a run that started just before the pause has its row by then.
    const ids = (runs: RunView[]) => runs.map((run) => run.id).join(' ');
    const { now: settled } = await until('no run going', async () => {
      const before = await runsOfJob();
      await sleep(2_000);
      return { before, now: await runsOfJob() };
    }, ({ before, now }) => now.every(ended) && ids(now) === ids(before));
    await sleep(3 * 2_000);
    const later = await runsOfJob();
    expect(later.map((run) => run.id)).toEqual(settled.map((run) => run.id));
    expect(later.reduce((n, run) => n + run.files.done, 0)).toBe(1);

    const removed = await cli('schedule', 'rm', 'nightly');
    expect(removed.code, show(removed)).toBe(0);
    expect(removed.stdout).toBe(`removed schedule nightly; its job and runs stay ("knarr runs --job ${jobId}")\n`);
    const gone = await cli('schedule', 'show', 'nightly');
    expect(gone.code, show(gone)).toBe(3);
    expect(gone.stdout).toBe('');
    expect(gone.stderr).toBe('knarr: no schedule named "nightly" ("knarr schedule ls" lists them)\n');
  }, 240_000);
});
