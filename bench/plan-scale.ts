/**
 * Planning at scale: a synthetic source of N files (1,000,000 by default; paths, sizes and mtimes
 * generated on the fly, no bytes) planned through the real plan activity (both sides listed into
 * `entries`, diffed in SQL into `items`, batched) on PostgreSQL and on embedded PGlite. Each case
 * runs in a process of its own, so its peak RSS (VmHWM) is planning's alone. Reports the plan
 * time, its split (source listing / destination listing / diff and batching), peak RSS and the
 * table and index sizes per row. `npm run bench -- plan-scale --help`; see bench/README.md.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTestDatabase } from '../test/support/pg.js';
import { fmt, gitFacts, log, machineFacts, makeWorkDir, sleep } from './support.js';
import { adminUserId } from '../db/queries/users.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

const HELP = `usage: node --import tsx bench/plan-scale.ts [flags]    (or: npm run bench -- plan-scale [flags])

  --files N          files in the synthetic source tree (1000000)
  --dbs LIST         postgres,pglite (both)
  --dest LIST        empty,mirror (both): an empty destination (every file is copied), or the
                     same tree already there with 1 % of the files changed (an incremental run)
  --listing MODE     folders: the connector lists folder by folder (list(dir), as the local connector
                     does; planning lists 4 at once with a cursor per folder); walk: it declares
                     recursiveList and yields the whole tree from walk() (as Jottacloud) (folders)
  --page N           entries per listing page the synthetic connector yields (1000)
  --what-if-analyze  run ANALYZE entries between the listing and the diff (from the synthetic
                     connector's walk, after its last page is stored): what knarr would get if
                     planning did it. Without it the diff runs on a table with no statistics.
  --timeout-min N    give up on a case after N minutes and report it as not finished (60)
  --dir DIR          scratch folder for the PGlite data directories (${tmpdir()})
  --out FILE         the Markdown report (bench/results/plan-scale-<date>.md); "-" writes none
  --help

PostgreSQL: a fresh database per case on KNARR_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres), dropped after.`;

const allDbs = ['postgres', 'pglite'] as const;
type DbKind = (typeof allDbs)[number];
const allDest = ['empty', 'mirror'] as const;
type DestKind = (typeof allDest)[number];

// ---------------------------------------------------------------------------------------------
// The synthetic tree: file i's path, size and mtime are pure functions of i.

const FILES_PER_DIR = 100;
const DIRS_PER_PARENT = 100;
const mtimeBase = Date.UTC(2022, 0, 1);

/** `a012/b0345/IMG_0123456.jpg`-like paths, 100 files per folder, 100 folders per parent. */
export function syntheticFile(i: number, variant: 'src' | 'mirror'): { path: string; size: number; mtimeMs: number } {
  const leaf = Math.floor(i / FILES_PER_DIR);
  const top = Math.floor(leaf / DIRS_PER_PARENT);
  // A cheap integer hash for sizes: mostly small files, some large, like a photo library.
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  const size = h % 16 === 0 ? 64 * 1024 * 1024 + (h % 100_000_000) : 1024 + (h % (8 * 1024 * 1024));
  // The mirror has every hundredth file changed (another mtime): an incremental run copies 1 %.
  const changed = variant === 'mirror' && i % 100 === 7;
  return {
    path: `a${String(top).padStart(3, '0')}/b${String(leaf).padStart(5, '0')}/IMG_${String(i).padStart(7, '0')}.jpg`,
    size,
    mtimeMs: mtimeBase + i * 1000 + (changed ? 5000 : 0),
  };
}

interface SyntheticConfig {
  files: number;
  variant: 'src' | 'mirror' | 'empty';
  page: number;
  /** walk: one recursive listing (capabilities.recursiveList); folders: `list(dir)` folder by folder, as local does. */
  listing: 'walk' | 'folders';
}

/** --what-if-analyze: run once the destination walk has handed over its last page. */
let afterDestinationWalk: (() => Promise<void>) | null = null;

type EntryLike = { path: string; isDir: boolean; size: number; mtimeMs: number; hashes: Record<string, string> };

/** Timestamps of each walk's end, read by the child to split the plan time. */
const walkEnded: Record<string, number> = {};

function unsupported(what: string): never {
  throw Object.assign(new Error(`the synthetic connector cannot ${what}`), { kind: 'unsupported' });
}

/** A Connector (connectors/types.ts) over the synthetic tree: walk and stat only. */
function createSyntheticConnector(cfg: SyntheticConfig, ConnectorError: new (kind: string, message: string) => Error) {
  const capabilities = {
    hashes: [], hashBeforeUpload: null, resumableUpload: false, serverSideCopy: false, serverSideMove: false, caseInsensitive: false,
    maxNameLength: 255, maxFileSize: null, preferredChunkSize: 8 * 1024 * 1024, mtimePrecisionMs: 1, setModTime: true, recursiveList: cfg.listing === 'walk',
  };
  const leaves = Math.ceil(cfg.files / FILES_PER_DIR);
  const tops = Math.ceil(leaves / DIRS_PER_PARENT);
  const dirName = (n: number, width: number, letter: string) => `${letter}${String(n).padStart(width, '0')}`;
  const dirEntry = (path: string): EntryLike => ({ path, isDir: true, size: 0, mtimeMs: mtimeBase, hashes: {} });
  return {
    type: 'synthetic',
    capabilities,
    async *walk(root: string): AsyncGenerator<EntryLike[]> {
      if (cfg.variant === 'empty') throw new ConnectorError('not_found', `${root || '/'} does not exist (empty synthetic destination)`);
      const prefix = root ? `${root}/` : '';
      let page: EntryLike[] = [];
      for (let i = 0; i < cfg.files; i++) {
        if (i % FILES_PER_DIR === 0) {
          const f = syntheticFile(i, 'src');
          const leafDir = f.path.slice(0, f.path.lastIndexOf('/'));
          if (i % (FILES_PER_DIR * DIRS_PER_PARENT) === 0) page.push(dirEntry(prefix + leafDir.slice(0, leafDir.indexOf('/'))));
          page.push(dirEntry(prefix + leafDir));
        }
        const f = syntheticFile(i, cfg.variant === 'mirror' ? 'mirror' : 'src');
        page.push({ path: prefix + f.path, isDir: false, size: f.size, mtimeMs: f.mtimeMs, hashes: {} });
        if (page.length >= cfg.page) {
          yield page;
          page = [];
        }
      }
      if (page.length) yield page;
      walkEnded[cfg.variant === 'src' ? 'src' : 'dst'] = performance.now();
      process.stderr.write(`[plan-child] ${cfg.variant === 'src' ? 'source' : 'destination'} listed and stored\n`);
      if (cfg.variant !== 'src' && afterDestinationWalk) await afterDestinationWalk();
    },
    /** The children of one folder of the tree: root → a###, a### → b#####, b##### → files. */
    async *list(dir: string): AsyncGenerator<EntryLike[]> {
      if (cfg.variant === 'empty') throw new ConnectorError('not_found', `${dir || '/'} does not exist (empty synthetic destination)`);
      const parts = dir.split('/').filter(Boolean);
      const rootDepth = parts.length && !/^[ab]\d+$/.test(parts[0]) ? 1 : 0;
      const rel = parts.slice(rootDepth);
      const base = parts.length ? `${dir}/` : '';
      let page: EntryLike[] = [];
      const flush = function* () { if (page.length) { yield page; page = []; } };
      if (rel.length === 0) {
        for (let t = 0; t < tops; t++) page.push(dirEntry(base + dirName(t, 3, 'a')));
      } else if (rel.length === 1) {
        const t = Number(rel[0].slice(1));
        for (let l = t * DIRS_PER_PARENT; l < Math.min(leaves, (t + 1) * DIRS_PER_PARENT); l++) page.push(dirEntry(base + dirName(l, 5, 'b')));
      } else {
        const l = Number(rel[1].slice(1));
        for (let i = l * FILES_PER_DIR; i < Math.min(cfg.files, (l + 1) * FILES_PER_DIR); i++) {
          const f = syntheticFile(i, cfg.variant === 'mirror' ? 'mirror' : 'src');
          page.push({ path: base + f.path.slice(f.path.lastIndexOf('/') + 1), isDir: false, size: f.size, mtimeMs: f.mtimeMs, hashes: {} });
          if (page.length >= cfg.page) yield* flush();
        }
        // The last leaf listed ends the walk of this side (folders are listed in order, four at once).
        if (l === leaves - 1) {
          walkEnded[cfg.variant === 'src' ? 'src' : 'dst'] = performance.now();
          process.stderr.write(`[plan-child] ${cfg.variant === 'src' ? 'source' : 'destination'}: last folder listed\n`);
          if (cfg.variant !== 'src' && afterDestinationWalk) await afterDestinationWalk();
        }
      }
      yield* flush();
    },
    async stat(path: string): Promise<EntryLike> {
      if (cfg.variant === 'empty') throw new ConnectorError('not_found', `${path || '/'} does not exist`);
      return dirEntry(path);
    },
    read: async () => unsupported('read'),
    write: async () => unsupported('write'),
    mkdir: async () => {},
    delete: async () => unsupported('delete'),
    move: async () => unsupported('move'),
    copy: async () => unsupported('copy'),
    about: async () => ({ usedBytes: null, totalBytes: null, freeBytes: null, unlimited: true }),
    close: async () => {},
  };
}

// ---------------------------------------------------------------------------------------------
// One case, in a child process

interface ChildInput {
  db: DbKind;
  dest: DestKind;
  files: number;
  page: number;
  databaseUrl?: string;
  dataDir?: string;
  whatIfAnalyze: boolean;
  listing: 'walk' | 'folders';
}

interface RelSize { rows: number; tableBytes: number; indexBytes: number; totalBytes: number }

interface ChildResult {
  path: 'plan activity (createActivities().planRun in MockActivityEnvironment)' | 'ledger functions directly (no open connector registry)';
  seconds: number;
  split: { listSrc: number; listDst: number; diff: number };
  totals: Record<string, unknown>;
  peakRssKiB: number | null;
  /** Before planning: modules loaded, database open and migrated. */
  baselineRssKiB: number | null;
  memory: { atPeak: Record<string, number> | null; wasmNote: string };
  sizes: Record<'entries' | 'items', RelSize>;
  entriesRows: number;
  itemsRows: number;
}

async function runChild(input: ChildInput): Promise<ChildResult> {
  const { openDatabase } = await import('../db/client.js');
  const { CredentialCipher } = await import('../db/credentials.js');
  const schema = await import('../db/schema.js');
  const { ConnectorError } = await import('../connectors/errors.js');
  const registry = (await import('../connectors/registry.js')) as unknown as { register?: (def: unknown) => void };
  const { peakRssKiB, resetPeakRss, currentRssKiB } = await import('./support.js');
  const { z } = await import('zod');
  const { sql } = await import('drizzle-orm');

  const opened = await openDatabase(input.db === 'postgres' ? { url: input.databaseUrl } : { dataDir: input.dataDir });
  const { db } = opened;
  if (input.whatIfAnalyze) afterDestinationWalk = async () => { await db.execute(sql`ANALYZE entries`); };
  const srcCfg: SyntheticConfig = { files: input.files, variant: 'src', page: input.page, listing: input.listing };
  const dstCfg: SyntheticConfig = { files: input.files, variant: input.dest === 'mirror' ? 'mirror' : 'empty', page: input.page, listing: input.listing };
  const [src] = await db.insert(schema.remotes).values({ ownerId: adminUserId, name: 'synthetic-src', type: 'synthetic', config: { ...srcCfg } }).returning();
  const [dst] = await db.insert(schema.remotes).values({ ownerId: adminUserId, name: 'synthetic-dst', type: 'synthetic', config: { ...dstCfg } }).returning();
  const { jobOptionsSchema } = await import('../core/job.js');
  const options = jobOptionsSchema.parse({});
  const [job] = await db.insert(schema.jobs).values({ ownerId: adminUserId, sourceRemoteId: src.id, sourcePath: 'library', destRemoteId: dst.id, destPath: 'backup', mode: 'copy', options }).returning();
  const [run] = await db.insert(schema.runs).values({ ownerId: adminUserId, jobId: job.id, workflowId: `run-bench-${randomBytes(4).toString('hex')}` }).returning();

  // Memory while planning: the peak is VmHWM; the split (heap / external / WASM) is sampled.
  const { getHeapStatistics } = await import('node:v8');
  let atPeak: Record<string, number> | null = null;
  let peakSeen = 0;
  const sample = () => {
    const rss = (currentRssKiB('self') ?? 0) * 1024;
    if (rss < peakSeen) return;
    peakSeen = rss;
    const mu = process.memoryUsage();
    atPeak = { rss, heapTotal: mu.heapTotal, heapUsed: mu.heapUsed, external: mu.external, arrayBuffers: mu.arrayBuffers, malloced: getHeapStatistics().malloced_memory };
  };
  const sampler = setInterval(sample, 200);
  const baselineRssKiB = currentRssKiB('self');
  await resetPeakRss('self');

  let path: ChildResult['path'];
  let totals: Record<string, unknown>;
  const started = performance.now();
  if (typeof registry.register === 'function') {
    path = 'plan activity (createActivities().planRun in MockActivityEnvironment)';
    // The definition shape of connectors/types.ts ConnectorDefinition, written out so it needs no helper.
    const settingsSchema = z.object({ files: z.number(), variant: z.enum(['src', 'mirror', 'empty']), page: z.number(), listing: z.enum(['walk', 'folders']) });
    registry.register({
      type: 'synthetic',
      configSchema: settingsSchema,
      settingsSchema,
      secretsSchema: z.object({}),
      secretKeys: [],
      capabilities: createSyntheticConnector(srcCfg, ConnectorError as never).capabilities,
      create: (settings: SyntheticConfig) => createSyntheticConnector(settings, ConnectorError as never),
    });
    const { createActivities } = await import('../activities/index.js');
    const { MockActivityEnvironment } = await import('@temporalio/testing');
    const activities = createActivities({ db, cipher: new CredentialCipher(randomBytes(32)) } as never);
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 60_000 });
    const runIn = env.run.bind(env) as (fn: unknown, ...args: unknown[]) => Promise<Record<string, unknown>>;
    totals = await runIn(activities.planRun, run.id);
  } else {
    // Today's registry is a closed switch: the same steps planRun takes, through the same ledger functions.
    path = 'ledger functions directly (no open connector registry)';
    const ledger = await import('../db/queries/ledger.js');
    const walkInto = async (side: 'src' | 'dst', cfg: SyntheticConfig, root: string) => {
      try {
        for await (const page of createSyntheticConnector(cfg, ConnectorError as never).walk(root)) {
          await ledger.insertEntries(db, run.id, side, page.map((e) => ({ ...e, path: e.path.slice(root.length + 1) })));
        }
      } catch (err) {
        if (!(err instanceof ConnectorError && (err as { kind?: string }).kind === 'not_found')) throw err;
        walkEnded.dst = performance.now();
        if (afterDestinationWalk) await afterDestinationWalk();
      }
    };
    await walkInto('src', srcCfg, 'library');
    await walkInto('dst', dstCfg, 'backup');
    totals = { ...(await ledger.diffIntoItems(db, run.id, { mtimeToleranceMs: 1, largeFileThreshold: options.largeFileThreshold, batchFiles: options.batchFiles, batchBytes: options.batchBytes, caseInsensitive: false })) };
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  sample();
  const peak = peakRssKiB('self');
  const srcEnd = walkEnded.src ?? started;
  const dstEnd = walkEnded.dst ?? srcEnd;

  const { queryRows } = await import('../db/client.js');
  const sizes = {} as ChildResult['sizes'];
  for (const rel of ['entries', 'items'] as const) {
    const [r] = await queryRows<{ rows: number; t: number; i: number; total: number }>(db, sql`
      SELECT (SELECT count(*) FROM ${sql.identifier(rel)})::bigint AS rows, pg_table_size(${rel}::regclass)::bigint AS t,
             pg_indexes_size(${rel}::regclass)::bigint AS i, pg_total_relation_size(${rel}::regclass)::bigint AS total`);
    sizes[rel] = { rows: Number(r.rows), tableBytes: Number(r.t), indexBytes: Number(r.i), totalBytes: Number(r.total) };
  }
  await opened.close();
  return {
    path, seconds, totals, peakRssKiB: peak, baselineRssKiB,
    split: { listSrc: (srcEnd - started) / 1000, listDst: (dstEnd - srcEnd) / 1000, diff: (started + seconds * 1000 - dstEnd) / 1000 },
    memory: { atPeak, wasmNote: input.db === 'pglite' ? 'PGlite\'s WebAssembly memory is in RSS but in none of the heap figures' : '' },
    sizes, entriesRows: sizes.entries.rows, itemsRows: sizes.items.rows,
  };
}

// ---------------------------------------------------------------------------------------------
// The parent: one child per case, then the report

interface Options { files: number; dbs: DbKind[]; dest: DestKind[]; page: number; dir: string; out: string | null; whatIfAnalyze: boolean; timeoutMin: number; listing: 'walk' | 'folders' }

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      files: { type: 'string', default: '1000000' },
      dbs: { type: 'string', default: allDbs.join(',') },
      dest: { type: 'string', default: allDest.join(',') },
      page: { type: 'string', default: '1000' },
      'what-if-analyze': { type: 'boolean', default: false },
      listing: { type: 'string', default: 'folders' },
      'timeout-min': { type: 'string', default: '60' },
      dir: { type: 'string', default: tmpdir() },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  const int = (name: string, raw: string) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number ≥ 1`);
    return n;
  };
  const list = <T extends string>(name: string, raw: string, allowed: readonly T[]): T[] => {
    const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
    for (const item of items) if (!allowed.includes(item as T)) throw new Error(`--${name}: unknown "${item}"; use some of ${allowed.join(',')}`);
    return allowed.filter((a) => items.includes(a));
  };
  const day = new Date().toISOString().slice(0, 10);
  const defaultOut = () => {
    for (let n = 1; ; n++) {
      const f = join(repoRoot, 'bench', 'results', `plan-scale-${day}${n === 1 ? '' : `-${n}`}.md`);
      if (!existsSync(f)) return f;
    }
  };
  return {
    files: int('files', values.files), dbs: list('dbs', values.dbs, allDbs), dest: list('dest', values.dest, allDest), page: int('page', values.page),
    listing: list('listing', values.listing, ['walk', 'folders'] as const)[0] ?? 'folders',
    whatIfAnalyze: values['what-if-analyze'], timeoutMin: int('timeout-min', values['timeout-min']),
    dir: resolve(values.dir), out: values.out === '-' ? null : values.out ? resolve(values.out) : defaultOut(),
  };
}

interface CaseOutcome { result: ChildResult | null; wallSeconds: number; cpuSeconds: number | null; peakRssKiB: number | null; progress: string[] }

async function runCase(input: ChildInput, timeoutMs: number): Promise<CaseOutcome> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', JSON.stringify(input)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const progress: string[] = [];
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
    for (const m of d.toString().matchAll(/\[plan-child\] (.*)/g)) progress.push(`${m[1]} after ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
  const { processCpuSeconds, peakRssKiB } = await import('./support.js');
  let cpu: number | null = null;
  let peak: number | null = null;
  const timer = setInterval(() => { cpu = processCpuSeconds(child.pid!) ?? cpu; peak = peakRssKiB(child.pid!) ?? peak; }, 500);
  let timedOut = false;
  const killer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  clearInterval(timer);
  clearTimeout(killer);
  const wallSeconds = (performance.now() - started) / 1000;
  if (timedOut) return { result: null, wallSeconds, cpuSeconds: cpu, peakRssKiB: peak, progress };
  const line = out.split('\n').find((l) => l.startsWith('{"result"'));
  if (code !== 0 || !line) throw new Error(`plan case ${JSON.stringify(input)} failed (exit ${code}):\n${err.slice(-4000)}`);
  return { result: (JSON.parse(line) as { result: ChildResult }).result, wallSeconds, cpuSeconds: cpu, peakRssKiB: peak, progress };
}

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--child') {
    const result = await runChild(JSON.parse(argv[1]) as ChildInput);
    process.stdout.write(`${JSON.stringify({ result })}\n`);
    return;
  }
  const opts = parseOptions(argv);
  if (!opts) {
    console.log(HELP);
    return;
  }
  const commandLine = ['node', '--import', 'tsx', 'bench/plan-scale.ts', ...argv].join(' ');
  const startedAt = new Date();
  const loadAtStart = (await readFile('/proc/loadavg', 'utf8').catch(() => '?')).trim();
  const gitAtStart = await gitFacts(repoRoot);
  const workDir = await makeWorkDir(opts.dir, 'knarr-bench-plan-');
  const rows: { db: DbKind; dest: DestKind; r: CaseOutcome; load: string }[] = [];
  try {
    for (const db of opts.dbs) {
      for (const dest of opts.dest) {
        const load = (await readFile('/proc/loadavg', 'utf8')).split(' ')[0];
        log(`planning ${opts.files} files on ${db}, destination ${dest}`);
        let input: ChildInput = { db, dest, files: opts.files, page: opts.page, whatIfAnalyze: opts.whatIfAnalyze, listing: opts.listing };
        let drop: (() => Promise<void>) | null = null;
        if (db === 'postgres') {
          const fresh = await createTestDatabase('knarr_bench_plan');
          input = { ...input, databaseUrl: fresh.url };
          drop = () => fresh.drop();
        } else {
          input = { ...input, dataDir: join(workDir, `pglite-${dest}`) };
        }
        try {
          const r = await runCase(input, opts.timeoutMin * 60_000);
          rows.push({ db, dest, r, load });
          if (r.result) log(`${db}/${dest}: ${r.result.seconds.toFixed(1)} s (list src ${r.result.split.listSrc.toFixed(1)}, dst ${r.result.split.listDst.toFixed(1)}, diff ${r.result.split.diff.toFixed(1)}), peak RSS ${mbOf(r.result.peakRssKiB)}`);
          else log(`${db}/${dest}: not finished after ${opts.timeoutMin} min (${r.progress.join('; ') || 'no progress reported'})`);
        } finally {
          await drop?.();
          if (db === 'pglite') await rm(join(workDir, `pglite-${dest}`), { recursive: true, force: true });
        }
        await sleep(500);
      }
    }
    const report = await render({ opts, rows, commandLine, startedAt, loadAtStart, gitAtStart, workDir });
    console.log(report);
    if (opts.out) {
      await mkdir(dirname(opts.out), { recursive: true });
      await writeFile(opts.out, report);
      log(`report written to ${relative(process.cwd(), opts.out)}`);
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

const mbOf = (kib: number | null | undefined) => (kib === null || kib === undefined ? '–' : `${Math.round((kib * 1024) / 1e6)} MB`);
const mbB = (b: number | undefined) => (b === undefined ? '–' : `${(b / 1e6).toFixed(0)} MB`);

async function render(a: { opts: Options; rows: { db: DbKind; dest: DestKind; r: CaseOutcome; load: string }[]; commandLine: string; startedAt: Date; loadAtStart: string; gitAtStart: string; workDir: string }): Promise<string> {
  const facts = await machineFacts(a.workDir);
  const lines: string[] = [];
  lines.push(`# knarr plan at scale: ${a.opts.files.toLocaleString('en')} synthetic files, ${a.startedAt.toISOString().slice(0, 10)}`, '');
  lines.push('```sh', a.commandLine, '```', '');
  lines.push(`**Load average at the start: ${a.loadAtStart}** on ${facts.nproc} CPUs (at the end: ${facts.loadavg}); other work shared the machine, so times are noisy. git ${a.gitAtStart}.`, '');
  lines.push(`Path: ${[...new Set(a.rows.map((r) => r.r.result?.path ?? "(not finished)"))].join('; ')}. The synthetic source yields ${a.opts.files.toLocaleString('en')} files ` +
    `(100 per folder, ${Math.ceil(a.opts.files / 100).toLocaleString('en')} folders; sizes 1 KiB–8 MiB with every 16th file 64–160 MiB; no bytes exist) in pages of ${a.opts.page}, ` +
    (a.opts.listing === 'walk' ? 'as one recursive `walk()` (recursiveList). ' : 'folder by folder through `list(dir)` (as the local connector: planning lists 4 folders at once and marks each listed). ') +
    '**empty**: the destination does not exist, every file is planned as a copy. **mirror**: the destination holds the same tree with 1 % of the mtimes changed (an incremental run: both sides listed, 1 % copied). ' +
    'Each case runs in a fresh process on a fresh database; **peak RSS** is that process\'s VmHWM while planning (reset just before), **from** its RSS after start-up (modules, database open and migrated). ' +
    (a.opts.whatIfAnalyze ? '**--what-if-analyze**: `ANALYZE entries` ran between the listing and the diff (knarr does not do this today). ' : 'No ANALYZE between listing and diff, as knarr plans today. ') +
    'For PGlite the database is inside that process. Targets (issue 6): a worker planning 1 M files under 300 MB; the embedded process under 400 MB.', '');
  lines.push('| db | destination | plan s | list source s | list destination s | diff + batches s | files/s | copy / skip | batches | peak RSS (from) | heap used at peak | CPU s (process) | load |');
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: |');
  for (const { db, dest, r, load } of a.rows) {
    const x = r.result;
    if (!x) {
      lines.push(`| ${db} | ${dest} | **not finished** after ${fmt(r.wallSeconds, 0)} s (killed) | ${r.progress.join('; ') || '–'} | | | | | | ${mbOf(r.peakRssKiB)} | | ${fmt(r.cpuSeconds, 1)} | ${load} |`);
      continue;
    }
    const t = x.totals as { filesTotal?: number; filesSkipped?: number; batchCount?: number };
    lines.push(`| ${db} | ${dest} | ${fmt(x.seconds, 1)} | ${fmt(x.split.listSrc, 1)} | ${fmt(x.split.listDst, 1)} | ${fmt(x.split.diff, 1)} | ${Math.round(a.opts.files / x.seconds).toLocaleString('en')} | ` +
      `${t.filesTotal ?? '?'} / ${t.filesSkipped ?? '?'} | ${t.batchCount ?? '?'} | ${mbOf(x.peakRssKiB)} (${mbOf(x.baselineRssKiB)}) | ${mbB(x.memory.atPeak?.heapUsed)} | ${fmt(r.cpuSeconds, 1)} | ${load} |`);
  }
  lines.push('', '## Table and index sizes after planning', '');
  lines.push('`pg_table_size` (heap + TOAST), `pg_indexes_size` and `pg_total_relation_size`; per row is total ÷ rows.', '');
  lines.push('| db | destination | table | rows | table | indexes | total | bytes/row |');
  lines.push('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const { db, dest, r } of a.rows) {
    if (!r.result) continue;
    for (const rel of ['entries', 'items'] as const) {
      const s = r.result!.sizes[rel];
      lines.push(`| ${db} | ${dest} | ${rel} | ${s.rows.toLocaleString('en')} | ${mbB(s.tableBytes)} | ${mbB(s.indexBytes)} | ${mbB(s.totalBytes)} | ${s.rows ? Math.round(s.totalBytes / s.rows) : '–'} |`);
    }
  }
  lines.push('', '## Machine', '', `- ${facts.nproc} CPUs (${facts.cpu}); ${facts.kernel}; Node ${facts.node}`, '', '```', facts.memory, '```', '');
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
