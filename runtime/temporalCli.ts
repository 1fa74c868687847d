import { spawn, execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { repoFile } from '../core/repo.js';

/** The newest CLI tag that `go install` accepts (specs/temporal.md §8.2). */
export const TEMPORAL_CLI_VERSION = '1.5.1';

// The same URL @temporalio/testing's ephemeral server downloads from (specs/temporal.md §7).
const DOWNLOAD_URL =
  'https://temporal.download/cli/default?arch=amd64&platform=linux&format=tar.gz&sdk-name=sdk-typescript&sdk-version=1.24.0';
const PROBE_TIMEOUT_MS = 3_000;
const DOWNLOAD_TIMEOUT_MS = 5 * 60_000;
const BUILD_PROGRESS_EVERY_MS = 30_000;

export const TEMPORAL_CLI_OPTIONS =
  'set TEMPORAL_CLI_PATH to a temporal binary, install the temporal CLI on PATH, or install Go >= 1.25 so knarr can build it (npm run temporal:install)';

export interface FindTemporalCliOptions {
  /** Where TEMPORAL_CLI_PATH, PATH, KNARR_CACHE_DIR and HOME are read from; also the build's environment. */
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Build with `go install` when nothing else is found (minutes, the first time). */
  allowBuild?: boolean;
  /** Try temporal.download; defaults to allowBuild so "look only" stays hermetic. */
  allowDownload?: boolean;
}

export function knarrCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.KNARR_CACHE_DIR || join(env.HOME || homedir(), '.cache', 'knarr');
}

/** Where `scripts/install-temporal-cli.sh` puts the binary it builds. */
export function cachedBuildPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(knarrCacheDir(env), 'bin', `temporal-${TEMPORAL_CLI_VERSION}.d`, 'temporal');
}

/** Where a downloaded CLI goes; it is whatever version temporal.download calls default. */
export function cachedDownloadPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(knarrCacheDir(env), 'bin', 'temporal-download.d', 'temporal');
}

export class TemporalCliNotFoundError extends Error {
  override name = 'TemporalCliNotFoundError';
}

/**
 * Finds a usable `temporal` binary: TEMPORAL_CLI_PATH, `temporal` on PATH, the knarr cache, a
 * download from temporal.download, a `go install` build. Throws a one-line message naming the
 * options when none of them works.
 */
export async function findTemporalCli(options: FindTemporalCliOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const allowBuild = options.allowBuild ?? true;
  const allowDownload = options.allowDownload ?? allowBuild;

  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit) {
    // A wrong explicit path is a configuration mistake: falling back would hide it.
    const problem = await whyNotExecutable(explicit);
    if (problem) throw new TemporalCliNotFoundError(`TEMPORAL_CLI_PATH=${explicit} ${problem}`);
    return explicit;
  }

  for (const onPath of await findAllOnPath('temporal', env.PATH)) {
    if (await isTemporalCli(onPath)) return onPath;
  }

  for (const cached of [cachedBuildPath(env), cachedDownloadPath(env)]) {
    if (await isTemporalCli(cached)) return cached;
  }

  if (allowDownload) {
    const downloaded = await tryDownload(env, log);
    if (downloaded) return downloaded;
  }

  let buildFailure = '';
  if (allowBuild) {
    const go = await findOnPath('go', env.PATH);
    if (go) {
      try {
        return await buildWithGo(env, log);
      } catch (err) {
        buildFailure = ` (go install failed: ${(err as Error).message})`;
      }
    }
  }
  throw new TemporalCliNotFoundError(`Temporal CLI not found${buildFailure}: ${TEMPORAL_CLI_OPTIONS}`);
}

async function whyNotExecutable(file: string): Promise<string | null> {
  try {
    const s = await stat(file);
    if (!s.isFile()) return 'is not a file';
  } catch {
    return 'does not exist';
  }
  try {
    await access(file, fsConstants.X_OK);
  } catch {
    return 'is not executable';
  }
  return null;
}

async function findAllOnPath(name: string, pathVar: string | undefined): Promise<string[]> {
  const found: string[] = [];
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if ((await whyNotExecutable(candidate)) === null) found.push(candidate);
  }
  return found;
}

async function findOnPath(name: string, pathVar: string | undefined): Promise<string | null> {
  return (await findAllOnPath(name, pathVar))[0] ?? null;
}

// Another program may be called `temporal`, and an old cache entry may be truncated: run it.
function isTemporalCli(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(file, ['--version'], { timeout: 10_000 }, (err, stdout) => {
      resolve(!err && /^temporal version /m.test(String(stdout)));
    });
  });
}

async function tryDownload(env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<string | null> {
  // Without internet the probe fails in milliseconds (DNS) or at the timeout; either way we move on.
  try {
    const probe = await fetch(DOWNLOAD_URL, { method: 'HEAD', redirect: 'follow', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    if (!probe.ok) return null;
  } catch {
    return null;
  }
  const target = cachedDownloadPath(env);
  const dir = dirname(target);
  await mkdir(dir, { recursive: true });
  const tmp = await mkdtemp(join(dir, '.download.'));
  try {
    log('downloading the Temporal CLI from temporal.download…');
    const res = await fetch(DOWNLOAD_URL, { redirect: 'follow', signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const archive = join(tmp, 'cli.tar.gz');
    await writeFile(archive, Buffer.from(await res.arrayBuffer()));
    const unpacked = join(tmp, 'x');
    await mkdir(unpacked);
    await run('tar', ['-xzf', archive, '-C', unpacked]);
    // rename() within one directory is atomic: a reader sees no binary or a whole one.
    await rename(join(unpacked, 'temporal'), target);
    if (!(await isTemporalCli(target))) throw new Error('the downloaded binary does not run');
    log(`downloaded the Temporal CLI to ${target}`);
    return target;
  } catch (err) {
    log(`downloading the Temporal CLI failed (${(err as Error).message}); trying the next option`);
    return null;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, _stdout, stderr) => (err ? reject(new Error(`${cmd}: ${String(stderr).trim() || err.message}`)) : resolve()));
  });
}

const INSTALL_SCRIPT = repoFile('scripts/install-temporal-cli.sh');

async function buildWithGo(env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<string> {
  const bash = (await findOnPath('bash', env.PATH)) ?? '/bin/bash';
  log('building the Temporal CLI with go install (first time only, takes a few minutes)…');
  const started = Date.now();
  const ticker = setInterval(() => {
    log(`still building… ${Math.round((Date.now() - started) / 1000)}s`);
  }, BUILD_PROGRESS_EVERY_MS);
  ticker.unref();
  try {
    const child = spawn(bash, [INSTALL_SCRIPT], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    // go prints hundreds of "go: downloading" lines; keep only the tail for the error message.
    const tail: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    let partial = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c) => resolve(c));
    });
    if (partial.trim()) tail.push(partial);
    const lastLine = stdout.trim().split('\n').pop() ?? '';
    if (code !== 0 || !lastLine) {
      // The script's own last line repeats the options; go's last line says what went wrong.
      const reason = [...tail].reverse().find((l) => !l.startsWith('install-temporal-cli:')) ?? tail.at(-1);
      throw new Error((reason ?? `install script exited with ${code}`).slice(0, 300), { cause: tail.join('\n') });
    }
    if (!(await isTemporalCli(lastLine))) throw new Error(`the built ${lastLine} does not run`);
    log(`Temporal CLI ready at ${lastLine} (${Math.round((Date.now() - started) / 1000)}s)`);
    return lastLine;
  } finally {
    clearInterval(ticker);
  }
}
