/**
 * An unmodified rclone pointed at an emulator (shared/specs/providers.md §D.1): the emulator
 * serves HTTPS on <some 127.x.y.z>:443 with its own CA for the provider's real host names, and
 * rclone runs in a private mount namespace (`unshare -m`) where a bind-mounted hosts file maps
 * those names to that address. Go's resolver reads /etc/hosts, so HOSTALIASES would not work; the
 * global /etc/hosts is never touched. Needs root (CI runs as root).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const INSTALL_HINT = 'rclone not found: run `bash scripts/install-test-servers.sh` (it installs rclone and prints its path)';

const CACHE_BIN = join(homedir(), '.cache', 'knarr', 'bin');

async function works(bin: string): Promise<boolean> {
  if (bin.includes('/') && !existsSync(bin)) return false;
  try {
    await execFileP(bin, ['version'], { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/** rclone to use: $RCLONE, then the installer's ~/.cache/knarr/bin/rclone, then `rclone` on PATH. */
export async function findRclone(): Promise<string | undefined> {
  const candidates = [process.env.RCLONE, join(CACHE_BIN, 'rclone'), 'rclone'].filter((c): c is string => Boolean(c));
  for (const c of candidates) if (await works(c)) return c;
  return undefined;
}

/**
 * Every rclone to cross-check with: the one findRclone() picks, plus a v1.76.0 build in the cache
 * when there is one and it is a different binary (two independent client versions).
 */
export async function findRclones(): Promise<string[]> {
  const primary = await findRclone();
  if (!primary || process.env.RCLONE) return primary ? [primary] : [];
  const out = [primary];
  const built = join(CACHE_BIN, 'rclone-1.76.0.d', 'rclone');
  const real = async (p: string): Promise<string> => (await execFileP('readlink', ['-f', p.includes('/') ? p : (await execFileP('sh', ['-c', `command -v ${p}`])).stdout.trim()])).stdout.trim();
  if ((await works(built)) && (await real(built)) !== (await real(primary))) out.push(built);
  return out;
}

export interface RcloneResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RcloneRunOptions {
  timeoutMs?: number;
  /** Added to the environment of this run only. */
  env?: Record<string, string>;
}

export interface NamespacedRclone {
  rclone: string;
  /** First line of `rclone version`, e.g. `rclone v1.60.1-DEV`. */
  version: string;
  /** Working dir: hosts file, ca.pem, rclone.conf, and scratch space for tests. */
  dir: string;
  /** Runs `rclone <args>` with the config, the CA and the private hosts file. Never throws on exit codes. */
  run(args: readonly string[], opts?: RcloneRunOptions): Promise<RcloneResult>;
  /** Like run() but throws with rclone's stderr on a non-zero exit. */
  ok(args: readonly string[], opts?: RcloneRunOptions): Promise<string>;
  /** The rclone.conf text now (rclone rewrites it when it refreshes a token). */
  config(): Promise<string>;
  /** Removes the working dir (the emulator is the caller's to stop). */
  stop(): Promise<void>;
}

export interface NamespacedRcloneOptions {
  rclone: string;
  /** The loopback address the emulator listens on, port 443. */
  address: string;
  /** The provider's host names, mapped to `address` inside the namespace. */
  hosts: readonly string[];
  caCert: string;
  /** rclone.conf text. */
  config: string;
  env?: Record<string, string>;
}

export async function namespacedRclone(o: NamespacedRcloneOptions): Promise<NamespacedRclone> {
  const version = (await execFileP(o.rclone, ['version'])).stdout.split('\n')[0];
  const dir = await mkdtemp(join(tmpdir(), 'knarr-rclone-'));
  const hosts = join(dir, 'hosts');
  const ca = join(dir, 'ca.pem');
  const conf = join(dir, 'rclone.conf');
  await writeFile(hosts, `${await readFile('/etc/hosts', 'utf8')}\n${o.address} ${o.hosts.join(' ')}\n`);
  await writeFile(ca, o.caCert);
  await writeFile(conf, o.config);

  const run = (args: readonly string[], ro: RcloneRunOptions = {}): Promise<RcloneResult> =>
    runProcess('unshare', ['-m', 'sh', '-c', 'mount --bind "$1" /etc/hosts && shift && exec "$@"', 'sh', hosts, o.rclone, '--config', conf, '--ca-cert', ca, ...args], {
      // Debian's 1.60.1 trips on an AWS_CA_BUNDLE it cannot read; no test needs one.
      env: { ...withoutAwsCaBundle(process.env), SSL_CERT_FILE: ca, RCLONE_CONFIG: conf, TZ: 'UTC', ...o.env, ...ro.env },
      timeoutMs: ro.timeoutMs ?? 120_000,
    });
  return {
    rclone: o.rclone,
    version,
    dir,
    run,
    ok: async (args, ro) => {
      const r = await run(args, ro);
      if (r.code !== 0) throw new Error(`rclone ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
      return r.stdout;
    },
    config: () => readFile(conf, 'utf8'),
    stop: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Runs a command to its end (killed after `timeoutMs`) and gives back its exit code and output; never throws on an exit code. */
export function runProcess(cmd: string, args: readonly string[], o: { env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<RcloneResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

function withoutAwsCaBundle(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { AWS_CA_BUNDLE: _drop, ...rest } = env;
  return rest;
}

/**
 * Binds a random 127.x.y.z on port 443 (parallel test files each take their own address),
 * retrying on collisions. `listen` starts the server on the address it is given.
 */
export async function onRandomLoopback443<T>(listen: (address: string) => Promise<T>): Promise<{ address: string; server: T }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const address = `127.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
    try {
      return { address, server: await listen(address) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  throw new Error('no free loopback address for :443');
}
