/**
 * Points an unmodified rclone at the emulator (shared/specs/providers.md §D.1, jottacloud-api.md
 * §12.1 option 2): the emulator serves HTTPS on <random 127.0.0.X>:443 with a generated CA; rclone
 * runs in a private mount namespace (`unshare -m`) where a bind-mounted hosts file maps
 * jfs/api/id.jottacloud.com to that address (Go's resolver reads /etc/hosts, so HOSTALIASES would
 * not work); the global /etc/hosts is never touched. rclone is configured from a login token issued
 * by the emulator, through rclone's own `config create` flow (§12.2).
 */
import { findRclone, namespacedRclone, onRandomLoopback443, INSTALL_HINT, type RcloneResult } from '../shared/rclone.js';
import { JOTTA_HOSTS, type JottaEmulator, startJottacloudEmulator } from './server.js';

export { findRclone, findRclones, INSTALL_HINT, type RcloneResult } from '../shared/rclone.js';

/**
 * rclone's default Jottacloud encoding since #9153 (commit cb9bdf629, jottacloud-api.md §3 item 4
 * and §8), which adds `Percent` to what Debian's 1.60.1 uses. Set for every run, so every rclone
 * under test stores the names rclone stores today (and knarr stores too: connectors/jottacloud/paths.ts).
 */
export const RCLONE_JOTTA_ENCODING = 'Slash,LtGt,DoubleQuote,Colon,Question,Asterisk,Pipe,Percent,Del,Ctl,InvalidUtf8,Dot';

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

/** Starts the emulator on a random 127.x.y.z:443 and configures rclone for it. */
export async function startRcloneHarness(opts: { remote?: string; account?: string; rclone?: string } = {}): Promise<RcloneHarness> {
  const rclone = opts.rclone ?? (await findRclone());
  if (!rclone) throw new Error(INSTALL_HINT);
  const { address, server: emu } = await onRandomLoopback443((host) => startJottacloudEmulator({ host, port: 443, tls: true, account: opts.account }));
  const ns = await namespacedRclone({ rclone, address, hosts: JOTTA_HOSTS, caCert: emu.caCert as string, config: '' });
  const remote = opts.remote ?? 'jotta';
  const run = (args: string[], o: RunOptions = {}): Promise<RcloneResult> =>
    ns.run(args, { timeoutMs: o.timeoutMs, env: { RCLONE_JOTTACLOUD_ENCODING: o.encoding ?? RCLONE_JOTTA_ENCODING } });
  const ok = async (args: string[], o?: RunOptions): Promise<string> => {
    const r = await run(args, o);
    if (r.code !== 0) throw new Error(`rclone ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
    return r.stdout;
  };

  // §12.2: the wizard path — GET well_known_link, POST token_endpoint (password grant), nothing else.
  const addRemote = (name: string, account?: string): Promise<RcloneResult> =>
    run(['config', 'create', name, 'jottacloud', 'config_type=standard', `config_login_token=${emu.issueLoginToken(account)}`, '--non-interactive']);
  const first = await addRemote(remote);
  if (first.code !== 0) throw new Error(`rclone config create failed:\n${first.stderr}`);
  return {
    emu,
    rclone,
    version: ns.version,
    dir: ns.dir,
    address,
    addRemote,
    run,
    ok,
    config: ns.config,
    stop: async () => {
      await emu.stop();
      await ns.stop();
    },
  };
}
