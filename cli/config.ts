import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { adminKeyFile } from '../runtime/adminKey.js';
import { loadConfig } from '../runtime/config.js';
import { CliError, usageError } from './client.js';

/** Where the client finds knarr, and the key it sends; `from` says which source gave each. */
export interface ClientSettings {
  url: string;
  key: string | null;
  from: { url: string; key: string };
}

/** What `knarr login` writes and every client command reads. */
export interface ConfigFile {
  url?: string;
  key?: string;
}

export interface ConfigSources {
  /** `keyFrom` names where flags.key came from when it was not --key (stdin, for login). */
  flags: { url?: string; key?: string; keyFrom?: string };
  env: NodeJS.ProcessEnv;
  /** Where a config file with a group- or world-readable key is reported (once per process). */
  warn?: (line: string) => void;
}

/** `KNARR_CONFIG`, else `$XDG_CONFIG_HOME/knarr/config.json`, else `~/.config/knarr/config.json`. */
export function configPath(env: NodeJS.ProcessEnv): string {
  if (env.KNARR_CONFIG) return env.KNARR_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'knarr', 'config.json');
}

const warned = new Set<string>();

/** The config file's settings; none when it does not exist. A file that is there but unreadable is an error, not silence. */
export function readConfigFile(path: string, warn: (line: string) => void = (l) => console.error(l)): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read the config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`the config file ${path} is not JSON: fix it or write it again with "knarr login"`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CliError(`the config file ${path} must hold a JSON object {"url","key"}`);
  const { url, key } = parsed as Record<string, unknown>;
  const out: ConfigFile = {};
  if (typeof url === 'string' && url) out.url = url;
  if (typeof key === 'string' && key) {
    out.key = key;
    // Used anyway: refusing would lock the user out over a chmod, and the warning says how to fix it.
    if ((statSync(path).mode & 0o077) !== 0 && !warned.has(path)) {
      warned.add(path);
      warn(`knarr: warning: ${path} holds an API key and others can read it; run "chmod 600 ${path}"`);
    }
  }
  return out;
}

/** The key `knarr server` wrote into its data directory on first start, when this machine runs it. */
function dataDirKey(dataDir: string): string | null {
  try {
    return readFileSync(join(dataDir, adminKeyFile), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/**
 * URL and key, each from the first source that has it: flags, environment, config file, and
 * then what a `knarr server` on this machine uses (its port, its data directory's admin key).
 */
export function resolveSettings({ flags, env, warn }: ConfigSources): ClientSettings {
  const path = configPath(env);
  const needFile = !(flags.url || env.KNARR_API_URL) || !(flags.key || env.KNARR_API_KEY);
  const file = needFile ? readConfigFile(path, warn) : {};
  const local = () => loadConfig(env);

  const url: [string, string] = flags.url ? [flags.url, '--url']
    : env.KNARR_API_URL ? [env.KNARR_API_URL, 'KNARR_API_URL']
    : file.url ? [file.url, path]
    : [`http://127.0.0.1:${local().api.port}`, 'the default'];

  let key: [string | null, string] = flags.key ? [flags.key, flags.keyFrom ?? '--key']
    : env.KNARR_API_KEY ? [env.KNARR_API_KEY, 'KNARR_API_KEY']
    : file.key ? [file.key, path]
    : [null, 'none'];
  if (key[0] === null) {
    const dir = local().dataDir;
    const fromDir = dataDirKey(dir);
    if (fromDir) key = [fromDir, join(dir, adminKeyFile)];
  }
  return { url: checkUrl(url[0]), key: key[0], from: { url: url[1], key: key[1] } };
}

function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`"${url}" is not a URL: give the API's address, such as http://127.0.0.1:8080`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw usageError(`"${url}" is not an http(s) URL`);
  return url.replace(/\/+$/, '');
}

/**
 * Writes the config file readable by its owner only (0600, its folder 0700), through a temporary
 * file renamed into place: an interrupted login never leaves half a file, and the key is never
 * readable by others even for a moment.
 */
export function writeConfigFile(path: string, config: ConfigFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  // The mode given to writeFile is masked by the umask; the key file must be 0600 whatever it is.
  chmodSync(temp, 0o600);
  renameSync(temp, path);
}
