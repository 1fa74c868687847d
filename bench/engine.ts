/**
 * knarr run the way users run it, side by side with `cp -a` and `rclone copy` on the same bytes,
 * on both databases, reported as throughput ratios: issue 6's targets. Embedded PGlite is one
 * `knarr server` process (API + worker + PGlite, its Temporal dev server a child); PostgreSQL is a
 * `knarr worker` and a `knarr api` process against a Temporal dev server and a fresh database the
 * benchmark makes. Peak RSS is each knarr process's own VmHWM (children not included).
 * `npm run bench -- engine --help` lists the flags; see bench/README.md.
 */
import { Client, Connection } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findTemporalCli } from '../runtime/temporalCli.js';
import { createTestDatabase } from '../test/support/pg.js';
import { freePort } from '../test/support/ports.js';
import { renderProfileSummary, summariseCpuProfile } from './lib/cpuprofile.js';
import {
  apiOk, benchAdminKey, capture, commandLineOf, currentRssKiB, defaultReportFile, describeTree, dropCaches, findRclone, fmt, gitFacts,
  gnuTimeAvailable, intOption, type KnarrChild, listOption, log, machineFacts, makeWorkDir, median, peakRssKiB, PgBackendCpu, phaseNames, phasesOf,
  type PhaseSplit, probeDropCaches, processCpuSeconds, resetPeakRss, RssSampler, runHistory, sleep, startDevServerOnFreePort, startKnarrChild,
  stopKnarrChild, timeCommand, timedSync, type TreeFacts, treeMismatch, warmFile, writeRandomFile, writeSmallTree,
} from './support.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

const HELP = `usage: node --import tsx bench/engine.ts [flags]    (or: npm run bench -- engine [flags])

  --reps N               repetitions of every contender on every workload (1)
  --workloads LIST       large,small (both)
  --dbs LIST             pglite,postgres (both): knarr server on PGlite / knarr api + worker on PostgreSQL
  --contenders LIST      cp,rclone,knarr,knarr-noverify (all four)
  --large-mib N          the large file in MiB (4096)
  --small-files N        number of small files (20000)
  --small-kib N          size of every small file in KiB (16)
  --small-folders N      folders the small files are spread over (100)
  --transfers N          rclone --transfers and knarr options.transfers (4)
  --dir DIR              where the scratch folder goes; on the disk you want to measure (${tmpdir()})
  --rclone PATH          the rclone to run (the v1.76.0 build in ~/.cache/knarr, else rclone on PATH)
  --no-drop-caches       do not drop the page cache before each measurement
  --pglite-restart       start knarr server once and stop it before the measured start, so the measured
                         process opens an existing database (a restart) instead of creating it (a first start)
  --cpu-prof             run the knarr processes under node --cpu-prof; the report gets a summary by module
  --memprobe             preload bench/lib/memprobe.mjs in the knarr processes: memoryUsage split every 500 ms
  --memprobe-gc          with --memprobe: --expose-gc and a gc() before every sample (what is retained)
  --out FILE             the Markdown report (bench/results/engine-<date>.md); "-" writes none
  --keep                 keep the scratch folder (profiles and memory samples are in it)
  --help

PostgreSQL: a fresh database on KNARR_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres), dropped after.`;

const allWorkloads = ['large', 'small'] as const;
type Workload = (typeof allWorkloads)[number];
const allDbs = ['pglite', 'postgres'] as const;
type DbKind = (typeof allDbs)[number];
const allContenders = ['cp', 'rclone', 'knarr', 'knarr-noverify'] as const;
type Contender = (typeof allContenders)[number];

const contenderLabel: Record<Contender, string> = {
  cp: '`cp -a` (raw limit)',
  rclone: '`rclone copy`',
  knarr: 'knarr, verify on',
  'knarr-noverify': 'knarr, verify off',
};
const dbLabel: Record<DbKind, string> = {
  pglite: 'embedded PGlite (`knarr server`: API + worker + PGlite in one process)',
  postgres: 'PostgreSQL (`knarr api` + `knarr worker`, separate processes)',
};
const rssTarget: Record<DbKind, { process: string; mb: number }> = {
  pglite: { process: 'knarr server', mb: 400 },
  postgres: { process: 'knarr worker', mb: 300 },
};

interface Options {
  reps: number;
  workloads: Workload[];
  dbs: DbKind[];
  contenders: Contender[];
  largeBytes: number;
  smallFiles: number;
  smallBytes: number;
  smallFolders: number;
  transfers: number;
  dir: string;
  rclone: string | null;
  dropCaches: boolean;
  cpuProf: boolean;
  pgliteRestart: boolean;
  memprobe: boolean;
  memprobeGc: boolean;
  out: string | null;
  keep: boolean;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      reps: { type: 'string', default: '1' },
      workloads: { type: 'string', default: allWorkloads.join(',') },
      dbs: { type: 'string', default: allDbs.join(',') },
      contenders: { type: 'string', default: allContenders.join(',') },
      'large-mib': { type: 'string', default: '4096' },
      'small-files': { type: 'string', default: '20000' },
      'small-kib': { type: 'string', default: '16' },
      'small-folders': { type: 'string', default: '100' },
      transfers: { type: 'string', default: '4' },
      dir: { type: 'string', default: tmpdir() },
      rclone: { type: 'string' },
      'no-drop-caches': { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      'pglite-restart': { type: 'boolean', default: false },
      memprobe: { type: 'boolean', default: false },
      'memprobe-gc': { type: 'boolean', default: false },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return null;
  return {
    reps: intOption('reps', values.reps, 1),
    workloads: listOption('workloads', values.workloads, allWorkloads),
    dbs: listOption('dbs', values.dbs, allDbs),
    contenders: listOption('contenders', values.contenders, allContenders),
    largeBytes: intOption('large-mib', values['large-mib'], 1) * 1024 * 1024,
    smallFiles: intOption('small-files', values['small-files'], 1),
    smallBytes: intOption('small-kib', values['small-kib'], 0) * 1024,
    smallFolders: intOption('small-folders', values['small-folders'], 1),
    transfers: intOption('transfers', values.transfers, 1),
    dir: resolve(values.dir),
    rclone: values.rclone ?? null,
    dropCaches: !values['no-drop-caches'],
    cpuProf: values['cpu-prof'],
    pgliteRestart: values['pglite-restart'],
    memprobe: values.memprobe || values['memprobe-gc'],
    memprobeGc: values['memprobe-gc'],
    out: values.out === '-' ? null : values.out ? resolve(values.out) : defaultReportFile('engine'),
    keep: values.keep,
  };
}

// ---------------------------------------------------------------------------------------------
// knarr deployments

interface Deployment {
  db: DbKind;
  apiUrl: string;
  client: Client;
  /** The knarr processes, the one the RSS target is about first. */
  processes: KnarrChild[];
  temporalPid: number | null;
  pgCpu: PgBackendCpu | null;
  /** Where --cpu-prof profiles and --memprobe samples go. */
  diagDir: string;
  /** RSS of every knarr process over the deployment's whole life, every 250 ms. */
  sampler: RssSampler;
  stop(): Promise<void>;
}

async function nodeArgsFor(opts: Options, diagDir: string, role: string): Promise<{ nodeArgs: string[]; env: Record<string, string> }> {
  const nodeArgs: string[] = [];
  const env: Record<string, string> = {};
  if (opts.cpuProf) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', join(diagDir, `cpuprof-${role}`));
  if (opts.memprobe) {
    nodeArgs.push('--import', './bench/lib/memprobe.mjs');
    env.KNARR_BENCH_MEMPROBE = join(diagDir, `memprobe-${role}.jsonl`);
    if (opts.memprobeGc) {
      nodeArgs.push('--expose-gc');
      env.KNARR_BENCH_MEMPROBE_GC = '1';
    }
  }
  await mkdir(diagDir, { recursive: true });
  return { nodeArgs, env };
}

async function startDeployment(opts: Options, db: DbKind, workDir: string): Promise<Deployment> {
  const diagDir = join(workDir, `diag-${db}`);
  const cleanups: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err) => log(`while stopping: ${(err as Error).message}`));
  };
  try {
    if (db === 'pglite') {
      const dataDir = join(workDir, 'knarr-data');
      const [apiPort, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
      const serverEnv = {
        KNARR_DATA_DIR: dataDir, KNARR_API_PORT: String(apiPort), KNARR_TEMPORAL_PORT: String(temporalPort), KNARR_TEMPORAL_UI_PORT: String(uiPort),
        DATABASE_URL: '', TEMPORAL_ADDRESS: '', KNARR_MASTER_KEY: '', KNARR_ADMIN_KEY: benchAdminKey,
      };
      if (opts.pgliteRestart) {
        log('first start of knarr server (creates the database), then a stop');
        await stopKnarrChild(await startKnarrChild('server', serverEnv));
      }
      const { nodeArgs, env } = await nodeArgsFor(opts, diagDir, 'server');
      const server = await startKnarrChild('server', { ...serverEnv, ...env }, { nodeArgs });
      cleanups.push(() => stopKnarrChild(server));
      const temporalPid = Number.parseInt(await readFile(join(dataDir, 'temporal.pid'), 'utf8').catch(() => ''), 10) || null;
      const connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
      cleanups.push(() => connection.close());
      const sampler = new RssSampler({ server: server.pid });
      cleanups.push(async () => sampler.stop());
      return { db, apiUrl: `http://127.0.0.1:${apiPort}`, client: new Client({ connection }), processes: [server], temporalPid, pgCpu: null, diagDir, sampler, stop: stopAll };
    }

    const cli = await findTemporalCli({ log });
    const dev = await startDevServerOnFreePort(cli);
    cleanups.push(() => dev.stop());
    const fresh = await createTestDatabase('knarr_bench');
    cleanups.push(() => fresh.drop());
    const common = {
      DATABASE_URL: fresh.url, TEMPORAL_ADDRESS: dev.address, KNARR_MASTER_KEY: randomBytes(32).toString('base64'),
      KNARR_TASK_QUEUE: `knarr-bench-${randomBytes(4).toString('hex')}`,
      // Split processes serve many users: local remotes only under the bench's own folder.
      KNARR_ADMIN_KEY: benchAdminKey, KNARR_LOCAL_ROOTS: workDir,
    };
    const w = await nodeArgsFor(opts, diagDir, 'worker');
    const worker = await startKnarrChild('worker', { ...common, ...w.env, KNARR_DATA_DIR: join(workDir, 'knarr-worker-data') }, { nodeArgs: w.nodeArgs });
    cleanups.push(() => stopKnarrChild(worker));
    const apiPort = await freePort();
    const a = await nodeArgsFor(opts, diagDir, 'api');
    const apiProc = await startKnarrChild('api', { ...common, ...a.env, KNARR_DATA_DIR: join(workDir, 'knarr-api-data'), KNARR_API_PORT: String(apiPort) }, { nodeArgs: a.nodeArgs });
    cleanups.push(() => stopKnarrChild(apiProc));
    const connection = await Connection.connect({ address: dev.address });
    cleanups.push(() => connection.close());
    const pgCpu = new PgBackendCpu(fresh.url);
    cleanups.push(() => pgCpu.close());
    const sampler = new RssSampler({ worker: worker.pid, api: apiProc.pid });
    cleanups.push(async () => sampler.stop());
    return { db, apiUrl: `http://127.0.0.1:${apiPort}`, client: new Client({ connection }), processes: [worker, apiProc], temporalPid: dev.pid, pgCpu, diagDir, sampler, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface ProcessUse {
  role: string;
  /** RSS as the run started, and its peak during the run (VmHWM, reset at the start). */
  startRssKiB: number | null;
  peakRssKiB: number | null;
  endRssKiB: number | null;
  cpuSeconds: number | null;
}

interface Measurement {
  loadBefore: number;
  commandSeconds: number;
  syncSeconds: number;
  /** cp / rclone: from GNU time. knarr: the process of the RSS target (server, or worker). */
  peakRssKiB: number | null;
  cpuSeconds: number | null;
  knarr?: {
    runId: string;
    split: PhaseSplit;
    executions: number;
    processes: ProcessUse[];
    temporalCpuSeconds: number | null;
    temporalPeakRssKiB: number | null;
    postgresCpuSeconds: number | null;
  };
}

interface WorkloadInfo {
  name: Workload;
  describe: string;
  srcDir: string;
  facts: TreeFacts;
}

interface Context {
  opts: Options;
  workDir: string;
  srcRoot: string;
  dstRoot: string;
  rcloneBin: string | null;
  gnuTime: boolean;
  canDropCaches: boolean;
}

const terminal = ['completed', 'completed_with_errors', 'failed', 'cancelled'];

async function runContender(ctx: Context, dep: Deployment | null, w: WorkloadInfo, contender: Contender, dest: string): Promise<Measurement> {
  const loadBefore = await loadAverage();
  if (contender === 'cp' || contender === 'rclone') {
    const [cmd, args] = contender === 'cp'
      ? ['cp', ['-a', w.srcDir, dest]] as const
      : [ctx.rcloneBin!, ['--config', '/dev/null', 'copy', w.srcDir, dest, '--transfers', String(ctx.opts.transfers), '--checkers', '8']] as const;
    const timed = await timeCommand(cmd, [...args], { gnuTime: ctx.gnuTime, scratchDir: ctx.workDir });
    const syncSeconds = await timedSync();
    return { loadBefore, commandSeconds: timed.seconds, syncSeconds, peakRssKiB: timed.maxRssKiB, cpuSeconds: timed.cpuSeconds };
  }

  const d = dep!;
  for (const p of d.processes) await resetPeakRss(p.pid);
  if (d.temporalPid) await resetPeakRss(d.temporalPid);
  const before = d.processes.map((p) => ({ rss: currentRssKiB(p.pid), cpu: processCpuSeconds(p.pid) }));
  const temporalCpuBefore = d.temporalPid ? processCpuSeconds(d.temporalPid) : null;
  const pgBefore = await d.pgCpu?.sample().catch(() => null) ?? null;

  const postedAtMs = Date.now();
  const started = performance.now();
  const { runId } = await apiOk<{ runId: string }>(d.apiUrl, 'POST', '/v1/jobs', {
    source: `bench-src:${relative(ctx.srcRoot, w.srcDir)}`,
    destination: `bench-dst:${relative(ctx.dstRoot, dest)}`,
    mode: 'copy',
    options: { verify: contender === 'knarr', transfers: ctx.opts.transfers },
  });
  let run: { state: string; error: string | null; files: unknown };
  const deadline = Date.now() + 3 * 3_600_000;
  for (;;) {
    run = await apiOk(d.apiUrl, 'GET', `/v1/runs/${runId}`);
    if (terminal.includes(run.state)) break;
    if (Date.now() > deadline) throw new Error(`knarr run ${runId} did not finish within three hours: ${JSON.stringify(run)}`);
    await sleep(100);
  }
  const commandSeconds = (performance.now() - started) / 1000;
  const doneAtMs = postedAtMs + commandSeconds * 1000;
  const processes: ProcessUse[] = d.processes.map((p, i) => {
    const cpu = processCpuSeconds(p.pid);
    return {
      role: p.role, startRssKiB: before[i].rss, peakRssKiB: peakRssKiB(p.pid), endRssKiB: currentRssKiB(p.pid),
      cpuSeconds: cpu !== null && before[i].cpu !== null ? cpu - before[i].cpu! : null,
    };
  });
  const temporalCpuAfter = d.temporalPid ? processCpuSeconds(d.temporalPid) : null;
  const pgAfter = await d.pgCpu?.sample().catch(() => null) ?? null;
  if (run.state !== 'completed') throw new Error(`knarr run ${runId} ended ${run.state}: ${run.error ?? ''} (${JSON.stringify(run.files)})`);
  const syncSeconds = await timedSync();
  const history = await runHistory(d.client, `run-${runId}`);
  return {
    loadBefore,
    commandSeconds,
    syncSeconds,
    peakRssKiB: processes[0].peakRssKiB,
    cpuSeconds: processes.reduce((s, p) => s + (p.cpuSeconds ?? 0), 0),
    knarr: {
      runId,
      split: phasesOf(history, postedAtMs, doneAtMs),
      executions: history.executions,
      processes,
      temporalCpuSeconds: temporalCpuBefore !== null && temporalCpuAfter !== null ? temporalCpuAfter - temporalCpuBefore : null,
      temporalPeakRssKiB: d.temporalPid ? peakRssKiB(d.temporalPid) : null,
      postgresCpuSeconds: PgBackendCpu.between(pgBefore, pgAfter),
    },
  };
}

async function prepareData(ctx: Context): Promise<WorkloadInfo[]> {
  const { opts, srcRoot } = ctx;
  const started = performance.now();
  if (opts.workloads.includes('large')) {
    log(`writing ${opts.largeBytes} random bytes`);
    await mkdir(join(srcRoot, 'large'), { recursive: true });
    await writeRandomFile(join(srcRoot, 'large', 'large.bin'), opts.largeBytes);
  }
  if (opts.workloads.includes('small')) {
    log(`writing ${opts.smallFiles} files of ${opts.smallBytes} bytes`);
    await writeSmallTree(join(srcRoot, 'small'), opts.smallFiles, opts.smallBytes, opts.smallBytes, 1, { folders: opts.smallFolders });
  }
  await writeSmallTree(join(srcRoot, 'warmup'), 20, 1024, 4096, 2);
  log(`test data written in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const out: WorkloadInfo[] = [];
  for (const name of opts.workloads) {
    const srcDir = join(srcRoot, name);
    const facts = await describeTree(srcDir);
    const describe = name === 'large' ? `1 file of ${mib(opts.largeBytes)}` : `${opts.smallFiles} files of ${opts.smallBytes / 1024} KiB in ${Math.min(opts.smallFolders, opts.smallFiles)} folders`;
    out.push({ name, describe: `${describe}; ${facts.files.size} files, ${mb(facts.bytes)}`, srcDir, facts });
  }
  return out;
}

async function loadAverage(): Promise<number> {
  return Number((await readFile('/proc/loadavg', 'utf8').catch(() => 'NaN')).split(' ')[0]);
}

const mib = (bytes: number) => (bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const kibToMb = (k: number | null | undefined) => (k === null || k === undefined || !Number.isFinite(k) ? '–' : `${Math.round((k * 1024) / 1e6)} MB`);

interface DbBlock {
  db: DbKind;
  results: Map<string, Measurement[]>;
  /** RSS of each knarr process over the whole block (250 ms samples), and after the warm-up. */
  overallPeakKiB: Record<string, number | null>;
  afterWarmupKiB: Record<string, number | null>;
  profiles: string[];
  memprobeFiles: string[];
  rssSeries: RssSampler['samples'];
  marks: { atMs: number; label: string }[];
}

export async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  if (!opts) {
    console.log(HELP);
    return;
  }
  const commandLine = commandLineOf('bench/engine.ts', argv);
  const startedAt = new Date();
  const loadAtStart = (await readFile('/proc/loadavg', 'utf8').catch(() => '?')).trim();
  const gitAtStart = await gitFacts(repoRoot);
  const workDir = await makeWorkDir(opts.dir, 'knarr-bench-engine-');
  const ctx: Context = { opts, workDir, srcRoot: join(workDir, 'src'), dstRoot: join(workDir, 'dst'), rcloneBin: null, gnuTime: false, canDropCaches: false };
  let current: Deployment | null = null;
  let cleaned: Promise<void> | null = null;
  const cleanup = () => (cleaned ??= (async () => {
    await current?.stop();
    if (!opts.keep) await rm(workDir, { recursive: true, force: true });
    else log(`kept ${workDir}`);
  })());
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const notes: string[] = [];
  try {
    await mkdir(ctx.srcRoot, { recursive: true });
    await mkdir(ctx.dstRoot, { recursive: true });
    ctx.gnuTime = await gnuTimeAvailable();
    if (!ctx.gnuTime) notes.push('`/usr/bin/time` (GNU time) is not installed: no peak RSS or CPU for `cp` and `rclone`.');
    if (opts.contenders.includes('rclone')) {
      ctx.rcloneBin = await findRclone(opts.rclone);
      if (!ctx.rcloneBin) {
        notes.push('rclone was not found: no rclone column.');
        opts.contenders = opts.contenders.filter((c) => c !== 'rclone');
      }
    }
    if (opts.dropCaches) {
      const why = await probeDropCaches();
      ctx.canDropCaches = why === null;
      if (why) notes.push(`The page cache could NOT be dropped (${why}).`);
    } else notes.push('The page cache was not dropped (--no-drop-caches).');
    if (!(await resetPeakRss('self'))) notes.push('/proc/<pid>/clear_refs is not writable: peaks are since each process started, not per run.');
    if (opts.dbs.includes('pglite')) {
      notes.push(opts.pgliteRestart
        ? 'PGlite: the measured `knarr server` opened a database an earlier start had created (a restart).'
        : 'PGlite: the measured `knarr server` created its database on a fresh data dir (a new user\'s first start, PGlite\'s initdb included).');
    }
    if (opts.cpuProf) notes.push('The knarr processes ran under `node --cpu-prof`: their times include the profiler\'s overhead.');
    if (opts.memprobe) notes.push(`The knarr processes ran with bench/lib/memprobe.mjs preloaded${opts.memprobeGc ? ' and a full gc() every 500 ms (--expose-gc)' : ''}: their times include that.`);

    const workloads = await prepareData(ctx);
    const blocks: DbBlock[] = [];
    const needsKnarr = opts.contenders.some((c) => c.startsWith('knarr'));
    for (const db of needsKnarr ? opts.dbs : [opts.dbs[0]]) {
      const block: DbBlock = { db, results: new Map(), overallPeakKiB: {}, afterWarmupKiB: {}, profiles: [], memprobeFiles: [], rssSeries: [], marks: [] };
      blocks.push(block);
      let dep: Deployment | null = null;
      if (needsKnarr) {
        log(`starting knarr on ${db}`);
        dep = current = await startDeployment(opts, db, workDir);
        await apiOk(dep.apiUrl, 'POST', '/v1/remotes', { name: 'bench-src', type: 'local', config: { root: ctx.srcRoot } });
        await apiOk(dep.apiUrl, 'POST', '/v1/remotes', { name: 'bench-dst', type: 'local', config: { root: ctx.dstRoot } });
        const mark = (label: string) => block.marks.push({ atMs: dep!.sampler.samples.at(-1)?.atMs ?? 0, label });
        mark('started');
        log('warm-up run');
        const warm = await runContender(ctx, dep, { name: 'small', describe: 'warm-up', srcDir: join(ctx.srcRoot, 'warmup'), facts: await describeTree(join(ctx.srcRoot, 'warmup')) }, 'knarr', join(ctx.dstRoot, 'warmup'));
        log(`warm-up took ${warm.commandSeconds.toFixed(2)} s`);
        await rm(join(ctx.dstRoot, 'warmup'), { recursive: true, force: true });
        for (const p of dep.processes) block.afterWarmupKiB[p.role] = currentRssKiB(p.pid);
        mark('warm');
      }
      for (const w of workloads) {
        for (let rep = 1; rep <= opts.reps; rep++) {
          const contenders = needsKnarr || db === opts.dbs[0] ? opts.contenders : [];
          const order = contenders.map((_, i) => contenders[(i + rep - 1 + blocks.length - 1) % contenders.length]);
          for (const c of order) {
            const dest = join(ctx.dstRoot, `${w.name}-${c}-${db}-${rep}`);
            if (ctx.canDropCaches) await dropCaches();
            if (c === 'cp') await warmFile('/usr/bin/cp');
            if (c === 'rclone' && ctx.rcloneBin) await warmFile(ctx.rcloneBin.includes('/') ? ctx.rcloneBin : (await capture('which', [ctx.rcloneBin])).stdout.trim());
            const m = await runContender(ctx, dep, w, c, dest);
            if (dep && c.startsWith('knarr')) block.marks.push({ atMs: dep.sampler.samples.at(-1)?.atMs ?? 0, label: `${w.name} ${c} ${rep}` });
            const wrong = treeMismatch(w.facts, await describeTree(dest));
            if (wrong) throw new Error(`${c} on ${w.name} (${db}, rep ${rep}) did not copy the tree: ${wrong}`);
            await rm(dest, { recursive: true, force: true });
            const k = `${w.name}/${c}`;
            block.results.set(k, [...(block.results.get(k) ?? []), m]);
            const total = m.commandSeconds + m.syncSeconds;
            log(`${db} ${w.name} rep ${rep}/${opts.reps} ${c}: ${total.toFixed(2)} s (${m.commandSeconds.toFixed(2)} + sync ${m.syncSeconds.toFixed(2)}), ${(w.facts.bytes / 1e6 / total).toFixed(1)} MB/s` +
              (m.knarr ? `, peak ${kibToMb(m.peakRssKiB)}, phases ${phaseNames.map((p) => `${p} ${m.knarr!.split.phases[p].toFixed(2)}`).join(' ')}` : ''));
          }
        }
      }
      if (dep) {
        for (const p of dep.processes) block.overallPeakKiB[p.role] = dep.sampler.max(p.role);
        await dep.stop();
        current = null;
        block.rssSeries = dep.sampler.samples;
        if (opts.cpuProf) {
          for (const p of dep.processes) {
            const dir = join(dep.diagDir, `cpuprof-${p.role}`);
            for (const f of await readdir(dir).catch(() => [] as string[])) if (f.endsWith('.cpuprofile')) block.profiles.push(join(dir, f));
          }
        }
        if (opts.memprobe) for (const p of dep.processes) block.memprobeFiles.push(join(dep.diagDir, `memprobe-${p.role}.jsonl`));
      }
    }

    const report = await renderReport({ ctx, workloads, blocks, commandLine, startedAt, loadAtStart, gitAtStart, notes });
    console.log(report);
    if (opts.out) {
      await mkdir(dirname(opts.out), { recursive: true });
      await writeFile(opts.out, report);
      log(`report written to ${relative(process.cwd(), opts.out) || opts.out}`);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

// ---------------------------------------------------------------------------------------------
// The report

async function renderReport(args: {
  ctx: Context; workloads: WorkloadInfo[]; blocks: DbBlock[]; commandLine: string; startedAt: Date; loadAtStart: string; gitAtStart: string; notes: string[];
}): Promise<string> {
  const { ctx, workloads, blocks, commandLine, startedAt, loadAtStart, gitAtStart, notes } = args;
  const { opts } = ctx;
  const total = (m: Measurement) => m.commandSeconds + m.syncSeconds;
  const lines: string[] = [];
  const facts = await machineFacts(ctx.workDir);
  const rcloneVersion = ctx.rcloneBin ? (await capture(ctx.rcloneBin, ['version'])).stdout.split('\n')[0].trim() : null;
  const cpVersion = (await capture('cp', ['--version']).catch(() => ({ stdout: '?' }))).stdout.split('\n')[0].trim();
  const allLoads = blocks.flatMap((b) => [...b.results.values()].flat().map((m) => m.loadBefore)).filter(Number.isFinite);

  lines.push(`# knarr engine benchmark: the whole platform vs cp and rclone, ${startedAt.toISOString().slice(0, 10)}`, '');
  lines.push('```sh', commandLine, '```', '');
  lines.push(
    `${opts.reps} repetition${opts.reps === 1 ? '' : 's'} per contender, workload and database, ${startedAt.toISOString().slice(11, 19)}–${new Date().toISOString().slice(11, 19)} UTC. ` +
      `**Load average at the start: ${loadAtStart}** on ${facts.nproc} CPUs; at the end: ${facts.loadavg}` +
      (allLoads.length ? `; 1-minute load as each measurement started: median ${fmt(median(allLoads))} (${fmt(Math.min(...allLoads))}–${fmt(Math.max(...allLoads))}).` : '.') +
      ` Above ${facts.nproc} other work was competing for the CPUs: read the ratios as noisy.`,
    '',
    `Page cache ${ctx.canDropCaches ? 'dropped before every measurement' : '**not** dropped'}; every copy goes to a fresh folder and is checked afterwards (paths, sizes, mtimes). ` +
      '**Time** is until the data is on disk: the contender\'s own time (knarr: `POST /v1/jobs` until `GET /v1/runs/{id}` says `completed`, polled every 100 ms) plus a `sync`. ' +
      '**vs rclone** and **vs cp** are throughput ratios (their median time ÷ this row\'s): 1.00 is as fast, 0.50 half as fast. issue 6 targets: 4 GiB file ≥ 1.0× rclone, 20,000 small files ≥ 0.7× rclone.',
    '',
    `- knarr: git ${gitAtStart}; job options \`transfers: ${opts.transfers}\`, everything else default; knarr processes started with \`node cli/start.mjs <role>\` (the bundle \`npm start\` runs).`,
    ctx.rcloneBin ? `- rclone: ${rcloneVersion}, \`rclone copy SRC DST --transfers ${opts.transfers} --checkers 8\`.` : '- rclone: not run.',
    `- cp: ${cpVersion}, \`cp -a SRC DST\`.`,
    `- Peak RSS: cp and rclone from \`/usr/bin/time -v\`; knarr from \`/proc/<pid>/status\` VmHWM of the one process named (its children, the Temporal dev server, not included), reset with \`clear_refs\` before each run. Targets: ${allDbs.map((d) => `${rssTarget[d].process} < ${rssTarget[d].mb} MB`).join(', ')}.`,
    '',
  );

  for (const block of blocks) {
    lines.push(`## ${dbLabel[block.db]}`, '');
    for (const w of workloads) {
      lines.push(`### ${w.name}: ${w.describe}`, '');
      lines.push('| contender | median s | runs (s) | MB/s | vs rclone | vs cp | command s | sync s | peak RSS | CPU s |');
      lines.push('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
      const medOf = (c: Contender) => {
        // cp and rclone are measured in every block; fall back to the first block's when this one has none.
        const own = block.results.get(`${w.name}/${c}`);
        return median((own ?? blocks[0].results.get(`${w.name}/${c}`) ?? []).map(total));
      };
      const cpMed = medOf('cp');
      const rcloneMed = medOf('rclone');
      for (const c of opts.contenders) {
        const ms = block.results.get(`${w.name}/${c}`) ?? [];
        if (ms.length === 0) continue;
        const t = median(ms.map(total));
        const rss = median(ms.map((m) => m.peakRssKiB ?? NaN));
        const who = c.startsWith('knarr') ? ` (${rssTarget[block.db].process})` : '';
        lines.push(`| ${contenderLabel[c]} | ${fmt(t)} | ${ms.map((m) => fmt(total(m))).join(', ')} | ${fmt(w.facts.bytes / 1e6 / t, 1)} | ${fmt(rcloneMed / t)} | ${fmt(cpMed / t)} | ` +
          `${fmt(median(ms.map((m) => m.commandSeconds)))} | ${fmt(median(ms.map((m) => m.syncSeconds)))} | ${kibToMb(rss)}${who} | ${fmt(median(ms.map((m) => m.cpuSeconds ?? NaN)), 1)} |`);
      }
      lines.push('');
    }

    const knarrRows = workloads.flatMap((w) => opts.contenders.filter((c) => c.startsWith('knarr')).map((c) => ({ w, c, ms: block.results.get(`${w.name}/${c}`) ?? [] }))).filter((r) => r.ms.length > 0);
    if (knarrRows.length) {
      lines.push(`### Where knarr's time goes (${block.db})`, '');
      lines.push('Medians in seconds from the run\'s Temporal history: **start** `POST /v1/jobs` until the workflow started; **plan** until the last planning activity ' +
        'closed (both sides listed into `entries`, diffed into `items`, batched); **copy** until the last copy activity closed; **verify** until the last verify activity closed; ' +
        '**finalize** until the workflow closed; **poll** until the 100 ms poll saw it. CPU seconds of each knarr process, the Temporal dev server and (PostgreSQL) the database backends during the run.', '');
      lines.push(`| workload | contender | total | ${phaseNames.join(' | ')} | activities copy/verify | sched→start s | CPU knarr | CPU Temporal | CPU PostgreSQL | RSS start → peak → end |`);
      lines.push(`| --- | --- | ---: | ${phaseNames.map(() => '---:').join(' | ')} | ---: | ---: | --- | ---: | ---: | --- |`);
      for (const { w, c, ms } of knarrRows) {
        const d = ms.map((m) => m.knarr!);
        const phase = (p: (typeof phaseNames)[number]) => fmt(median(d.map((x) => x.split.phases[p])));
        const perProc = d[0].processes.map((p, i) => ({ role: p.role, cpu: median(d.map((x) => x.processes[i].cpuSeconds ?? NaN)), start: median(d.map((x) => x.processes[i].startRssKiB ?? NaN)), peak: median(d.map((x) => x.processes[i].peakRssKiB ?? NaN)), end: median(d.map((x) => x.processes[i].endRssKiB ?? NaN)) }));
        lines.push(`| ${w.name} | ${contenderLabel[c]} | ${fmt(median(ms.map((m) => m.commandSeconds)))} | ${phaseNames.map(phase).join(' | ')} | ` +
          `${median(d.map((x) => x.split.copyActivities))}/${median(d.map((x) => x.split.verifyActivities))} | ${fmt(median(d.map((x) => x.split.meanScheduleToStart)), 3)} | ` +
          `${perProc.map((p) => `${p.role} ${fmt(p.cpu, 1)}`).join(', ')} | ${fmt(median(d.map((x) => x.temporalCpuSeconds ?? NaN)), 1)} | ${fmt(median(d.map((x) => x.postgresCpuSeconds ?? NaN)), 1)} | ` +
          `${perProc.map((p) => `${p.role} ${kibToMb(p.start)} → ${kibToMb(p.peak)} → ${kibToMb(p.end)}`).join('; ')} |`);
      }
      lines.push('');
      const roles = Object.keys(block.overallPeakKiB);
      if (roles.length) {
        lines.push(`RSS over the whole ${block.db} block (every 250 ms, warm-up and all runs in order): ` +
          roles.map((r) => `${r} ${kibToMb(block.afterWarmupKiB[r])} after the warm-up, peak ${kibToMb(block.overallPeakKiB[r])}`).join('; ') +
          ` (target: ${rssTarget[block.db].process} < ${rssTarget[block.db].mb} MB).`, '');
        lines.push(`RSS of ${roles[0]} at the end of each step: ${block.marks.map((mk) => {
          const s = block.rssSeries.find((x) => x.atMs >= mk.atMs) ?? block.rssSeries.at(-1);
          return `${mk.label} ${kibToMb(s?.rssKiB[roles[0]] ?? null)}`;
        }).join(', ')}.`, '');
      }
    }
    for (const f of block.profiles) {
      lines.push(renderProfileSummary(await summariseCpuProfile(f), `CPU profile of ${relative(ctx.workDir, f)} (whole process life: start, warm-up, every run above)`));
    }
    for (const f of block.memprobeFiles) lines.push(await renderMemprobe(f, block.db));
  }

  if (notes.length) {
    lines.push('## Notes', '');
    for (const n of notes) lines.push(`- ${n}`);
    lines.push('');
  }
  lines.push('## Machine', '');
  lines.push(`- ${facts.nproc} CPUs (${facts.cpu}); ${facts.kernel}; Node ${facts.node}`);
  lines.push(`- load average at the start: ${loadAtStart}; at the end: ${facts.loadavg}`);
  lines.push('', '```', facts.memory, '', facts.disk, '```', '');
  return lines.join('\n');
}

/** A few rows of the memory probe's samples: the split of the process's memory over its life. */
async function renderMemprobe(file: string, db: DbKind): Promise<string> {
  const rows = (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number> & { smaps: Record<string, number> });
  if (rows.length === 0) return `(no memory probe samples in ${file})\n`;
  const pick = [0, 0.1, 0.25, 0.5, 0.75, 0.9, 1].map((q) => rows[Math.min(rows.length - 1, Math.round(q * (rows.length - 1)))]);
  const maxRss = rows.reduce((a, b) => (b.rss > a.rss ? b : a));
  const m = (b: number | undefined) => (b === undefined ? '–' : (b / 1e6).toFixed(0));
  const lines = [`### Memory split of ${file.split('/').pop()} (${db}), MB`, '', '| t s | RSS | V8 heap total | heap used | external | arrayBuffers | WASM memory | anonymous | file-backed | malloc (V8) |', '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'];
  for (const r of [...pick, maxRss].sort((a, b) => a.t - b.t)) {
    lines.push(`| ${(r.t / 1000).toFixed(0)}${r === maxRss ? ' (peak)' : ''} | ${m(r.rss)} | ${m(r.heapTotal)} | ${m(r.heapUsed)} | ${m(r.external)} | ${m(r.arrayBuffers)} | ${m(r.wasm)} | ${m(r.smaps.Anonymous)} | ${m((r.smaps.Rss ?? 0) - (r.smaps.Anonymous ?? 0))} | ${m(r.mallocedMemory)} |`);
  }
  lines.push('');
  return lines.join('\n');
}

const isEntry = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isEntry) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err instanceof Error ? err.stack ?? err.message : err);
      process.exit(1);
    },
  );
}
