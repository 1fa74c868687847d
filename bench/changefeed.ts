/**
 * Incremental runs from a change feed (issue 10): an emulated Google Drive of N files (100,000 by
 * default, 100 per folder), copied once to a local folder; then K of its files change (100), and
 * the next run of the same job plans from Drive's changes. Reported, in one invocation:
 *
 *   - knarr, planned from the feed: plan time, run time, and how many folders it listed;
 *   - knarr, planned by a full walk of both trees (a job with options.changeFeed false, the same
 *     changes): plan time and run time;
 *   - rclone `copy` of the same tree after the same changes (it walks both trees every time):
 *     its time, against a second emulator seeded the same way and served on the provider's real
 *     host name (providers.md D.1), as the rclone cross-check tests do.
 *
 * `npm run bench -- changefeed [--files N] [--changed K] [--contenders knarr,rclone] [--out FILE]`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startDriveEmulator, DRIVE_HOSTS, type DriveEmulator } from '../test/fakes/drive/index.js';
import { findRclone, namespacedRclone, onRandomLoopback443 } from '../test/fakes/shared/rclone.js';
import { apiOk, fmt, gitFacts, log, machineFacts, startBenchKnarr, type BenchKnarr } from './support.js';

const HELP = `usage: npm run bench -- changefeed [flags]

  --files N             files in the emulated Drive (100000), 100 per folder
  --changed K           files changed before the incremental run (100)
  --contenders LIST     knarr,rclone (both)
  --rclone PATH         the rclone to run (the v1.76.0 build in ~/.cache/knarr, else rclone on PATH)
  --out FILE            the Markdown report (bench/results/changefeed-<date>.md); "-" writes none
  --help`;

interface Options {
  files: number;
  changed: number;
  contenders: Set<string>;
  rclone: string | null;
  out: string | null;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({ args: argv, options: {
    files: { type: 'string' }, changed: { type: 'string' }, contenders: { type: 'string' }, rclone: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' },
  } });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const int = (v: string | undefined, d: number, name: string) => {
    const n = v === undefined ? d : Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${v}`);
    return n;
  };
  const files = int(values.files, 100_000, 'files');
  const changed = int(values.changed, 100, 'changed');
  if (changed > files) throw new Error('--changed cannot exceed --files');
  const date = new Date().toISOString().slice(0, 10);
  return {
    files, changed,
    contenders: new Set((values.contenders ?? 'knarr,rclone').split(',')),
    rclone: values.rclone ?? null,
    out: values.out === '-' ? null : (values.out ?? `bench/results/changefeed-${date}.md`),
  };
}

const MTIME = Date.UTC(2024, 0, 1);
const pathOf = (i: number) => `tree/d${String(Math.floor(i / 100)).padStart(4, '0')}/file-${String(i).padStart(6, '0')}.txt`;
/** The K changed files spread over the tree (every N/K-th, from `offset`), so no one folder holds them all. */
const changedIndexes = (files: number, changed: number, offset = 0) => Array.from({ length: changed }, (_, j) => (Math.floor((j * files) / changed) + offset) % files);

async function seedTree(emu: DriveEmulator, files: number): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < files; i++) {
    await emu.seed(pathOf(i), `file ${i}\n`, { mtime: MTIME });
    if (i % 20_000 === 19_999) log(`  seeded ${i + 1} files`);
  }
  log(`seeded ${files} files in ${fmt((performance.now() - t0) / 1000)} s`);
}

async function changeTree(emu: DriveEmulator, o: Options, offset = 0): Promise<void> {
  for (const i of changedIndexes(o.files, o.changed, offset)) await emu.seed(pathOf(i), `file ${i}, edited\n`, { mtime: MTIME + 86_400_000 });
}

/** `files.list` requests the emulator answered: folder listings, and the lookups of one name that path resolution sends. */
const listRequests = (emu: DriveEmulator): number => emu.stats.listRequests;

interface RunTimes {
  planSeconds: number;
  runSeconds: number;
  filesCopied: number;
  fromChanges: boolean;
}

async function runTimes(k: BenchKnarr, runId: string): Promise<RunTimes> {
  for (;;) {
    const run = await apiOk<{ state: string; startedAt: string; finishedAt: string | null; files: { done: number } }>(k.url, 'GET', `/v1/runs/${runId}`);
    if (['completed', 'completed_with_errors', 'failed', 'cancelled'].includes(run.state)) {
      if (run.state !== 'completed') throw new Error(`run ${runId} ended ${run.state}`);
      const events = (await apiOk<{ data: { at: string; kind: string }[] }>(k.url, 'GET', `/v1/runs/${runId}/events?limit=500`)).data;
      const plan = events.find((e) => e.kind === 'plan');
      if (!plan) throw new Error(`run ${runId} has no plan event`);
      const start = Date.parse(run.startedAt);
      return {
        planSeconds: (Date.parse(plan.at) - start) / 1000,
        runSeconds: (Date.parse(run.finishedAt!) - start) / 1000,
        filesCopied: run.files.done,
        fromChanges: events.some((e) => e.kind === 'plan_from_changes'),
      };
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface KnarrResult { first: RunTimes; feed: RunTimes; feedListings: number; walked: RunTimes; walkListings: number }
interface RcloneResult { version: string; firstSeconds: number; incrementalSeconds: number; listings: number }

async function knarrSide(o: Options, work: string): Promise<KnarrResult> {
  const emu = await startDriveEmulator();
  const k = await startBenchKnarr();
  try {
    await seedTree(emu, o.files);
    await apiOk(k.url, 'POST', '/v1/remotes', { name: 'gd', type: 'drive', config: emu.remoteConfig() });
    await apiOk(k.url, 'POST', '/v1/remotes', { name: 'disk', type: 'local', config: { root: work } });
    const options = { transfers: 8, verify: false };
    log('knarr: first run (walks both trees, copies everything)');
    const job = await apiOk<{ jobId: string; runId: string }>(k.url, 'POST', '/v1/jobs', { source: 'gd:tree', destination: 'disk:knarr', mode: 'copy', options });
    const first = await runTimes(k, job.runId);
    log(`  plan ${fmt(first.planSeconds)} s, run ${fmt(first.runSeconds)} s, ${first.filesCopied} files`);

    // The walk's baseline: K files change, and a job of the same source and destination that never
    // uses the feed plans by listing both trees (and copies them, so the next step starts even).
    await changeTree(emu, o);
    log(`knarr: ${o.changed} files changed; a job with changeFeed false walks both trees`);
    const walkFrom = listRequests(emu);
    const walkedJob = await apiOk<{ runId: string }>(k.url, 'POST', '/v1/jobs', { source: 'gd:tree', destination: 'disk:knarr', mode: 'copy', options: { ...options, changeFeed: false } });
    const walked = await runTimes(k, walkedJob.runId);
    const walkListings = listRequests(emu) - walkFrom;
    log(`  plan ${fmt(walked.planSeconds)} s, run ${fmt(walked.runSeconds)} s, ${walked.filesCopied} files, ${walkListings} list requests`);

    // K other files change; the first job's next run plans from the feed (which holds both sets of changes).
    await changeTree(emu, o, 1);
    log(`knarr: ${o.changed} other files changed; the first job's next run plans from the change feed`);
    const logFrom = listRequests(emu);
    const next = await apiOk<{ runId: string }>(k.url, 'POST', `/v1/jobs/${job.jobId}/runs`, {});
    const feed = await runTimes(k, next.runId);
    const feedListings = listRequests(emu) - logFrom;
    log(`  plan ${fmt(feed.planSeconds)} s, run ${fmt(feed.runSeconds)} s, ${feed.filesCopied} files, ${feedListings} list requests, from the feed: ${feed.fromChanges}`);
    return { first, feed, feedListings, walked, walkListings };
  } finally {
    await k.stop();
    await emu.stop();
  }
}

async function rcloneSide(o: Options, work: string): Promise<RcloneResult> {
  const bin = o.rclone ?? (await findRclone());
  if (!bin) throw new Error('rclone not found: bash scripts/install-test-servers.sh');
  const { address, server: emu } = await onRandomLoopback443((host) => startDriveEmulator({ host, port: 443, tls: true }));
  try {
    await seedTree(emu, o.files);
    const token = JSON.stringify(emu.issueToken());
    const rc = await namespacedRclone({
      rclone: bin, address, hosts: DRIVE_HOSTS, caCert: emu.caCert!,
      config: ['[gd]', 'type = drive', 'scope = drive', `client_id = ${emu.clientId}`, `client_secret = ${emu.clientSecret}`, `token = ${token}`, ''].join('\n'),
    });
    try {
      const dst = join(work, 'rclone');
      // rclone paces Drive at 10 requests/s by default (Google's quota); knarr's Drive connector sends
      // unpaced and backs off on a 403 rate limit. Against an emulator with no quota both go unpaced.
      const flags = ['--transfers', '8', '--checkers', '8', '--low-level-retries', '3', '--drive-pacer-min-sleep', '1ms', '--drive-pacer-burst', '1000'];
      const timed = async (what: string) => {
        const t0 = performance.now();
        await rc.ok(['copy', 'gd:tree', dst, ...flags], { timeoutMs: 6 * 3_600_000 });
        const s = (performance.now() - t0) / 1000;
        log(`  rclone ${what}: ${fmt(s)} s`);
        return s;
      };
      log(`rclone ${rc.version}: first copy`);
      const firstSeconds = await timed('first copy');
      await changeTree(emu, o);
      const logFrom = listRequests(emu);
      const incrementalSeconds = await timed(`copy after ${o.changed} changes`);
      return { version: rc.version, firstSeconds, incrementalSeconds, listings: listRequests(emu) - logFrom };
    } finally {
      await rc.stop();
    }
  } finally {
    await emu.stop();
  }
}

export async function main(argv: string[]): Promise<void> {
  const o = options(argv);
  const work = await mkdtemp(join(tmpdir(), 'knarr-bench-feed-'));
  try {
    const knarr = o.contenders.has('knarr') ? await knarrSide(o, work) : null;
    const rclone = o.contenders.has('rclone') ? await rcloneSide(o, work) : null;
    const report = await render(o, work, knarr, rclone);
    console.log(report);
    if (o.out) {
      await writeFile(o.out, report);
      log(`report written to ${o.out}`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function render(o: Options, work: string, knarr: KnarrResult | null, rclone: RcloneResult | null): Promise<string> {
  const machine = await machineFacts(work);
  const lines = [
    `# Incremental runs from Drive's change feed: ${o.files.toLocaleString('en')} files, ${o.changed} changed`,
    '',
    `\`npm run bench -- changefeed --files ${o.files} --changed ${o.changed}\``,
    '',
    ...Object.entries(machine).map(([k, v]) => `- ${k}: ${v}`), `- commit: ${await gitFacts(process.cwd())}`,
    '',
    'An emulated Google Drive (test/fakes/drive), files of a few bytes, 100 per folder, copied to a local folder; knarr with 8 transfers and verify off, rclone with --transfers 8 --checkers 8 and its Drive pacer opened (--drive-pacer-min-sleep 1ms --drive-pacer-burst 1000), since the emulator has no quota. The walk row changes K files and runs a second job (changeFeed false) over the same folders; the feed row changes K other files and runs the first job again.',
    '',
    '| | plan | whole run | files copied | files.list requests |',
    '|---|---:|---:|---:|---:|',
  ];
  if (knarr) {
    lines.push(`| knarr, first run (walk) | ${fmt(knarr.first.planSeconds)} s | ${fmt(knarr.first.runSeconds)} s | ${knarr.first.filesCopied} | |`);
    lines.push(`| knarr, next run from the change feed | **${fmt(knarr.feed.planSeconds)} s** | ${fmt(knarr.feed.runSeconds)} s | ${knarr.feed.filesCopied} | ${knarr.feedListings} |`);
    lines.push(`| knarr, next run by a full walk (changeFeed false) | ${fmt(knarr.walked.planSeconds)} s | ${fmt(knarr.walked.runSeconds)} s | ${knarr.walked.filesCopied} | ${knarr.walkListings} |`);
  }
  if (rclone) {
    lines.push(`| rclone ${rclone.version.replace(/^rclone /, '')} copy, first | | ${fmt(rclone.firstSeconds)} s | | |`);
    lines.push(`| rclone copy after the changes (walks) | | ${fmt(rclone.incrementalSeconds)} s | | ${rclone.listings} |`);
  }
  if (knarr && rclone) {
    lines.push('', `The incremental run: knarr from the feed ${fmt(knarr.feed.runSeconds)} s against rclone's ${fmt(rclone.incrementalSeconds)} s (${fmt(rclone.incrementalSeconds / knarr.feed.runSeconds)}×); knarr's plan from the feed is ${fmt(knarr.walked.planSeconds / knarr.feed.planSeconds)}× faster than its own full walk.`);
  }
  return `${lines.join('\n')}\n`;
}
