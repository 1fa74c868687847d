/**
 * `npm run bench -- engine-layers`: the copy engine alone (engine/copyOne with the local connector,
 * in one process, no ledger, no Temporal) against `cp -a` and rclone on the same small-file tree.
 * The whole-platform benchmark (engine.ts) says how far knarr is from rclone; this one says how
 * much of the gap is the engine and connector and how much is the layers above them (ledger,
 * activities, workflow). Same rules as engine.ts: page cache dropped before every measurement,
 * time until the data is on disk, each copy checked afterwards.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../core/repo.js';
import {
  capture, describeTree, dropCaches, fmt, gitFacts, gnuTimeAvailable, log, machineFacts, makeWorkDir, median,
  probeDropCaches, timeCommand, timedSync, treeMismatch, writeSmallTree,
} from './support.js';

const HELP = `npm run bench -- engine-layers [--files N] [--file-kib K] [--lanes 4,8] [--reps 3] [--dir DIR] [--out FILE|-]

The engine and the local connector alone (no database, no Temporal) vs cp -a and
rclone copy --transfers 4 --checkers 8, on N files of K KiB in 100 folders.`;

interface ChildResult { copySeconds: number; syncSeconds: number; cpuSeconds: number; peakRssKiB: number }

/** The measured child: copies every file of `src` to `dst` with `lanes` files in flight, then one group sync. */
async function runChild(src: string, dst: string, lanes: number): Promise<ChildResult> {
  const { createLocalConnector } = await import('../connectors/local/index.js');
  const { copyOne } = await import('../engine/copy.js');
  // Listing is not timed: the platform lists in its plan phase, reported apart.
  const files = [...(await describeTree(src)).files].map(([path, f]) => ({ path, ...f }));
  const from = createLocalConnector({ root: src });
  const to = createLocalConnector({ root: dst });
  const signal = new AbortController().signal;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (next < files.length) {
      const f = files[next++]!;
      await copyOne(
        { srcPath: f.path, dstPath: f.path, size: f.size, mtimeMs: f.mtimeMs, srcHashes: {}, resume: null, large: false },
        { src: from, dst: to, sameRemote: false, signal, hash: true, syncLater: true },
      );
    }
  }));
  const t1 = performance.now();
  await to.sync!(files.map((f) => f.path), signal);
  const t2 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const status = await readFile('/proc/self/status', 'utf8');
  return {
    copySeconds: (t1 - t0) / 1000, syncSeconds: (t2 - t1) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssKiB: Number(/VmHWM:\s*(\d+)/.exec(status)?.[1] ?? 0),
  };
}

interface Row { contender: string; seconds: number[]; cpu: (number | null)[]; rss: (number | null)[] }

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--child') {
    const [src, dst, lanes] = argv.slice(1);
    const r = await runChild(src!, dst!, Number(lanes));
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const { values } = parseArgs({
    args: argv, options: {
      files: { type: 'string', default: '20000' }, 'file-kib': { type: 'string', default: '16' }, lanes: { type: 'string', default: '4,8' },
      reps: { type: 'string', default: '3' }, dir: { type: 'string', default: '/var/tmp' }, out: { type: 'string' }, help: { type: 'boolean' },
    },
  });
  if (values.help) return void console.log(HELP);
  const files = Number(values.files);
  const bytesEach = Number(values['file-kib']) * 1024;
  const lanesList = values.lanes!.split(',').map(Number);
  const reps = Number(values.reps);
  const commandLine = ['node', '--import', 'tsx', 'bench/engine-layers.ts', ...argv].join(' ');
  const noDrop = await probeDropCaches();
  const gnuTime = await gnuTimeAvailable();
  const work = await makeWorkDir(values.dir!, 'knarr-bench-layers-');
  const started = new Date();
  const load = (await readFile('/proc/loadavg', 'utf8')).trim();
  try {
    const src = join(work, 'src');
    log(`writing ${files} files of ${bytesEach} bytes`);
    await writeSmallTree(src, files, bytesEach, bytesEach, 1, { folders: 100 });
    const want = await describeTree(src);
    const contenders: { name: string; run: (dst: string) => Promise<{ seconds: number; cpu: number | null; rss: number | null }> }[] = [
      { name: '`cp -a`', run: async (dst) => {
        const t = await timeCommand('cp', ['-a', src, dst], { gnuTime, scratchDir: work });
        return { seconds: t.seconds + (await timedSync()), cpu: t.cpuSeconds, rss: t.maxRssKiB };
      } },
      { name: '`rclone copy --transfers 4`', run: async (dst) => {
        const t = await timeCommand('rclone', ['copy', src, dst, '--transfers', '4', '--checkers', '8'], { gnuTime, scratchDir: work });
        return { seconds: t.seconds + (await timedSync()), cpu: t.cpuSeconds, rss: t.maxRssKiB };
      } },
      ...lanesList.map((lanes) => ({ name: `engine alone, ${lanes} lanes, MD5 on`, run: async (dst: string) => {
        await mkdir(dst, { recursive: true });
        // Its own clock, from the first read to the end of its sync: Node's start-up is not the engine.
        const { stdout } = await capture(process.execPath, ['--import', 'tsx', join(repoRoot, 'bench/run.ts'), 'engine-layers', '--child', src, dst, String(lanes)], 600_000);
        const child = JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult;
        return { seconds: child.copySeconds + child.syncSeconds, cpu: child.cpuSeconds, rss: child.peakRssKiB };
      } })),
    ];
    const rows: Row[] = contenders.map((c) => ({ contender: c.name, seconds: [], cpu: [], rss: [] }));
    for (let rep = 0; rep < reps; rep++) {
      for (let k = 0; k < contenders.length; k++) {
        const i = (k + rep) % contenders.length;
        const dst = join(work, 'dst');
        await rm(dst, { recursive: true, force: true });
        if (!noDrop) await dropCaches();
        const r = await contenders[i]!.run(dst);
        const got = await describeTree(dst);
        const wrong = treeMismatch(want, got);
        if (wrong) throw new Error(`${contenders[i]!.name}: ${wrong}`);
        rows[i]!.seconds.push(r.seconds);
        rows[i]!.cpu.push(r.cpu);
        rows[i]!.rss.push(r.rss);
        log(`${contenders[i]!.name}: ${r.seconds.toFixed(2)} s`);
      }
    }
    const rclone = median(rows[1]!.seconds);
    const lines = [
      `# engine layers: the copy engine alone vs cp and rclone, ${started.toISOString().slice(0, 10)}`, '',
      '```sh', commandLine, '```', '',
      `${files} files of ${bytesEach / 1024} KiB in 100 folders; ${reps} repetitions, order rotated; page cache ${noDrop ? `NOT dropped (${noDrop})` : 'dropped before every measurement'}; time until the data is on disk (cp and rclone: plus a \`sync\`; the engine: its own group sync). The engine's listing is not timed. Load average at the start: ${load}. git ${await gitFacts(repoRoot)}.`, '',
      '| contender | median s | runs (s) | vs rclone | CPU s (median) | peak RSS MB |', '| --- | ---: | --- | ---: | ---: | ---: |',
      ...rows.map((r) => `| ${r.contender} | ${fmt(median(r.seconds))} | ${r.seconds.map((s) => fmt(s)).join(', ')} | ${fmt(rclone / median(r.seconds))} | ${fmt(median(r.cpu.filter((c): c is number => c !== null)), 1)} | ${fmt(Math.max(...r.rss.map((x) => x ?? 0)) / 1024, 0)} |`),
      '', '## Machine', '', ...Object.entries(await machineFacts(work)).map(([k, v]) => `- ${k}: ${v}`), '',
    ];
    const report = lines.join('\n');
    console.log(report);
    const out = values.out ?? join(repoRoot, 'bench/results', `engine-layers-${started.toISOString().slice(0, 10)}.md`);
    if (out !== '-') await writeFile(out, report);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
