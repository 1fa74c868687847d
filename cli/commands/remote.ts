import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { RemoteView } from '../../core/remote.js';
import { collect as collectAll, paginate, usageError } from '../client.js';
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
}

/** Flag → config key (connectors/local/definition.ts, connectors/jottacloud/definition.ts). */
const configKeys: Record<Exclude<keyof RemoteFlags, 'set'>, string> = {
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
 * any key (a string); `--set key:=json` one that is a number, boolean or object. A relative
 * `--root` is taken from the current folder, as a shell user means it.
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
  return config;
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
    .option('--set <key=value>', 'any config key of the type (repeatable; key:=json for non-strings)', collect);
}

export function remoteCommands(program: Command): void {
  const remote = program.command('remote').description('add, list, remove and reconnect remotes (accounts)');

  configFlags(remote.command('add')
    .description('add a remote: knarr checks it at once by listing its root')
    .argument('<name>', 'its name, as used in locations (name:path)')
    .argument('<type>', 'the connector type: local, jottacloud, …'))
    .addHelpText('after', '\nExamples:\n  knarr remote add photos local --root /srv/photos\n  knarr remote add jotta jottacloud --token <Personal Login Token>')
    .action(act(async (name: string, type: string, flags: RemoteFlags, cmd: Command) => {
      const { client, out } = context(cmd);
      const created = await client.post<RemoteView>('/v1/remotes', { name, type, config: remoteConfig(flags, process.cwd()) });
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
    .description('give a remote new credentials (a run waiting in needs_reconnect goes on)')
    .argument('<name>'))
    .action(act(async (name: string, flags: RemoteFlags, cmd: Command) => {
      const { client, out } = context(cmd);
      const secrets = remoteConfig(flags, process.cwd());
      if (Object.keys(secrets).length === 0) throw usageError('give the new credentials, e.g. --token <Personal Login Token>');
      const updated = await client.request<RemoteView>('PUT', `/v1/remotes/${encodeURIComponent(name)}/credentials`, { body: secrets });
      out.result(updated, () => [`reconnected remote ${name}`]);
      return 0;
    }));
}
