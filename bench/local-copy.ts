/**
 * knarr's local → local copy side by side with `cp -a` (the raw limit) and `rclone copy`, on the
 * same bytes, reported as ratios. Run with `npm run bench -- local-copy [flags]` or
 * `node --import tsx bench/local-copy.ts [flags]`; `--help` lists the flags. See bench/README.md.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  apiOk, type BenchKnarr, capture, commandLineOf, defaultReportFile, describeTree, dropCaches, findRclone, fmt, gitFacts, gnuTimeAvailable,
  intOption, linkTree, listOption, log, machineFacts, makeWorkDir, median, peakRssKiB, PgBackendCpu, phaseNames, type Phases, phasesOf,
  probeDropCaches, processCpuSeconds, resetPeakRss, runHistory, sleep, startBenchKnarr, timeCommand, timedSync, type TreeFacts, treeMismatch,
  warmFile, writeRandomFile, writeSmallTree,
} from './support.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

const HELP = `usage: node --import tsx bench/local-copy.ts [flags]    (or: npm run bench -- local-copy [flags])

  --reps N               repetitions of every contender on every workload (3)
  --workloads LIST       large,small,mixed (all three)
  --contenders LIST      cp,rclone,knarr,knarr-noverify (all four)
  --large-mib N          size of the large file in MiB (1024)
  --small-files N        number of small files (5000)
  --small-min-kib N      smallest small file in KiB (1)
  --small-max-kib N      largest small file in KiB (20)
  --transfers N          files at once, for rclone (--transfers) and knarr (options.transfers) (4)
  --dir DIR              where the scratch folder goes; on the disk you want to measure (${tmpdir()})
  --rclone PATH          the rclone to run (the v1.76.0 build in ~/.cache/knarr, else rclone on PATH)
  --no-drop-caches       do not drop the page cache before each measurement
  --out FILE             the Markdown report (bench/results/local-copy-<date>.md); "-" writes none
  --keep                 keep the scratch folder
  --help

DATABASE_URL, when set, is the database knarr uses; otherwise a fresh database is made on the test
PostgreSQL (KNARR_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres) and dropped after.`;

const allWorkloads = ['large', 'small', 'mixed'] as const;
type Workload = (typeof allWorkloads)[number];
const allContenders = ['cp', 'rclone', 'knarr', 'knarr-noverify'] as const;
type Contender = (typeof allContenders)[number];

const contenderLabel: Record<Contender, string> = {
  cp: '`cp -a` (raw limit)',
  rclone: '`rclone copy`',
  knarr: 'knarr, verify on (default)',
  'knarr-noverify': 'knarr, verify off',
};

interface Options {
  reps: number;
  workloads: Workload[];
  contenders: Contender[];
  largeBytes: number;
  smallFiles: number;
  smallMinBytes: number;
  smallMaxBytes: number;
  transfers: number;
  dir: string;
  rclone: string | null;
  dropCaches: boolean;
  out: string | null;
  keep: boolean;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      reps: { type: 'string', default: '3' },
      workloads: { type: 'string', default: allWorkloads.join(',') },
      contenders: { type: 'string', default: allContenders.join(',') },
      'large-mib': { type: 'string', default: '1024' },
      'small-files': { type: 'string', default: '5000' },
      'small-min-kib': { type: 'string', default: '1' },
      'small-max-kib': { type: 'string', default: '20' },
      transfers: { type: 'string', default: '4' },
      dir: { type: 'string', default: tmpdir() },
      rclone: { type: 'string' },
      'no-drop-caches': { type: 'boolean', default: false },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return null;
  const smallMinBytes = intOption('small-min-kib', values['small-min-kib'], 0) * 1024;
  const smallMaxBytes = intOption('small-max-kib', values['small-max-kib'], 1) * 1024;
  if (smallMinBytes > smallMaxBytes) throw new Error('--small-min-kib is larger than --small-max-kib');
  return {
    reps: intOption('reps', values.reps, 1),
    workloads: listOption('workloads', values.workloads, allWorkloads),
    contenders: listOption('contenders', values.contenders, allContenders),
    largeBytes: intOption('large-mib', values['large-mib'], 1) * 1024 * 1024,
    smallFiles: intOption('small-files', values['small-files'], 1),
    smallMinBytes,
    smallMaxBytes,
    transfers: intOption('transfers', values.transfers, 1),
    dir: resolve(values.dir),
    rclone: values.rclone ?? null,
    dropCaches: !values['no-drop-caches'],
    out: values.out === '-' ? null : values.out ? resolve(values.out) : defaultReportFile('local-copy'),
    keep: values.keep,
  };
}

/** One contender's one go at one workload. */
interface Measurement {
  /** The 1-minute load average as the measurement started: other work on the machine. */
  loadBefore: number;
  /** Until the contender said it was done. */
  commandSeconds: number;
  /** `sync` right after: what it left in the page cache reaching the disk. */
  syncSeconds: number;
  peakRssKiB: number | null;
  cpuSeconds: number | null;
  knarr?: KnarrDetail;
}

interface KnarrDetail {
  runId: string;
  /** Seconds, from the workflow history (see phasesOf). */
  phases: Phases;
  copyActivities: number;
  verifyActivities: number;
  /** Mean seconds from an activity being scheduled to a worker starting it. */
  meanScheduleToStart: number;
  executions: number;
  baselineRssKiB: number | null;
  temporalPeakRssKiB: number | null;
  temporalCpuSeconds: number | null;
  postgresCpuSeconds: number | null;
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
  knarr: BenchKnarr | null;
  pgCpu: PgBackendCpu | null;
  rcloneBin: string | null;
  gnuTime: boolean;
  canDropCaches: boolean;
  canResetPeak: boolean;
}

const terminal = ['completed', 'completed_with_errors', 'failed', 'cancelled'];

async function runContender(ctx: Context, w: WorkloadInfo, contender: Contender, dest: string): Promise<Measurement> {
  const scratch = ctx.workDir;
  const loadBefore = await loadAverage();
  if (contender === 'cp' || contender === 'rclone') {
    const [cmd, args] = contender === 'cp'
      ? ['cp', ['-a', w.srcDir, dest]] as const
      : [ctx.rcloneBin!, ['--config', '/dev/null', 'copy', w.srcDir, dest, '--transfers', String(ctx.opts.transfers), '--checkers', '8']] as const;
    const timed = await timeCommand(cmd, [...args], { gnuTime: ctx.gnuTime, scratchDir: scratch });
    const syncSeconds = await timedSync();
    return { loadBefore, commandSeconds: timed.seconds, syncSeconds, peakRssKiB: timed.maxRssKiB, cpuSeconds: timed.cpuSeconds };
  }

  const knarr = ctx.knarr!;
  const devPid = knarr.devServer.pid;
  if (ctx.canResetPeak) {
    await resetPeakRss('self');
    await resetPeakRss(devPid);
  }
  const baselineRssKiB = peakRssKiB('self');
  const cpuBefore = process.cpuUsage();
  const temporalCpuBefore = processCpuSeconds(devPid);
  const pgBefore = await ctx.pgCpu?.sample().catch(() => null) ?? null;
  let sampledPeak = process.memoryUsage().rss;

  const postedAtMs = Date.now();
  const started = performance.now();
  const { runId } = await apiOk<{ runId: string }>(knarr.url, 'POST', '/v1/jobs', {
    source: `bench-src:${relative(ctx.srcRoot, w.srcDir)}`,
    destination: `bench-dst:${relative(ctx.dstRoot, dest)}`,
    mode: 'copy',
    options: { verify: contender === 'knarr', transfers: ctx.opts.transfers },
  });
  let run: { state: string; error: string | null; files: { done: number; failed: number } };
  const deadline = Date.now() + 3_600_000;
  for (;;) {
    run = await apiOk(knarr.url, 'GET', `/v1/runs/${runId}`);
    sampledPeak = Math.max(sampledPeak, process.memoryUsage().rss);
    if (terminal.includes(run.state)) break;
    if (Date.now() > deadline) throw new Error(`knarr run ${runId} did not finish within an hour: ${JSON.stringify(run)}`);
    await sleep(100);
  }
  const commandSeconds = (performance.now() - started) / 1000;
  const doneAtMs = postedAtMs + commandSeconds * 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const temporalCpuAfter = processCpuSeconds(devPid);
  const pgAfter = await ctx.pgCpu?.sample().catch(() => null) ?? null;
  const peak = ctx.canResetPeak ? peakRssKiB('self') : Math.round(sampledPeak / 1024);
  const temporalPeak = ctx.canResetPeak ? peakRssKiB(devPid) : null;
  if (run.state !== 'completed') throw new Error(`knarr run ${runId} ended ${run.state}: ${run.error ?? ''} (${JSON.stringify(run.files)})`);
  const syncSeconds = await timedSync();

  const history = await runHistory(knarr.client, `run-${runId}`);
  return {
    loadBefore,
    commandSeconds,
    syncSeconds,
    peakRssKiB: peak,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    knarr: {
      runId,
      ...phasesOf(history, postedAtMs, doneAtMs),
      executions: history.executions,
      baselineRssKiB,
      temporalPeakRssKiB: temporalPeak,
      temporalCpuSeconds: temporalCpuBefore !== null && temporalCpuAfter !== null ? temporalCpuAfter - temporalCpuBefore : null,
      postgresCpuSeconds: PgBackendCpu.between(pgBefore, pgAfter),
    },
  };
}

async function prepareData(ctx: Context): Promise<WorkloadInfo[]> {
  const { opts, srcRoot } = ctx;
  const need = new Set(opts.workloads.flatMap((w) => (w === 'mixed' ? ['large', 'small'] : [w])));
  const started = performance.now();
  if (need.has('large')) {
    log(`writing ${opts.largeBytes} random bytes`);
    await mkdir(join(srcRoot, 'large'), { recursive: true });
    await writeRandomFile(join(srcRoot, 'large', 'large.bin'), opts.largeBytes);
  }
  if (need.has('small')) {
    log(`writing ${opts.smallFiles} small files`);
    await writeSmallTree(join(srcRoot, 'small'), opts.smallFiles, opts.smallMinBytes, opts.smallMaxBytes);
  }
  if (opts.workloads.includes('mixed')) {
    // Hard links: the mixed tree is both others, without writing the bytes a second time.
    await linkTree(join(srcRoot, 'large'), join(srcRoot, 'mixed', 'large'));
    await linkTree(join(srcRoot, 'small'), join(srcRoot, 'mixed', 'small'));
  }
  // A few files for an untimed first run: the worker's first activities, JIT and connection pools.
  await writeSmallTree(join(srcRoot, 'warmup'), 20, 1024, 4096, 2);
  log(`test data written in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const describeSmall = `${opts.smallFiles} files of ${opts.smallMinBytes / 1024}–${opts.smallMaxBytes / 1024} KiB in ${Math.ceil(opts.smallFiles / 50)} folders three deep`;
  const describeLarge = `1 file of ${mib(opts.largeBytes)}`;
  const out: WorkloadInfo[] = [];
  for (const name of opts.workloads) {
    const srcDir = join(srcRoot, name);
    const facts = await describeTree(srcDir);
    const describe = name === 'large' ? describeLarge : name === 'small' ? describeSmall : `${describeLarge} + ${describeSmall}`;
    out.push({ name, describe: `${describe}; ${facts.files.size} files, ${mb(facts.bytes)}`, srcDir, facts });
  }
  return out;
}

async function loadAverage(): Promise<number> {
  return Number((await readFile('/proc/loadavg', 'utf8').catch(() => 'NaN')).split(' ')[0]);
}

const mib = (bytes: number) => (bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const kibToMib = (k: number | null | undefined) => (k === null || k === undefined ? '–' : `${Math.round(k / 1024)} MiB`);

async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  if (!opts) {
    console.log(HELP);
    return;
  }
  const commandLine = commandLineOf('bench/local-copy.ts', argv);
  const startedAt = new Date();
  const loadAtStart = (await readFile('/proc/loadavg', 'utf8').catch(() => '?')).trim();
  // At the start: the worker runs the code loaded now, whatever is committed while it runs.
  const gitAtStart = await gitFacts(repoRoot);
  const workDir = await makeWorkDir(opts.dir, 'knarr-bench-local-copy-');
  const ctx: Context = {
    opts, workDir, srcRoot: join(workDir, 'src'), dstRoot: join(workDir, 'dst'), knarr: null, pgCpu: null,
    rcloneBin: null, gnuTime: false, canDropCaches: false, canResetPeak: false,
  };
  let cleaned: Promise<void> | null = null;
  const cleanup = () => (cleaned ??= (async () => {
    await ctx.pgCpu?.close().catch(() => {});
    await ctx.knarr?.stop();
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
    if (!ctx.gnuTime) notes.push('`/usr/bin/time` (GNU time) is not installed: no peak RSS or CPU for `cp` and `rclone` (`apt-get install time`).');
    if (opts.contenders.includes('rclone')) {
      ctx.rcloneBin = await findRclone(opts.rclone);
      if (!ctx.rcloneBin) {
        notes.push('rclone was not found (PATH, ~/.cache/knarr/bin/rclone): no rclone column.');
        opts.contenders = opts.contenders.filter((c) => c !== 'rclone');
      }
    }
    if (opts.dropCaches) {
      const why = await probeDropCaches();
      ctx.canDropCaches = why === null;
      if (why) notes.push(`The page cache could NOT be dropped (${why}): sources may be read from memory, which flatters everyone equally but hides disk reads.`);
    } else {
      notes.push('The page cache was not dropped (--no-drop-caches).');
    }
    ctx.canResetPeak = await resetPeakRss('self');
    if (!ctx.canResetPeak) notes.push("knarr's peak RSS is sampled every 100 ms (/proc/self/clear_refs is not writable), so short peaks may be missed.");

    const workloads = await prepareData(ctx);

    const needsKnarr = opts.contenders.some((c) => c.startsWith('knarr'));
    if (needsKnarr) {
      log('starting knarr (Temporal dev server, database, worker, API)');
      ctx.knarr = await startBenchKnarr();
      ctx.pgCpu = new PgBackendCpu(ctx.knarr.databaseUrl);
      await apiOk(ctx.knarr.url, 'POST', '/v1/remotes', { name: 'bench-src', type: 'local', config: { root: ctx.srcRoot } });
      await apiOk(ctx.knarr.url, 'POST', '/v1/remotes', { name: 'bench-dst', type: 'local', config: { root: ctx.dstRoot } });
      log('warm-up run');
      const warm = await runContender(ctx, { name: 'small', describe: 'warm-up', srcDir: join(ctx.srcRoot, 'warmup'), facts: await describeTree(join(ctx.srcRoot, 'warmup')) }, 'knarr', join(ctx.dstRoot, 'warmup'));
      log(`warm-up took ${warm.commandSeconds.toFixed(2)} s`);
      await rm(join(ctx.dstRoot, 'warmup'), { recursive: true, force: true });
    }

    const results = new Map<string, Measurement[]>();
    const key = (w: Workload, c: Contender) => `${w}/${c}`;
    for (const w of workloads) {
      for (let rep = 1; rep <= opts.reps; rep++) {
        // Rotating the order keeps a slow neighbour from always landing on the same contender.
        const order = opts.contenders.map((_, i) => opts.contenders[(i + rep - 1) % opts.contenders.length]);
        for (const c of order) {
          const dest = join(ctx.dstRoot, `${w.name}-${c}-${rep}`);
          if (ctx.canDropCaches) await dropCaches();
          if (c === 'cp') await warmFile('/usr/bin/cp');
          if (c === 'rclone' && ctx.rcloneBin) await warmFile(ctx.rcloneBin.includes('/') ? ctx.rcloneBin : (await capture('which', [ctx.rcloneBin])).stdout.trim());
          const m = await runContender(ctx, w, c, dest);
          const got = await describeTree(dest);
          const wrong = treeMismatch(w.facts, got);
          if (wrong) throw new Error(`${c} on ${w.name} (rep ${rep}) did not copy the tree: ${wrong}`);
          await rm(dest, { recursive: true, force: true });
          results.set(key(w.name, c), [...(results.get(key(w.name, c)) ?? []), m]);
          const total = m.commandSeconds + m.syncSeconds;
          log(`${w.name} rep ${rep}/${opts.reps} ${c}: ${total.toFixed(2)} s (${m.commandSeconds.toFixed(2)} + sync ${m.syncSeconds.toFixed(2)}), ${(w.facts.bytes / 1e6 / total).toFixed(1)} MB/s${m.knarr ? `, phases ${phaseNames.map((p) => `${p} ${m.knarr!.phases[p].toFixed(2)}`).join(' ')}` : ''}`);
        }
      }
    }

    const report = await renderReport({ ctx, workloads, results, key, commandLine, startedAt, loadAtStart, gitAtStart, notes });
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

async function renderReport(args: {
  ctx: Context;
  workloads: WorkloadInfo[];
  results: Map<string, Measurement[]>;
  key: (w: Workload, c: Contender) => string;
  commandLine: string;
  startedAt: Date;
  loadAtStart: string;
  gitAtStart: string;
  notes: string[];
}): Promise<string> {
  const { ctx, workloads, results, key, commandLine, startedAt, loadAtStart, gitAtStart, notes } = args;
  const { opts } = ctx;
  const total = (m: Measurement) => m.commandSeconds + m.syncSeconds;
  const lines: string[] = [];
  const finishedAt = new Date();
  const rcloneVersion = ctx.rcloneBin ? (await capture(ctx.rcloneBin, ['version'])).stdout.split('\n')[0].trim() : null;
  const cpVersion = (await capture('cp', ['--version']).catch(() => ({ stdout: '?' }))).stdout.split('\n')[0].trim();
  const temporalVersion = ctx.knarr ? (await capture(ctx.knarr.temporalCli, ['--version']).catch(() => ({ stdout: '?' }))).stdout.trim().replace(/^temporal version /, '') : null;
  const facts = await machineFacts(ctx.workDir);

  lines.push(`# knarr local → local copy, ${startedAt.toISOString().slice(0, 10)}`, '');
  lines.push('```sh', commandLine, '```', '');
  lines.push(
    `${opts.reps} repetitions per contender and workload, run ${startedAt.toISOString().slice(11, 19)}–${finishedAt.toISOString().slice(11, 19)} UTC; ` +
      `page cache ${ctx.canDropCaches ? 'dropped (`sync; echo 3 > /proc/sys/vm/drop_caches`) before every measurement' : '**not** dropped'}; ` +
      `fresh destination folder every time, checked afterwards (paths, sizes, mtimes to the ms).`,
    '',
    '**Time** is until the data is on disk: the contender\'s own time (knarr: `POST /v1/jobs` until `GET /v1/runs/{id}` says ' +
      '`completed`, polled every 100 ms) plus a `sync` right after it. `cp` and `rclone` leave their writes in the page cache; knarr ' +
      '`fdatasync`s every file before renaming it into place, so without the `sync` the comparison would be page cache against disk. ' +
      '**× cp** and **× rclone** divide medians: 1.00 is as fast, 2.00 takes twice as long. MB/s is 10⁶ bytes per second over the median time.',
    '',
  );
  lines.push(`- knarr: git ${gitAtStart} at the start; worker and API in the benchmark process, Temporal dev server ${temporalVersion ?? '–'} (in memory), ` +
    `PostgreSQL (${ctx.knarr?.databaseKind ?? '–'}); job options \`transfers: ${opts.transfers}\`, everything else default.`);
  if (ctx.rcloneBin) lines.push(`- rclone: ${rcloneVersion} (\`${ctx.rcloneBin}\`), \`rclone copy SRC DST --transfers ${opts.transfers} --checkers 8\` (no config file); its default post-copy hash check is on.`);
  lines.push(`- cp: ${cpVersion}, \`cp -a SRC DST\`.`);
  lines.push(`- Peak RSS: cp and rclone from \`/usr/bin/time -v\`; knarr is the benchmark process's VmHWM (API + worker + harness), reset before each run with \`/proc/self/clear_refs\`, next to its RSS before the run; the Temporal dev server's is in the phase table.`);
  lines.push('');

  for (const w of workloads) {
    lines.push(`## ${w.name}: ${w.describe}`, '');
    lines.push('| contender | median s | runs (s) | MB/s | × cp | × rclone | command s | sync s | peak RSS | CPU s |');
    lines.push('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    const med = (c: Contender) => median((results.get(key(w.name, c)) ?? []).map(total));
    const cpMed = med('cp');
    const rcloneMed = med('rclone');
    for (const c of opts.contenders) {
      const ms = results.get(key(w.name, c)) ?? [];
      if (ms.length === 0) continue;
      const t = median(ms.map(total));
      const rss = median(ms.map((m) => m.peakRssKiB ?? NaN));
      const base = median(ms.map((m) => m.knarr?.baselineRssKiB ?? NaN));
      lines.push(`| ${contenderLabel[c]} | ${fmt(t)} | ${ms.map((m) => fmt(total(m))).join(', ')} | ${fmt(w.facts.bytes / 1e6 / t, 1)} | ${fmt(t / cpMed)} | ${fmt(t / rcloneMed)} | ` +
        `${fmt(median(ms.map((m) => m.commandSeconds)))} | ${fmt(median(ms.map((m) => m.syncSeconds)))} | ${kibToMib(Number.isFinite(rss) ? rss : null)}${Number.isFinite(base) ? ` (from ${kibToMib(base)})` : ''} | ${fmt(median(ms.map((m) => m.cpuSeconds ?? NaN)), 1)} |`);
    }
    lines.push('');
  }

  const knarrRows = workloads.flatMap((w) => opts.contenders.filter((c) => c.startsWith('knarr')).map((c) => ({ w, c, ms: results.get(key(w.name, c)) ?? [] }))).filter((r) => r.ms.length > 0);
  if (knarrRows.length) {
    lines.push('## Where knarr\'s time goes', '');
    lines.push('Medians in seconds, from the run\'s Temporal history: **start** is `POST /v1/jobs` until the workflow started (source and destination ' +
      'probes, ledger rows, workflow start); **plan** until `planRun` ended (listing both sides into the database and diffing); **copy** until the last ' +
      '`copyBatch` ended; **verify** until the last `verifyBatch` ended; **finalize** until the workflow closed; **poll** until the 100 ms poll saw it. ' +
      'Activities are batches (200 small files each, or one large file); sched→start is the mean wait from an activity being scheduled to a worker ' +
      'starting it. CPU is the knarr process (API + worker), the Temporal dev server and the PostgreSQL backends of knarr\'s database, during the run.', '');
    lines.push(`| workload | contender | total | ${phaseNames.join(' | ')} | activities copy/verify | sched→start | CPU knarr / Temporal / PostgreSQL | Temporal peak RSS |`);
    lines.push(`| --- | --- | ---: | ${phaseNames.map(() => '---:').join(' | ')} | ---: | ---: | ---: | ---: |`);
    for (const { w, c, ms } of knarrRows) {
      const d = ms.map((m) => m.knarr!);
      const phase = (p: keyof Phases) => fmt(median(d.map((x) => x.phases[p])));
      lines.push(`| ${w.name} | ${contenderLabel[c]} | ${fmt(median(ms.map((m) => m.commandSeconds)))} | ${phaseNames.map(phase).join(' | ')} | ` +
        `${median(d.map((x) => x.copyActivities))}/${median(d.map((x) => x.verifyActivities))} | ${fmt(median(d.map((x) => x.meanScheduleToStart)), 3)} | ` +
        `${fmt(median(ms.map((m) => m.cpuSeconds ?? NaN)), 1)} / ${fmt(median(d.map((x) => x.temporalCpuSeconds ?? NaN)), 1)} / ${fmt(median(d.map((x) => x.postgresCpuSeconds ?? NaN)), 1)} | ` +
        `${kibToMib(median(d.map((x) => x.temporalPeakRssKiB ?? NaN)) || null)} |`);
    }
    lines.push('');
  }

  if (notes.length) {
    lines.push('## Notes', '');
    for (const n of notes) lines.push(`- ${n}`);
    lines.push('');
  }

  lines.push('## Machine', '');
  lines.push(`- nproc: ${facts.nproc} (${facts.cpu}); os.cpus(): ${cpus().length}`);
  lines.push(`- kernel: ${facts.kernel}; Node ${facts.node}`);
  const loads = [...results.values()].flat().map((m) => m.loadBefore).filter(Number.isFinite);
  lines.push(`- load average (/proc/loadavg) at the start: ${loadAtStart}; at the end: ${facts.loadavg}`);
  if (loads.length) lines.push(`- 1-minute load average as each measurement started: median ${fmt(median(loads))}, ${fmt(Math.min(...loads))}–${fmt(Math.max(...loads))} (${facts.nproc} CPUs: above that, other work was competing for them)`);
  lines.push('', '```', facts.memory, '', facts.disk, '```', '');
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

export { main };
