import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { RemoteView } from '../../core/remote.js';
import { CliError, collect as collectAll, paginate, usageError, type ApiClient } from '../client.js';
import { formatPairs, formatTable } from '../format.js';
import { act, collect, context } from './common.js';

/** Flags of `remote add` / `remote reconnect` that name a config key of a known connector type. */
export interface RemoteFlags {
  root?: string;
  token?: string;
  device?: string;
  mountpoint?: string;
  jfsUrl?: string;
  apiUrl?: string;
  provider?: string;
  set?: string[];
  setFile?: string[];
}

/** Flag → config key (connectors/local/definition.ts, connectors/jottacloud/definition.ts). */
const configKeys: Record<Exclude<keyof RemoteFlags, 'set' | 'setFile'>, string> = {
  root: 'root',
  token: 'loginToken',
  device: 'device',
  mountpoint: 'mountpoint',
  jfsUrl: 'jfsUrl',
  apiUrl: 'apiUrl',
  provider: 'provider',
};

/**
 * A remote's `config` from the flags. The API checks it against the type's schema, so a key the
 * type does not have is refused there, with the type's own message. `--set key=value` reaches
 * any key (a string); `--set key:=json` one that is a number, boolean or object;
 * `--set-file key=path` a key whose value is a file's text (an SSH private key, a CA
 * certificate), so a secret need not be pasted on a command line, where `ps` and the shell's
 * history would show it. Relative paths are taken from the current folder, as a shell user means them.
 */
export function remoteConfig(flags: RemoteFlags, cwd: string): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(configKeys)) {
    const v = flags[flag as keyof typeof configKeys];
    if (v !== undefined) config[key] = flag === 'root' ? resolve(cwd, v) : v;
  }
  for (const pair of flags.set ?? []) {
    const m = /^([^=:]+)(:?)=(.*)$/s.exec(pair);
    if (!m) throw usageError(`--set ${pair}: write key=value (a string) or key:=json (a number, true/false, an object)`);
    const [, key, json, value] = m;
    if (!json) {
      config[key] = value;
      continue;
    }
    try {
      config[key] = JSON.parse(value);
    } catch {
      throw usageError(`--set ${pair}: the value after := is not JSON`);
    }
  }
  for (const pair of flags.setFile ?? []) {
    const m = /^([^=]+)=(.+)$/s.exec(pair);
    if (!m) throw usageError(`--set-file ${pair}: write key=path, e.g. --set-file privateKey=~/.ssh/id_ed25519`);
    const [, key, path] = m;
    // zsh and quoted arguments leave a `~/` after `=` unexpanded.
    const file = path.startsWith('~/') ? resolve(homedir(), path.slice(2)) : resolve(cwd, path);
    try {
      config[key] = readFileSync(file, 'utf8');
    } catch (err) {
      // The reason only (ENOENT, EACCES…): never the file's text.
      throw usageError(`--set-file ${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
  }
  return config;
}

/** `POST /v1/remotes` (or `…/reconnect`) of a remote connected through its provider's login page. */
interface Authorization {
  authorizationUrl: string;
  expiresAt: string;
}

/** Polls until the remote exists (the browser's approval came back) or `deadline` passes. */
async function waitForRemote(client: ApiClient, name: string, deadline: number): Promise<RemoteView | null> {
  while (Date.now() < deadline) {
    try {
      return await client.get<RemoteView>(`/v1/remotes/${encodeURIComponent(name)}`);
    } catch (err) {
      if (!(err instanceof CliError && err.code === 'not_found')) throw err;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  return null;
}

const remoteLines = (r: RemoteView) => [`${r.name} (${r.type})${Object.keys(r.config).length ? ` ${formatPairs(r.config)}` : ''}`];

function configFlags(cmd: Command): Command {
  return cmd
    .option('--root <path>', 'local: the folder the remote is rooted at')
    .option('--token <token>', 'jottacloud: a Personal Login Token (Account → Security)')
    .option('--device <name>', 'jottacloud: the device (default Jotta)')
    .option('--mountpoint <name>', 'jottacloud: the mountpoint (default Archive)')
    .option('--jfs-url <url>', 'jottacloud: the JFS service (the real one when absent)')
    .option('--api-url <url>', 'jottacloud: the API service (the real one when absent)')
    .option('--provider <name>', 'the provider, for types that serve several')
    .option('--set <key=value>', 'any config key of the type (repeatable; key:=json for non-strings)', collect)
    .option('--set-file <key=path>', 'a config key whose value is the text of a file, e.g. privateKey=~/.ssh/id_ed25519 (repeatable)', collect);
}

export function remoteCommands(program: Command): void {
  const remote = program.command('remote').description('add, list, remove and reconnect remotes (accounts)');

  configFlags(remote.command('add')
    .description('add a remote: knarr checks it at once by listing its root')
    .argument('<name>', 'its name, as used in locations (name:path)')
    .argument('<type>', 'the connector type: local, jottacloud, s3, webdav, sftp, ftp, drive, onedrive, dropbox'))
    .addHelpText('after', [
      '',
      'Examples:',
      '  knarr remote add photos local --root /srv/photos',
      '  knarr remote add jotta jottacloud --token <Personal Login Token>',
      '  knarr remote add backup s3 --provider aws --set region=eu-central-1 --set bucket=my-backups --set accessKeyId=AKIA… --set secretAccessKey=…',
      '  knarr remote add cloud webdav --set url=https://cloud.example.com/remote.php/dav/files/alice/ --set vendor=nextcloud --set user=alice --set password=<app password>',
      '  knarr remote add nas sftp --set host=nas.example.com --set port:=22 --set user=alice --set hostKey=SHA256:… --set-file privateKey=~/.ssh/id_ed25519',
      '  knarr remote add old ftp --set host=ftp.example.com --set user=alice --set password=… --set tls=explicit',
      '  knarr remote add gdrive drive                  (prints a link: approve in a browser, and the remote is added)',
      '  knarr remote add od onedrive --set-file token=token.json   (a token printed by `rclone authorize "onedrive"`)',
      '  knarr remote add telia jottacloud --set whiteLabel=telia_se   (Telia Cloud: approve in a browser)',
    ].join('\n'))
    .option('--no-wait', 'drive, onedrive, dropbox: print the approval link and return, instead of waiting until the account is connected')
    .action(act(async (name: string, type: string, flags: RemoteFlags & { wait: boolean }, cmd: Command) => {
      const { client, out } = context(cmd);
      const answer = await client.post<RemoteView | Authorization>('/v1/remotes', { name, type, config: remoteConfig(flags, process.cwd()) });
      if (!('authorizationUrl' in answer)) {
        out.result(answer, () => [`added remote ${remoteLines(answer)[0]}`]);
        return 0;
      }
      // The account is connected in a browser: the remote exists once the provider's approval came back.
      out.err(`open this link in a browser and approve knarr's access; remote "${name}" is added when you have:\n  ${answer.authorizationUrl}`);
      if (!flags.wait) {
        out.result(answer, () => []);
        return 0;
      }
      const created = await waitForRemote(client, name, Date.parse(answer.expiresAt));
      if (!created) throw new CliError(`remote "${name}" was not connected before the link expired (${answer.expiresAt}): run the command again`);
      out.result(created, () => [`added remote ${remoteLines(created)[0]}`]);
      return 0;
    }));

  remote.command('ls')
    .description('list the remotes')
    .action(act(async (_flags: object, cmd: Command) => {
      const { client, out } = context(cmd);
      const remotes = await collectAll(paginate<RemoteView>(client, '/v1/remotes', {}, 100));
      out.result(remotes, () => formatTable(['NAME', 'TYPE', 'CONFIG'], remotes.map((r) => [r.name, r.type, formatPairs(r.config)])));
      return 0;
    }));

  remote.command('rm')
    .description('remove a remote')
    .argument('<name>')
    .action(act(async (name: string, _flags: object, cmd: Command) => {
      const { client, out } = context(cmd);
      // 204, no body: with --json stdout stays empty and the exit code says it went.
      await client.request('DELETE', `/v1/remotes/${encodeURIComponent(name)}`);
      out.line(`removed remote ${name}`);
      return 0;
    }));

  configFlags(remote.command('reconnect')
    .description('give a remote new credentials, or (without any) a link to approve it again at its provider (a run waiting in needs_reconnect goes on)')
    .argument('<name>'))
    .action(act(async (name: string, flags: RemoteFlags, cmd: Command) => {
      const { client, out } = context(cmd);
      const secrets = remoteConfig(flags, process.cwd());
      if (Object.keys(secrets).length === 0) {
        // A remote connected through its provider's login page is approved again there; any other needs new secrets.
        const answer = await client.post<Authorization>(`/v1/remotes/${encodeURIComponent(name)}/reconnect`, {}).catch((err: unknown) => {
          if (err instanceof CliError && err.code === 'not_oauth') throw usageError('give the new credentials, e.g. --token <Personal Login Token>');
          throw err;
        });
        out.err(`open this link in a browser and approve knarr's access again; runs waiting for remote "${name}" go on once you have:\n  ${answer.authorizationUrl}`);
        out.result(answer, () => []);
        return 0;
      }
      const updated = await client.request<RemoteView>('PUT', `/v1/remotes/${encodeURIComponent(name)}/credentials`, { body: secrets });
      out.result(updated, () => [`reconnected remote ${name}`]);
      return 0;
    }));
}
