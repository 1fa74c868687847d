/**
 * Points an unmodified rclone at the emulator (shared/specs/providers.md §D.1, jottacloud-api.md
 * §12.1 option 2): the emulator serves HTTPS on <random 127.0.0.X>:443 with a generated CA; rclone
 * runs in a private mount namespace (`unshare -m`) where a bind-mounted hosts file maps
 * jfs/api/id.jottacloud.com to that address (Go's resolver reads /etc/hosts, so HOSTALIASES would
 * not work); the global /etc/hosts is never touched. rclone is configured from a login token issued
 * by the emulator, through rclone's own `config create` flow (§12.2).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type JottaEmulator, startJottacloudEmulator } from './server.js';
import { JOTTA_HOSTS } from './tls.js';

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

/**
 * rclone's default Jottacloud encoding since #9153 (commit cb9bdf629, jottacloud-api.md §3 item 4
 * and §8), which adds `Percent` to what Debian's 1.60.1 uses. Set for every run, so every rclone
 * under test stores the names rclone stores today (and knarr stores too: connectors/jottacloud/paths.ts).
 */
export const RCLONE_JOTTA_ENCODING = 'Slash,LtGt,DoubleQuote,Colon,Question,Asterisk,Pipe,Percent,Del,Ctl,InvalidUtf8,Dot';

export interface RcloneResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RcloneHarness {
  emu: JottaEmulator;
  rclone: string;
  version: string;
  /** Working dir: hosts file, ca.pem, rclone.conf, and scratch space for tests. */
  dir: string;
  /** The loopback address the emulator binds :443 on. */
  address: string;
  /** Configures another remote from a fresh login token of `account` (default: the emulator's default account). */
  addRemote(name: string, account?: string): Promise<RcloneResult>;
  /** Runs `rclone <args>` with the config, CA and private hosts file. Never throws on exit codes. */
  run(args: string[], opts?: RunOptions): Promise<RcloneResult>;
  /** Like run() but throws with rclone's stderr on a non-zero exit. */
  ok(args: string[], opts?: RunOptions): Promise<string>;
  /** The rclone.conf text (to inspect the saved token). */
  config(): Promise<string>;
  stop(): Promise<void>;
}

export interface RunOptions {
  timeoutMs?: number;
  /** `--jottacloud-encoding`; RCLONE_JOTTA_ENCODING when absent. */
  encoding?: string;
}

/** Starts the emulator on a random 127.0.0.X:443 (retrying on collisions) and configures rclone for it. */
export async function startRcloneHarness(opts: { remote?: string; account?: string; rclone?: string } = {}): Promise<RcloneHarness> {
  const rclone = opts.rclone ?? (await findRclone());
  if (!rclone) throw new Error(INSTALL_HINT);
  const version = (await execFileP(rclone, ['version'])).stdout.split('\n')[0];
  let emu: JottaEmulator | undefined;
  let address = '';
  for (let attempt = 0; attempt < 20 && !emu; attempt++) {
    // Port 443 is shared by parallel test files: each takes its own loopback address.
    address = `127.0.${1 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
    try {
      emu = await startJottacloudEmulator({ host: address, port: 443, tls: true, account: opts.account });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  if (!emu) throw new Error('no free loopback address for :443');
  const dir = await mkdtemp(join(tmpdir(), 'knarr-rclone-'));
  const hosts = join(dir, 'hosts');
  const ca = join(dir, 'ca.pem');
  const conf = join(dir, 'rclone.conf');
  await writeFile(hosts, `${await readFile('/etc/hosts', 'utf8')}\n${address} ${JOTTA_HOSTS.join(' ')}\n`);
  await writeFile(ca, emu.caCert as string);
  await writeFile(conf, '');
  const remote = opts.remote ?? 'jotta';

  const run = (args: string[], o: RunOptions = {}): Promise<RcloneResult> =>
    new Promise((resolve, reject) => {
      const child = spawn(
        'unshare',
        ['-m', 'sh', '-c', 'mount --bind "$1" /etc/hosts && shift && exec "$@"', 'sh', hosts, rclone, '--config', conf, '--ca-cert', ca, ...args],
        {
          env: { ...process.env, SSL_CERT_FILE: ca, RCLONE_CONFIG: conf, TZ: 'UTC', RCLONE_JOTTACLOUD_ENCODING: o.encoding ?? RCLONE_JOTTA_ENCODING },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
  const ok = async (args: string[], o?: RunOptions): Promise<string> => {
    const r = await run(args, o);
    if (r.code !== 0) throw new Error(`rclone ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
    return r.stdout;
  };

  // §12.2: the wizard path — GET well_known_link, POST token_endpoint (password grant), nothing else.
  const addRemote = (name: string, account?: string, token = emu?.issueLoginToken(account) ?? ''): Promise<RcloneResult> =>
    run(['config', 'create', name, 'jottacloud', 'config_type=standard', `config_login_token=${token}`, '--non-interactive']);
  const first = await addRemote(remote);
  if (first.code !== 0) throw new Error(`rclone config create failed:\n${first.stderr}`);
  return {
    emu,
    rclone,
    version,
    dir,
    address,
    addRemote: (name, account) => addRemote(name, account),
    run,
    ok,
    config: () => readFile(conf, 'utf8'),
    stop: async () => {
      await emu?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
