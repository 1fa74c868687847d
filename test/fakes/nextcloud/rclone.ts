/**
 * Points an unmodified rclone (webdav backend) at the emulator: its own config file in a temp dir
 * with two remotes on the same account, `nc` (vendor nextcloud: X-OC-Mtime, SHA1 in OC-Checksum,
 * chunked uploads in 1.6x+) and `oc` (vendor owncloud: reads MD5 and SHA1 from oc:checksums), an
 * obscured password, and AWS_CA_BUNDLE removed from its environment (Debian's 1.60.1 trips on it).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { NextcloudEmulator } from './server.js';
import { runProcess } from '../shared/rclone.js';

const execFileP = promisify(execFile);

export const RCLONE_INSTALL_HINT = 'rclone not found at /usr/bin/rclone: run `bash scripts/install-test-servers.sh`';

/** Debian's rclone 1.60.1, and the v1.76.0 build in the cache when it is there. */
export function nextcloudRclones(): string[] {
  const out: string[] = [];
  if (existsSync('/usr/bin/rclone')) out.push('/usr/bin/rclone');
  const built = join(homedir(), '.cache', 'knarr', 'bin', 'rclone-1.76.0.d', 'rclone');
  if (existsSync(built)) out.push(built);
  return out;
}

export interface RcloneRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface NextcloudRclone {
  rclone: string;
  /** e.g. `rclone v1.60.1-DEV` */
  version: string;
  /** [major, minor] */
  versionNumber: [number, number];
  dir: string;
  run(args: string[], opts?: { timeoutMs?: number }): Promise<RcloneRun>;
  /** Like run() but throws with rclone's stderr on a non-zero exit. */
  ok(args: string[], opts?: { timeoutMs?: number }): Promise<string>;
  stop(): Promise<void>;
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TZ: 'UTC' };
  delete env.AWS_CA_BUNDLE;
  for (const k of Object.keys(env)) if (k.startsWith('RCLONE_')) delete env[k];
  return env;
}

export async function startNextcloudRclone(emu: NextcloudEmulator, rclone: string): Promise<NextcloudRclone> {
  const env = cleanEnv();
  const version = (await execFileP(rclone, ['version'], { env })).stdout.split('\n')[0];
  const m = /v(\d+)\.(\d+)/.exec(version);
  const versionNumber: [number, number] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  const obscured = (await execFileP(rclone, ['obscure', emu.password], { env })).stdout.trim();
  const dir = await mkdtemp(join(tmpdir(), 'knarr-nc-rclone-'));
  const conf = join(dir, 'rclone.conf');
  const remote = (name: string, vendor: string): string => `[${name}]\ntype = webdav\nurl = ${emu.davUrl}\nvendor = ${vendor}\nuser = ${emu.user}\npass = ${obscured}\n\n`;
  await writeFile(conf, remote('nc', 'nextcloud') + remote('oc', 'owncloud'));

  const run = (args: string[], o: { timeoutMs?: number } = {}): Promise<RcloneRun> =>
    runProcess(rclone, ['--config', conf, ...args], { env, timeoutMs: o.timeoutMs ?? 110_000 });
  const ok = async (args: string[], o?: { timeoutMs?: number }): Promise<string> => {
    const r = await run(args, o);
    if (r.code !== 0) throw new Error(`rclone ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
    return r.stdout;
  };
  return { rclone, version, versionNumber, dir, run, ok, stop: () => rm(dir, { recursive: true, force: true }) };
}
