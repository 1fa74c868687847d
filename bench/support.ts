/**
 * What benchmarks need and vitest's support code cannot give them (no `inject` outside vitest):
 * an in-process knarr (Temporal dev server, database, worker, API), timed child processes, page
 * cache control, trees of test data and machine facts. Nothing here asserts anything about speed.
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { link, mkdir, mkdtemp, open, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { createApp } from '../api/app.js';
import { openDatabase, type OpenedDatabase } from '../db/client.js';
import { CredentialCipher } from '../db/credentials.js';
import { startDevServer, type DevServer } from '../runtime/devServer.js';
import { findTemporalCli } from '../runtime/temporalCli.js';
import { createWorker } from '../runtime/worker.js';
import { createTestDatabase, type TestDatabase } from '../test/support/pg.js';
import { freePort } from '../test/support/ports.js';
import { KeyHasher } from '../api/keys.js';
import { unrestrictedHost } from '../connectors/types.js';
import { ensureAdminKey } from '../runtime/adminKey.js';
import { ensureSearchAttributes } from '../runtime/temporal.js';

export const log = (line: string): void => console.error(`[bench] ${line}`);

// ---------------------------------------------------------------------------------------------
// knarr in this process

export interface BenchKnarr {
  url: string;
  client: Client;
  devServer: DevServer;
  temporalCli: string;
  /** `DATABASE_URL`, or a fresh database made for this run and dropped by stop(). */
  databaseUrl: string;
  databaseKind: 'DATABASE_URL' | 'fresh database on the test server';
  stop(): Promise<void>;
}

let runtimeInstalled = false;

/**
 * A Temporal dev server (in memory, headless, free port), a PostgreSQL database, a worker on its
 * own task queue and the API on a free port, all but the dev server in this process: what
 * test/support/knarr.ts builds, without vitest.
 */
export async function startBenchKnarr(): Promise<BenchKnarr> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  const cleanups: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err) => log(`while stopping: ${(err as Error).message}`));
  };
  try {
    const temporalCli = await findTemporalCli({ log });
    const devServer = await startDevServerOnFreePort(temporalCli);
    cleanups.push(() => devServer.stop());

    let databaseUrl = process.env.DATABASE_URL;
    let databaseKind: BenchKnarr['databaseKind'] = 'DATABASE_URL';
    if (!databaseUrl) {
      const fresh: TestDatabase = await createTestDatabase('knarr_bench');
      cleanups.push(() => fresh.drop());
      databaseUrl = fresh.url;
      databaseKind = 'fresh database on the test server';
    }
    const database: OpenedDatabase = await openDatabase({ url: databaseUrl });
    cleanups.push(() => database.close());

    const masterKey = randomBytes(32);
    const cipher = new CredentialCipher(masterKey);
    const hasher = new KeyHasher(masterKey);
    await ensureAdminKey({ db: database.db, hasher, adminKey: benchAdminKey, dataDir: '', log });
    const taskQueue = `knarr-bench-${randomBytes(4).toString('hex')}`;
    const connection = await Connection.connect({ address: devServer.address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection });
    await ensureSearchAttributes(client, 'default');
    const native = await NativeConnection.connect({ address: devServer.address });
    cleanups.push(() => native.close());
    const worker: Worker = await createWorker({ connection: native, namespace: 'default', taskQueue, deps: { db: database.db, cipher, host: unrestrictedHost }, shutdownGraceMs: 2000 });
    const running = worker.run();
    cleanups.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });

    const app = createApp({ db: database.db, cipher, hasher, host: unrestrictedHost, client, taskQueue, heartbeatTimeoutMs: 60_000, log: (msg, err) => log(`api: ${msg} ${String(err ?? '')}`) });
    const server: Server = await new Promise((res) => { const s = app.listen(0, '127.0.0.1', () => res(s)); });
    cleanups.push(() => new Promise<void>((res) => { server.close(() => res()); server.closeAllConnections(); }));
    const port = (server.address() as { port: number }).port;

    let stopping: Promise<void> | null = null;
    return {
      url: `http://127.0.0.1:${port}`,
      client,
      devServer,
      temporalCli,
      databaseUrl,
      databaseKind,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

export async function startDevServerOnFreePort(cliPath: string): Promise<DevServer> {
  // The free port can be taken by someone else before the server binds it: try again then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServer({ cliPath, port: await freePort(), headless: true, log });
    } catch (err) {
      if (attempt >= 3) throw err;
      log(`Temporal dev server did not start (${(err as Error).message.split('\n')[0]}); retrying`);
    }
  }
}


/** The admin key of every knarr a bench starts (in process, or as KNARR_ADMIN_KEY of a child). */
export const benchAdminKey = `knarr_${Buffer.alloc(32, 9).toString('base64url')}`;

/** JSON over fetch, as the admin. */
export async function api(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${benchAdminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: res.status, body: text };
  }
}

export async function apiOk<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const r = await api(base, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as T;
}

// ---------------------------------------------------------------------------------------------
// Temporal history: where a run's time went

export interface ActivitySpan {
  name: string;
  scheduledMs: number;
  startedMs: number | null;
  closedMs: number | null;
}

export interface RunHistory {
  workflowStartedMs: number;
  workflowClosedMs: number | null;
  activities: ActivitySpan[];
  /** Workflow executions the run took (continue-as-new makes more than one). */
  executions: number;
}

type Ts = { seconds?: unknown; nanos?: number | null } | null | undefined;
const tsMs = (ts: Ts): number => {
  if (!ts) return NaN;
  const s = ts.seconds as { toNumber?: () => number } | number | string | null | undefined;
  const seconds = typeof s === 'object' && s?.toNumber ? s.toNumber() : Number(s ?? 0);
  return seconds * 1000 + (ts.nanos ?? 0) / 1e6;
};

/** The history of every execution of a workflow id, following continue-as-new back to the first. */
export async function runHistory(client: Client, workflowId: string): Promise<RunHistory> {
  const activities: ActivitySpan[] = [];
  let runId: string | undefined;
  let workflowStartedMs = NaN;
  let workflowClosedMs: number | null = null;
  let executions = 0;
  for (;;) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    executions++;
    const byScheduled = new Map<string, ActivitySpan>();
    let previous: string | undefined;
    for (const e of history.events ?? []) {
      const at = tsMs(e.eventTime as Ts);
      if (e.workflowExecutionStartedEventAttributes) {
        workflowStartedMs = at;
        previous = e.workflowExecutionStartedEventAttributes.continuedExecutionRunId || undefined;
      } else if (e.workflowExecutionCompletedEventAttributes || e.workflowExecutionFailedEventAttributes || e.workflowExecutionCanceledEventAttributes) {
        if (workflowClosedMs === null) workflowClosedMs = at;
      } else if (e.activityTaskScheduledEventAttributes) {
        const span: ActivitySpan = { name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', scheduledMs: at, startedMs: null, closedMs: null };
        byScheduled.set(String(e.eventId), span);
        activities.push(span);
      } else if (e.activityTaskStartedEventAttributes) {
        const span = byScheduled.get(String(e.activityTaskStartedEventAttributes.scheduledEventId));
        if (span) span.startedMs = at;
      } else {
        const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
        const span = closed ? byScheduled.get(String(closed.scheduledEventId)) : undefined;
        if (span) span.closedMs = at;
      }
    }
    if (!previous) break;
    runId = previous;
  }
  activities.sort((a, b) => a.scheduledMs - b.scheduledMs);
  return { workflowStartedMs, workflowClosedMs, activities, executions };
}

// ---------------------------------------------------------------------------------------------
// Processes: timing, memory, CPU

export interface TimedCommand {
  seconds: number;
  /** Peak RSS from `/usr/bin/time -v`, when it is there. */
  maxRssKiB: number | null;
  cpuSeconds: number | null;
  stderr: string;
}

const GNU_TIME = '/usr/bin/time';

export async function gnuTimeAvailable(): Promise<boolean> {
  const out = await capture(GNU_TIME, ['-v', 'true']).catch(() => null);
  return out !== null && /Maximum resident set size/.test(out.stderr);
}

/** Runs a command to its end; wall time from spawn to exit, peak RSS and CPU via GNU time when asked. */
export async function timeCommand(cmd: string, args: string[], opts: { gnuTime: boolean; scratchDir: string }): Promise<TimedCommand> {
  const timeFile = join(opts.scratchDir, `time-${process.pid}-${randomBytes(3).toString('hex')}.txt`);
  const [file, argv] = opts.gnuTime ? [GNU_TIME, ['-v', '-o', timeFile, cmd, ...args]] : [cmd, args];
  const started = performance.now();
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => { if (err.length < 20_000) err += c; });
    child.once('error', reject);
    child.once('close', (c) => resolve({ code: c, stderr: err }));
  });
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${stderr.trim().slice(-2000)}`);
  let maxRssKiB: number | null = null;
  let cpuSeconds: number | null = null;
  if (opts.gnuTime) {
    const report = await readFile(timeFile, 'utf8').catch(() => '');
    await rm(timeFile, { force: true });
    const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(report);
    const user = /User time \(seconds\): ([\d.]+)/.exec(report);
    const sys = /System time \(seconds\): ([\d.]+)/.exec(report);
    maxRssKiB = rss ? Number(rss[1]) : null;
    cpuSeconds = user && sys ? Number(user[1]) + Number(sys[1]) : null;
  }
  return { seconds, maxRssKiB, cpuSeconds, stderr };
}

/** Runs a command and returns what it printed; rejects on a non-zero exit. */
export function capture(cmd: string, args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }));
      else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** `sync`, timed: what it takes to get everything a contender left in the page cache onto the disk. */
export async function timedSync(): Promise<number> {
  const started = performance.now();
  await capture('sync', [], 600_000);
  return (performance.now() - started) / 1000;
}

/**
 * Checks that dropping the page cache works here (root, and a kernel that lets this container
 * do it); returns null when it does, else why not.
 */
export async function probeDropCaches(): Promise<string | null> {
  try {
    await dropCaches();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

export async function dropCaches(): Promise<void> {
  await capture('sync', [], 600_000);
  await writeFile('/proc/sys/vm/drop_caches', '3\n');
}

/** Reads a file so a binary that the cache drop evicted is not loaded from disk on the clock. */
export async function warmFile(path: string): Promise<void> {
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return;
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    while ((await fh.read(buf, 0, buf.length, null)).bytesRead > 0) { /* read on */ }
  } finally {
    await fh.close();
  }
}

/** `VmHWM` (peak RSS) of a process, in KiB, from /proc. */
export function peakRssKiB(pid: number | 'self'): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Resets a process's peak RSS to its current RSS (`clear_refs` 5); false where Linux refuses. */
export async function resetPeakRss(pid: number | 'self'): Promise<boolean> {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

const clockTicks = 100; // USER_HZ on Linux for x86_64

/** utime + stime of a process, in seconds, from /proc (null once it has gone). */
export function processCpuSeconds(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)\s*/, '').split(' ');
    // After "pid (comm) ": state is field 3, utime 14 and stime 15 (1-based), so 11 and 12 here.
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return null;
  }
}

/**
 * CPU of the PostgreSQL backends serving one database, by reading /proc of their pids: only
 * meaningful when the server runs on this machine (null otherwise).
 */
export class PgBackendCpu {
  private sql: postgres.Sql;
  private database: string;
  private local: boolean;
  constructor(url: string) {
    this.sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
    const parsed = new URL(url);
    this.database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    this.local = ['127.0.0.1', 'localhost', '[::1]', ''].includes(parsed.hostname);
  }
  async sample(): Promise<Map<number, number> | null> {
    if (!this.local) return null;
    const rows = await this.sql<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${this.database} and pid <> pg_backend_pid()`;
    const out = new Map<number, number>();
    for (const { pid } of rows) {
      const cpu = processCpuSeconds(pid);
      if (cpu !== null) out.set(pid, cpu);
    }
    return out;
  }
  /** CPU seconds spent between two samples (backends that appeared in between count from zero). */
  static between(before: Map<number, number> | null, after: Map<number, number> | null): number | null {
    if (!before || !after) return null;
    let total = 0;
    for (const [pid, cpu] of after) total += cpu - (before.get(pid) ?? 0);
    return total;
  }
  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }
}

// ---------------------------------------------------------------------------------------------
// Test data

/** A small deterministic PRNG (mulberry32): the same flags make the same tree sizes. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Whole milliseconds in the past, distinct per file: every contender can keep them exactly.
const mtimeBase = Date.UTC(2021, 0, 1);
const setMtime = (path: string, n: number) => utimes(path, new Date(mtimeBase + n * 1000 + (n % 997)), new Date(mtimeBase + n * 1000 + (n % 997)));

/** One file of random (incompressible) bytes. */
export async function writeRandomFile(path: string, bytes: number, n = 0): Promise<void> {
  const fh = await open(path, 'w');
  try {
    const chunk = Buffer.allocUnsafe(Math.min(bytes, 4 * 1024 * 1024) || 1);
    for (let written = 0; written < bytes; ) {
      const len = Math.min(chunk.length, bytes - written);
      randomFillSync(chunk, 0, len);
      written += (await fh.write(chunk, 0, len, written)).bytesWritten;
    }
  } finally {
    await fh.close();
  }
  await setMtime(path, n);
}

/**
 * `count` files of random bytes, sizes uniform in [minBytes, maxBytes], in a three-level folder
 * tree of about 50 files per leaf (`a3/b1/c4/f01234.bin`).
 */
export async function writeSmallTree(
  root: string, count: number, minBytes: number, maxBytes: number, seed = 1,
  layout: { folders?: number } = {},
): Promise<{ files: number; bytes: number }> {
  const rand = prng(seed);
  const buf = Buffer.allocUnsafe(Math.max(1, maxBytes));
  let bytes = 0;
  // `folders` spreads the files evenly over that many folders one level down (`d042/f01234.bin`).
  const perFolder = layout.folders ? Math.ceil(count / layout.folders) : 50;
  for (let i = 0; i < count; i++) {
    const leaf = Math.floor(i / perFolder);
    const dir = layout.folders
      ? join(root, `d${String(leaf).padStart(3, '0')}`)
      : join(root, `a${leaf % 5}`, `b${Math.floor(leaf / 5) % 4}`, `c${Math.floor(leaf / 20)}`);
    if (i % perFolder === 0) await mkdir(dir, { recursive: true });
    const size = minBytes + Math.floor(rand() * (maxBytes - minBytes + 1));
    randomFillSync(buf, 0, size);
    const path = join(dir, `f${String(i).padStart(5, '0')}.bin`);
    await writeFile(path, buf.subarray(0, size));
    await setMtime(path, i + 1);
    bytes += size;
  }
  return { files: count, bytes };
}

/** Hard-links every file of `from` into `to` (same layout): a second tree without a second copy of the bytes. */
export async function linkTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const e of await readdir(from, { withFileTypes: true })) {
    if (e.isDirectory()) await linkTree(join(from, e.name), join(to, e.name));
    else if (e.isFile()) await link(join(from, e.name), join(to, e.name));
  }
}

export interface TreeFacts {
  files: Map<string, { size: number; mtimeMs: number }>;
  bytes: number;
}

export async function describeTree(root: string): Promise<TreeFacts> {
  const files: TreeFacts['files'] = new Map();
  let bytes = 0;
  const walk = async (dir: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else {
        const st = await stat(full);
        files.set(relative(root, full), { size: st.size, mtimeMs: Math.floor(st.mtimeMs) });
        bytes += st.size;
      }
    }
  };
  await walk(root);
  return { files, bytes };
}

/** Why `dst` is not a copy of `src` by paths, sizes and mtimes (ms), or null when it is. */
export function treeMismatch(src: TreeFacts, dst: TreeFacts): string | null {
  if (dst.files.size !== src.files.size) return `${dst.files.size} files instead of ${src.files.size}`;
  for (const [path, want] of src.files) {
    const got = dst.files.get(path);
    if (!got) return `${path} is missing`;
    if (got.size !== want.size) return `${path} has ${got.size} bytes instead of ${want.size}`;
    if (got.mtimeMs !== want.mtimeMs) return `${path} has mtime ${got.mtimeMs} instead of ${want.mtimeMs}`;
  }
  return null;
}

export async function makeWorkDir(parent: string, prefix: string): Promise<string> {
  await mkdir(parent, { recursive: true });
  return mkdtemp(join(parent, prefix));
}

// ---------------------------------------------------------------------------------------------
// Command lines and reports

/** A whole-number option of at least `min` (`--reps 3`). */
export function intOption(name: string, raw: string, min: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min}, not ${JSON.stringify(raw)}`);
  return n;
}

/** A comma-separated option of known items (`--workloads large,small`), at least one, in the order `allowed` lists them. */
export function listOption<T extends string>(name: string, raw: string, allowed: readonly T[]): T[] {
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) if (!allowed.includes(item as T)) throw new Error(`--${name}: unknown "${item}"; use some of ${allowed.join(',')}`);
  if (items.length === 0) throw new Error(`--${name} is empty`);
  return allowed.filter((a) => items.includes(a));
}

/** The rclone to compare with: `--rclone` as given (it must run), else the one on PATH or knarr's cached one, else null. */
/**
 * The rclone to compare with: the one asked for, else the current release built into the cache
 * (scripts/install-test-servers.sh, KNARR_BUILD_RCLONE=1), else rclone on PATH (Debian's 1.60.1,
 * whose S3 multipart uploads to versitygw crawl: it sends parts again and again), else the cache's link.
 */
export async function findRclone(explicit: string | null): Promise<string | null> {
  const cache = join(process.env.HOME ?? '', '.cache', 'knarr', 'bin');
  const candidates = explicit ? [explicit] : [join(cache, 'rclone-1.76.0.d', 'rclone'), 'rclone', join(cache, 'rclone')];
  for (const c of candidates) if (await capture(c, ['version']).then(() => true, () => false)) return c;
  if (explicit) throw new Error(`--rclone ${explicit} does not run`);
  return null;
}

/** Where a benchmark writes its report unless told: the first free bench/results/<name>-<day>[-n].md. */
export function defaultReportFile(name: string): string {
  const day = new Date().toISOString().slice(0, 10);
  for (let n = 1; ; n++) {
    const file = join(repoDir, 'bench', 'results', `${name}-${day}${n === 1 ? '' : `-${n}`}.md`);
    if (!existsSync(file)) return file;
  }
}

/** How the benchmark was started, quoted so the report's line can be pasted into a shell. */
export function commandLineOf(script: string, argv: string[]): string {
  return ['node', '--import', 'tsx', script, ...argv].map((a) => (/^[\w./,=:-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}

// ---------------------------------------------------------------------------------------------
// Numbers and facts

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export const fmt = (x: number | null | undefined, digits = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));

export async function machineFacts(dir: string): Promise<Record<string, string>> {
  const run = async (cmd: string, args: string[]) => (await capture(cmd, args).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }))).stdout.trim();
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? '?';
  const mountSource = await run('findmnt', ['-n', '-o', 'SOURCE,FSTYPE,OPTIONS', '-T', dir]);
  const device = mountSource.split(/\s+/)[0]?.replace(/^\/dev\//, '') ?? '';
  const rotational = device ? (await readFile(`/sys/block/${device.replace(/\d+$/, '')}/queue/rotational`, 'utf8').catch(() => '')).trim() : '';
  return {
    nproc: await run('nproc', []),
    cpu: model,
    kernel: await run('uname', ['-srm']),
    memory: await run('free', ['-h']),
    disk: `${await run('df', ['-h', dir])}\n${mountSource}${rotational ? `\nrotational: ${rotational}` : ''}`,
    node: process.version,
    loadavg: (await readFile('/proc/loadavg', 'utf8').catch(() => '?')).trim(),
  };
}

export async function gitFacts(cwd: string): Promise<string> {
  // A benchmark run from an exported snapshot (git archive) has no .git: it says which commit it is.
  if (process.env.KNARR_BENCH_GIT) return process.env.KNARR_BENCH_GIT;
  try {
    const head = (await capture('git', ['-C', cwd, 'rev-parse', '--short', 'HEAD'])).stdout.trim();
    const dirty = (await capture('git', ['-C', cwd, 'status', '--porcelain', '--untracked-files=no'])).stdout.trim().split('\n').filter(Boolean).length;
    return dirty ? `${head} with ${dirty} modified tracked file${dirty === 1 ? '' : 's'}` : head;
  } catch {
    return 'unknown';
  }
}

export { sleep };

// ---------------------------------------------------------------------------------------------
// Phases of a run, from its Temporal history

/** Seconds per phase of one knarr run. */
export interface Phases {
  /** POST /v1/jobs until the workflow started: the API's checks, the ledger rows, starting the workflow. */
  start: number;
  plan: number;
  copy: number;
  verify: number;
  finalize: number;
  /** The workflow closed until the poll saw the run end. */
  poll: number;
}

export const phaseNames: (keyof Phases)[] = ['start', 'plan', 'copy', 'verify', 'finalize', 'poll'];

/**
 * Which phase an activity belongs to, by its name, so the split survives activities being
 * renamed or split (planRun today; a listing and a diff activity tomorrow). Anything else
 * (finalizeRun, markRun…) is bookkeeping and lands in the phase it runs in.
 */
export function phaseOfActivity(name: string): 'plan' | 'copy' | 'verify' | null {
  if (/verify/i.test(name)) return 'verify';
  if (/plan|list|diff|enumerat|walk/i.test(name)) return 'plan';
  if (/copy|transfer|upload|large|batch/i.test(name)) return 'copy';
  return null;
}

export interface PhaseSplit {
  phases: Phases;
  copyActivities: number;
  verifyActivities: number;
  /** Mean seconds from an activity being scheduled to a worker starting it. */
  meanScheduleToStart: number;
}

/**
 * Splits a run's time by its history: plan ends with the last plan activity, copy with the last
 * copy activity, verify with the last verify activity (whatever of verify ran alongside the copy
 * is in copy), finalize when the workflow closed.
 */
export function phasesOf(h: RunHistory, postedAtMs: number, doneAtMs: number): PhaseSplit {
  const closedOf = (phase: 'plan' | 'copy' | 'verify') => h.activities.filter((a) => phaseOfActivity(a.name) === phase && a.closedMs !== null);
  const lastClosed = (phase: 'plan' | 'copy' | 'verify') => Math.max(...closedOf(phase).map((a) => a.closedMs!), -Infinity);
  const planEnd = Number.isFinite(lastClosed('plan')) ? lastClosed('plan') : h.workflowStartedMs;
  const copyEnd = lastClosed('copy');
  const verifyEnd = lastClosed('verify');
  const wfEnd = h.workflowClosedMs ?? doneAtMs;
  const copyStop = Number.isFinite(copyEnd) ? Math.max(copyEnd, planEnd) : planEnd;
  const workEnd = Math.max(copyStop, Number.isFinite(verifyEnd) ? verifyEnd : copyStop);
  const s = (ms: number) => Math.max(0, ms) / 1000;
  const started = h.activities.filter((a) => a.startedMs !== null);
  return {
    phases: {
      start: s(h.workflowStartedMs - postedAtMs),
      plan: s(planEnd - h.workflowStartedMs),
      copy: s(copyStop - planEnd),
      verify: s(workEnd - copyStop),
      finalize: s(wfEnd - workEnd),
      poll: s(doneAtMs - wfEnd),
    },
    copyActivities: closedOf('copy').length,
    verifyActivities: closedOf('verify').length,
    meanScheduleToStart: started.length ? started.reduce((sum, a) => sum + (a.startedMs! - a.scheduledMs), 0) / started.length / 1000 : NaN,
  };
}

// ---------------------------------------------------------------------------------------------
// knarr as its own processes, the way a user or a container runs it

export interface KnarrChild {
  role: 'server' | 'api' | 'worker';
  pid: number;
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const repoDir = fileURLToPath(new URL('..', import.meta.url));

/**
 * `node [nodeArgs] cli/start.mjs <role>`, one process (as test/support/processes.ts
 * spawnKnarr, plus node flags such as --cpu-prof or a preload); resolves once it says it is ready.
 */
export async function startKnarrChild(role: KnarrChild['role'], env: Record<string, string>, opts: { nodeArgs?: string[]; readyTimeoutMs?: number } = {}): Promise<KnarrChild> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), 'cli/start.mjs', role], {
    cwd: repoDir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const onData = (d: Buffer) => { out = (out + d.toString()).slice(-200_000); };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 180_000);
  for (;;) {
    if (new RegExp(`knarr: ${role} ready`).test(out)) break;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`knarr ${role} exited before it was ready:\n${out.slice(-4000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`knarr ${role} was not ready in time:\n${out.slice(-4000)}`);
    }
    await sleep(100);
  }
  return { role, pid: child.pid!, child, output: () => out, exited };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has gone. */
export async function stopKnarrChild(k: KnarrChild, graceMs = 30_000): Promise<void> {
  if (k.child.exitCode !== null || k.child.signalCode !== null) return;
  k.child.kill('SIGTERM');
  const killed = await Promise.race([k.exited.then(() => false), sleep(graceMs).then(() => true)]);
  if (killed) {
    log(`knarr ${k.role} did not stop within ${graceMs} ms of SIGTERM: SIGKILL`);
    k.child.kill('SIGKILL');
    await k.exited;
  }
}

/** `VmRSS` of a process, in KiB (null once it has gone). */
export function currentRssKiB(pid: number | 'self'): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Samples the RSS of some processes every `everyMs` until stopped: the shape of memory over a run. */
export class RssSampler {
  readonly samples: { atMs: number; rssKiB: Record<string, number | null> }[] = [];
  private timer: NodeJS.Timeout;
  private t0 = performance.now();
  constructor(private pids: Record<string, number>, everyMs = 250) {
    this.timer = setInterval(() => this.take(), everyMs);
    this.timer.unref();
    this.take();
  }
  take(): void {
    const rssKiB: Record<string, number | null> = {};
    for (const [name, pid] of Object.entries(this.pids)) rssKiB[name] = currentRssKiB(pid);
    this.samples.push({ atMs: performance.now() - this.t0, rssKiB });
  }
  max(name: string): number | null {
    const xs = this.samples.map((s) => s.rssKiB[name]).filter((x): x is number => typeof x === 'number');
    return xs.length ? Math.max(...xs) : null;
  }
  stop(): void {
    clearInterval(this.timer);
    this.take();
  }
}
