/**
 * The protocol connectors against rclone on the same real servers (issue 9): local → S3
 * (versitygw) and S3 → SFTP (OpenSSH), one large file and many small ones, the same number of
 * transfers on both sides, reported as throughput ratios and peak RSS. knarr runs as users run it
 * scaled out: a `knarr api` and a `knarr worker` process on PostgreSQL and a Temporal dev server;
 * its RSS is the worker's own peak (VmHWM). `npm run bench -- protocols --help` lists the flags.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findTemporalCli } from '../runtime/temporalCli.js';
import { createTestDatabase } from '../test/support/pg.js';
import { freePort } from '../test/support/ports.js';
import { startVersitygw, type S3TestServer } from '../test/support/servers/s3.js';
import { startSshd, type SftpTestServer } from '../test/support/servers/sftp.js';
import {
  apiOk, benchAdminKey, capture, commandLineOf, defaultReportFile, describeTree, findRclone, fmt, gitFacts, gnuTimeAvailable, intOption,
  type KnarrChild, listOption, log, machineFacts, makeWorkDir, peakRssKiB, processCpuSeconds, resetPeakRss, sleep, startDevServerOnFreePort,
  startKnarrChild, stopKnarrChild, timeCommand, type TreeFacts, writeRandomFile, writeSmallTree,
} from './support.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

const HELP = `usage: node --import tsx bench/protocols.ts [flags]    (or: npm run bench -- protocols [flags])

  --routes LIST          local-s3,s3-sftp (both)
  --workloads LIST       large,small (both)
  --contenders LIST      rclone,knarr (both)
  --reps N               repetitions of every contender on every route and workload (1)
  --large-mib N          the large file in MiB (4096)
  --small-files N        number of small files (20000)
  --small-kib N          size of every small file in KiB (16)
  --transfers N          rclone --transfers and knarr options.transfers (4)
  --verify               knarr options.verify true (rclone checks the MD5 of every upload either way);
                         off by default: both then trust the upload's own checksum
  --dir DIR              scratch folder (${tmpdir()}); the servers' data goes there too
  --rclone PATH          the rclone to run (the v1.76.0 build in ~/.cache/knarr, else rclone on PATH)
  --out FILE             the Markdown report (bench/results/protocols-<date>.md); "-" writes none
  --keep                 keep the scratch folder
  --help`;

const allRoutes = ['local-s3', 's3-sftp'] as const;
type Route = (typeof allRoutes)[number];
const allWorkloads = ['large', 'small'] as const;
type Workload = (typeof allWorkloads)[number];
const allContenders = ['rclone', 'knarr'] as const;
type Contender = (typeof allContenders)[number];

interface Options {
  routes: Route[];
  workloads: Workload[];
  contenders: Contender[];
  reps: number;
  largeBytes: number;
  smallFiles: number;
  smallBytes: number;
  transfers: number;
  verify: boolean;
  dir: string;
  rclone: string | null;
  out: string | null;
  keep: boolean;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      routes: { type: 'string', default: allRoutes.join(',') },
      workloads: { type: 'string', default: allWorkloads.join(',') },
      contenders: { type: 'string', default: allContenders.join(',') },
      reps: { type: 'string', default: '1' },
      'large-mib': { type: 'string', default: '4096' },
      'small-files': { type: 'string', default: '20000' },
      'small-kib': { type: 'string', default: '16' },
      transfers: { type: 'string', default: '4' },
      verify: { type: 'boolean', default: false },
      dir: { type: 'string', default: tmpdir() },
      rclone: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return null;
  return {
    routes: listOption('routes', values.routes, allRoutes),
    workloads: listOption('workloads', values.workloads, allWorkloads),
    contenders: listOption('contenders', values.contenders, allContenders),
    reps: intOption('reps', values.reps, 1),
    largeBytes: intOption('large-mib', values['large-mib'], 1) * 1024 * 1024,
    smallFiles: intOption('small-files', values['small-files'], 1),
    smallBytes: intOption('small-kib', values['small-kib'], 0) * 1024,
    transfers: intOption('transfers', values.transfers, 1),
    verify: values.verify,
    dir: resolve(values.dir),
    rclone: values.rclone ?? null,
    out: values.out === '-' ? null : values.out ? resolve(values.out) : defaultReportFile('protocols'),
    keep: values.keep,
  };
}

// ---------------------------------------------------------------------------------------------
// The servers, knarr, and rclone pointed at the same servers

interface Setup {
  opts: Options;
  workDir: string;
  srcRoot: string;
  bucket: string;
  s3: S3TestServer;
  sftp: SftpTestServer;
  knarr: { apiUrl: string; worker: KnarrChild; processes: KnarrChild[] };
  rclone: { bin: string; config: string } | null;
  gnuTime: boolean;
  cleanups: (() => Promise<unknown>)[];
}

async function startKnarr(workDir: string, cleanups: Setup['cleanups']): Promise<Setup['knarr']> {
  const dev = await startDevServerOnFreePort(await findTemporalCli({ log }));
  cleanups.push(() => dev.stop());
  const db = await createTestDatabase('knarr_bench');
  cleanups.push(() => db.drop());
  const common = {
    DATABASE_URL: db.url, TEMPORAL_ADDRESS: dev.address, KNARR_MASTER_KEY: randomBytes(32).toString('base64'),
    KNARR_TASK_QUEUE: `knarr-bench-${randomBytes(4).toString('hex')}`, KNARR_ADMIN_KEY: benchAdminKey,
    // The test servers listen on 127.0.0.1, which split processes refuse unless allowed.
    KNARR_LOCAL_ROOTS: workDir, KNARR_ALLOW_PRIVATE_NETWORKS: '1',
  };
  const worker = await startKnarrChild('worker', { ...common, KNARR_DATA_DIR: join(workDir, 'knarr-worker-data') });
  cleanups.push(() => stopKnarrChild(worker));
  const apiPort = await freePort();
  const apiProc = await startKnarrChild('api', { ...common, KNARR_DATA_DIR: join(workDir, 'knarr-api-data'), KNARR_API_PORT: String(apiPort) });
  cleanups.push(() => stopKnarrChild(apiProc));
  return { apiUrl: `http://127.0.0.1:${apiPort}`, worker, processes: [worker, apiProc] };
}

/** rclone's remotes `s3:` and `sftp:` on the same servers, with the same credentials knarr has. */
async function rcloneConfig(bin: string, workDir: string, s3: S3TestServer, sftp: SftpTestServer): Promise<string> {
  const keyFile = join(workDir, 'sftp-client-key');
  await writeFile(keyFile, sftp.privateKey, { mode: 0o600 });
  const config = join(workDir, 'rclone.conf');
  await writeFile(config, [
    '[s3]', 'type = s3', 'provider = Other', `endpoint = ${s3.endpoint}`, `region = ${s3.region}`,
    `access_key_id = ${s3.accessKeyId}`, `secret_access_key = ${s3.secretAccessKey}`, 'force_path_style = true', '',
    '[sftp]', 'type = sftp', `host = ${sftp.host}`, `port = ${sftp.port}`, `user = ${sftp.user}`, `key_file = ${keyFile}`, '',
  ].join('\n'));
  await capture(bin, ['--config', config, 'lsd', 's3:'], 60_000).catch((err: Error & { stderr?: string }) => {
    throw new Error(`rclone cannot reach versitygw: ${err.stderr ?? err.message}`);
  });
  return config;
}

/** rclone without the AWS_CA_BUNDLE these machines export, which makes rclone 1.60 fail every S3 call. */
function rcloneEnv(): void {
  delete process.env.AWS_CA_BUNDLE;
}

// ---------------------------------------------------------------------------------------------
// One measurement

interface Measurement {
  seconds: number;
  peakRssKiB: number | null;
  cpuSeconds: number | null;
  runId?: string;
}

/** What each side of a route is, for rclone and for knarr. */
function endpoints(setup: Setup, route: Route, workload: Workload, contender: Contender, rep: number) {
  const dst = `${contender}/${workload}/rep${rep}`;
  const seeded = `seed/${workload}`;
  if (route === 'local-s3') {
    return {
      rclone: [join(setup.srcRoot, workload), `s3:${setup.bucket}/${dst}`],
      knarr: [`bench-src:${workload}`, `bench-s3:${dst}`],
      landed: join(setup.s3.dataDir, setup.bucket, dst),
    };
  }
  return {
    rclone: [`s3:${setup.bucket}/${seeded}`, `sftp:${join(setup.sftp.dataDir, dst)}`],
    knarr: [`bench-s3:${seeded}`, `bench-sftp:${dst}`],
    landed: join(setup.sftp.dataDir, dst),
  };
}

/**
 * rclone's side of the comparison: the same transfers, and S3 parts of knarr's size (16 MiB, 4 at
 * once, as the S3 connector sends them). With rclone's default 5 MiB parts a 4 GiB file is 820
 * parts, and versitygw's posix backend then spends many minutes (writing about 100 GB to its
 * disk) on what takes it seconds in 256 parts: a cost of the server, not of either client.
 */
function rcloneFlags(opts: Options): string[] {
  return ['--transfers', String(opts.transfers), '--checkers', '8', '--s3-chunk-size', '16M', '--s3-upload-concurrency', '4'];
}

async function knarrRun(setup: Setup, source: string, destination: string): Promise<{ runId: string; seconds: number }> {
  const started = performance.now();
  const { runId } = await apiOk<{ runId: string }>(setup.knarr.apiUrl, 'POST', '/v1/jobs', {
    source, destination, mode: 'copy', options: { verify: setup.opts.verify, transfers: setup.opts.transfers },
  });
  for (;;) {
    const run = await apiOk<{ state: string; error: string | null; files: unknown }>(setup.knarr.apiUrl, 'GET', `/v1/runs/${runId}`);
    if (run.state === 'completed') break;
    if (['completed_with_errors', 'failed', 'cancelled'].includes(run.state)) throw new Error(`knarr run ${runId} ended ${run.state}: ${run.error ?? ''} ${JSON.stringify(run.files)}`);
    await sleep(100);
  }
  return { runId, seconds: (performance.now() - started) / 1000 };
}

async function measure(setup: Setup, route: Route, workload: Workload, contender: Contender, rep: number): Promise<Measurement> {
  const ends = endpoints(setup, route, workload, contender, rep);
  if (contender === 'rclone') {
    const r = setup.rclone!;
    const timed = await timeCommand(r.bin, ['--config', r.config, 'copy', ...ends.rclone, ...rcloneFlags(setup.opts)], {
      gnuTime: setup.gnuTime, scratchDir: setup.workDir,
    });
    return { seconds: timed.seconds, peakRssKiB: timed.maxRssKiB, cpuSeconds: timed.cpuSeconds };
  }
  const w = setup.knarr.worker;
  await resetPeakRss(w.pid);
  const cpuBefore = processCpuSeconds(w.pid);
  const { runId, seconds } = await knarrRun(setup, ends.knarr[0], ends.knarr[1]);
  const cpuAfter = processCpuSeconds(w.pid);
  return { seconds, peakRssKiB: peakRssKiB(w.pid), cpuSeconds: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null, runId };
}

/** Why `dst` does not hold the files of `src` by paths and sizes, or null when it does (a server's disk keeps its own mtimes). */
function sizeMismatch(src: TreeFacts, dst: TreeFacts): string | null {
  if (dst.files.size !== src.files.size) return `${dst.files.size} files instead of ${src.files.size}`;
  for (const [path, want] of src.files) {
    const got = dst.files.get(path);
    if (!got) return `${path} is missing`;
    if (got.size !== want.size) return `${path} has ${got.size} bytes instead of ${want.size}`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------

export async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  if (!opts) {
    console.log(HELP);
    return;
  }
  const commandLine = commandLineOf('bench/protocols.ts', argv);
  const startedAt = new Date();
  const workDir = await makeWorkDir(opts.dir, 'knarr-bench-protocols-');
  const cleanups: Setup['cleanups'] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err: Error) => log(`while stopping: ${err.message}`));
    if (!opts.keep) await rm(workDir, { recursive: true, force: true });
    else log(`kept ${workDir}`);
  };
  try {
    const srcRoot = join(workDir, 'src');
    if (opts.workloads.includes('large')) {
      log(`writing ${opts.largeBytes} random bytes`);
      await mkdir(join(srcRoot, 'large'), { recursive: true });
      await writeRandomFile(join(srcRoot, 'large', 'large.bin'), opts.largeBytes);
    }
    if (opts.workloads.includes('small')) {
      log(`writing ${opts.smallFiles} files of ${opts.smallBytes} bytes`);
      await writeSmallTree(join(srcRoot, 'small'), opts.smallFiles, opts.smallBytes, opts.smallBytes, 1, { folders: 100 });
    }
    const facts = new Map<Workload, TreeFacts>();
    for (const w of opts.workloads) facts.set(w, await describeTree(join(srcRoot, w)));

    log('starting versitygw, sshd and knarr (api + worker on PostgreSQL)');
    const [s3, sftp] = await Promise.all([startVersitygw(), startSshd()]);
    cleanups.push(() => s3.stop(), () => sftp.stop());
    const bucket = `bench-${randomBytes(3).toString('hex')}`;
    await s3.createBucket(bucket);
    const knarr = await startKnarr(workDir, cleanups);
    for (const [name, type, config] of [
      ['bench-src', 'local', { root: srcRoot }],
      ['bench-s3', 's3', s3.remoteConfig(bucket)],
      ['bench-sftp', 'sftp', sftp.remoteConfig()],
    ] as const) {
      await apiOk(knarr.apiUrl, 'POST', '/v1/remotes', { name, type, config });
    }

    rcloneEnv();
    let rclone: Setup['rclone'] = null;
    if (opts.contenders.includes('rclone')) {
      const bin = await findRclone(opts.rclone);
      if (bin) rclone = { bin, config: await rcloneConfig(bin, workDir, s3, sftp) };
      else opts.contenders = opts.contenders.filter((c) => c !== 'rclone');
    }
    const setup: Setup = { opts, workDir, srcRoot, bucket, s3, sftp, knarr, rclone, gnuTime: await gnuTimeAvailable(), cleanups };

    // One untimed knarr run warms the worker (bundle, connections, caches), as rclone's binary is warm.
    await mkdir(join(srcRoot, 'warmup'), { recursive: true });
    await writeSmallTree(join(srcRoot, 'warmup'), 20, 1024, 4096, 2);
    await knarrRun(setup, 'bench-src:warmup', 'bench-s3:warmup');

    if (opts.routes.includes('s3-sftp')) {
      log('seeding the S3 source of s3-sftp (untimed knarr copy)');
      for (const w of opts.workloads) await knarrRun(setup, `bench-src:${w}`, `bench-s3:seed/${w}`);
    }

    const results: { route: Route; workload: Workload; contender: Contender; runs: Measurement[] }[] = [];
    for (const route of opts.routes) {
      for (const workload of opts.workloads) {
        for (let rep = 1; rep <= opts.reps; rep++) {
          // Alternate who goes first, so neither always meets the warmer server.
          const order = rep % 2 === 1 ? opts.contenders : [...opts.contenders].reverse();
          for (const contender of order) {
            await capture('sync', [], 600_000);
            log(`${route} ${workload} rep ${rep}: ${contender}`);
            const m = await measure(setup, route, workload, contender, rep);
            const landed = endpoints(setup, route, workload, contender, rep).landed;
            const why = sizeMismatch(facts.get(workload)!, await describeTree(landed));
            if (why) throw new Error(`${contender} on ${route}/${workload}: the copy is wrong: ${why}`);
            log(`  ${fmt(m.seconds)} s, peak RSS ${kibToMb(m.peakRssKiB)}`);
            let row = results.find((r) => r.route === route && r.workload === workload && r.contender === contender);
            if (!row) results.push(row = { route, workload, contender, runs: [] });
            row.runs.push(m);
            await rm(landed, { recursive: true, force: true });
          }
        }
      }
    }

    const report = await render({ opts, commandLine, startedAt, facts, results, setup });
    console.log(report);
    if (opts.out) {
      await mkdir(join(opts.out, '..'), { recursive: true });
      await writeFile(opts.out, report);
      log(`report written to ${opts.out}`);
    }
  } finally {
    await cleanup();
  }
}

const kibToMb = (k: number | null | undefined) => (k === null || k === undefined || !Number.isFinite(k) ? '–' : `${Math.round((k * 1024) / 1e6)} MB`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

async function render(r: {
  opts: Options; commandLine: string; startedAt: Date; facts: Map<Workload, TreeFacts>;
  results: { route: Route; workload: Workload; contender: Contender; runs: Measurement[] }[]; setup: Setup;
}): Promise<string> {
  const { opts } = r;
  const machine = await machineFacts(opts.dir);
  const lines: string[] = [
    `# protocols: knarr and rclone on the same S3 and SFTP servers (${r.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
    '',
    '```sh',
    r.commandLine,
    '```',
    '',
    `- git: ${await gitFacts(repoRoot)}`,
    ...Object.entries(machine).map(([k, v]) => `- ${k}: ${v}`),
    `- load average at the end: ${(await readFile('/proc/loadavg', 'utf8').catch(() => '?')).trim()}`,
    `- servers: versitygw (posix backend) and OpenSSH sshd on 127.0.0.1, their data under the scratch folder`,
    `- rclone: ${r.setup.rclone ? (await capture(r.setup.rclone.bin, ['version'])).stdout.split('\n')[0] : 'not run'}; \`rclone copy SRC DST ${rcloneFlags(opts).join(' ')}\``,
    `- knarr: \`knarr worker\` + \`knarr api\` on PostgreSQL, \`POST /v1/jobs\` mode copy, transfers ${opts.transfers}, verify ${opts.verify ? 'on' : 'off'}, polled every 100 ms`,
    ...[...r.facts].map(([w, f]) => `- workload ${w}: ${f.files.size} files, ${(f.bytes / 1e6).toFixed(1)} MB`),
    '',
    '| route | workload | rclone s | knarr s | knarr throughput ÷ rclone | rclone peak RSS | knarr worker peak RSS | rclone CPU s | knarr worker CPU s | runs (s) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const route of opts.routes) {
    for (const workload of opts.workloads) {
      const of = (c: Contender) => r.results.find((x) => x.route === route && x.workload === workload && x.contender === c)?.runs ?? [];
      const rc = of('rclone');
      const kn = of('knarr');
      const rcS = rc.length ? median(rc.map((m) => m.seconds)) : NaN;
      const knS = kn.length ? median(kn.map((m) => m.seconds)) : NaN;
      const peak = (ms: Measurement[]) => kibToMb(Math.max(...ms.map((m) => m.peakRssKiB ?? NaN)));
      const cpu = (ms: Measurement[]) => fmt(median(ms.map((m) => m.cpuSeconds ?? NaN)));
      lines.push(`| ${route} | ${workload} | ${fmt(rcS)} | ${fmt(knS)} | **${fmt(rcS / knS)}×** | ${peak(rc)} | ${peak(kn)} | ${cpu(rc)} | ${cpu(kn)} | rclone ${rc.map((m) => fmt(m.seconds, 1)).join(', ')}; knarr ${kn.map((m) => fmt(m.seconds, 1)).join(', ')} |`);
    }
  }
  lines.push('', 'The ratio is rclone\'s time ÷ knarr\'s: above 1.00 knarr moved the bytes faster. Each copy was checked (paths and sizes) on the server\'s disk, then deleted.', '');
  return lines.join('\n');
}
