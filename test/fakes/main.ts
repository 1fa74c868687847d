/**
 * `npm run fake -- jottacloud [--port N] [--host ADDR] [--tls] [--account NAME] [--data-dir DIR]`
 * `npm run fake -- nextcloud [--port N] [--host ADDR] [--user NAME] [--password PW] [--data-dir DIR]`
 * `npm run fake -- drive [--port N] [--host ADDR] [--tls] [--data-dir DIR]`
 * `npm run fake -- onedrive [--port N] [--host ADDR] [--tls] [--drive-type personal|business] [--data-dir DIR]`
 * `npm run fake -- dropbox [--port N] [--host ADDR] [--tls] [--account NAME] [--data-dir DIR]`
 *
 * Starts a provider emulator on its own, prints ONE JSON line
 * `{"url":…,"loginToken":…,"caCert":…}` (caCert only with --tls) and serves until SIGINT/SIGTERM.
 * Bad flags: a one-line error on stderr and exit code 2.
 */
import { startJottacloudEmulator } from './jottacloud/index.js';
import { startNextcloudEmulator } from './nextcloud/index.js';
import { startDriveEmulator } from './drive/index.js';
import { startOneDriveEmulator } from './onedrive/index.js';
import { startDropboxEmulator } from './dropbox/index.js';

const USAGE =
  'usage: npm run fake -- jottacloud [--port N] [--host 127.x.y.z] [--tls] [--account NAME] [--data-dir DIR]\n' +
  '       npm run fake -- nextcloud [--port N] [--host 127.x.y.z] [--user NAME] [--password PW] [--data-dir DIR]\n' +
  '       npm run fake -- drive [--port N] [--host 127.x.y.z] [--tls] [--data-dir DIR]\n' +
  '       npm run fake -- onedrive [--port N] [--host 127.x.y.z] [--tls] [--drive-type personal|business] [--data-dir DIR]\n' +
  '       npm run fake -- dropbox [--port N] [--host 127.x.y.z] [--tls] [--account NAME] [--data-dir DIR]';

function fail(msg: string): never {
  process.stderr.write(`${msg}\n`);
  process.exit(2);
}

interface Flags {
  port: number;
  host: string;
  tls: boolean;
  account?: string;
  dataDir?: string;
  user?: string;
  password?: string;
  driveType?: 'personal' | 'business';
}

function parseFlags(args: string[]): Flags {
  const flags: Flags = { port: 0, host: '127.0.0.1', tls: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [name, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined || v === '') fail(`${name} needs a value (${USAGE})`);
      return v;
    };
    switch (name) {
      case '--port': {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) > 65535) fail(`--port must be 0..65535, not ${v}`);
        flags.port = Number(v);
        break;
      }
      case '--host': {
        const v = value();
        if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v) && v !== 'localhost') fail(`--host must be a loopback address (127.0.0.0/8), not ${v}`);
        flags.host = v;
        break;
      }
      case '--tls':
        if (inline !== undefined) fail('--tls takes no value');
        flags.tls = true;
        break;
      case '--account':
        flags.account = value();
        break;
      case '--data-dir':
        flags.dataDir = value();
        break;
      case '--user':
        flags.user = value();
        break;
      case '--password':
        flags.password = value();
        break;
      case '--drive-type': {
        const v = value();
        if (v !== 'personal' && v !== 'business') fail(`--drive-type must be personal or business, not ${v}`);
        flags.driveType = v;
        break;
      }
      default:
        fail(`unknown flag ${a} (${USAGE})`);
    }
  }
  return flags;
}

async function main(): Promise<void> {
  const [provider, ...rest] = process.argv.slice(2);
  if (provider !== 'jottacloud' && provider !== 'nextcloud' && provider !== 'drive' && provider !== 'onedrive' && provider !== 'dropbox') fail(provider ? `unknown emulator ${provider}; known: jottacloud, nextcloud, drive, onedrive, dropbox` : USAGE);
  const flags = parseFlags(rest);
  if (provider === 'nextcloud') return runNextcloud(flags);
  if (provider === 'onedrive') return runOneDrive(flags);
  if (flags.driveType !== undefined) fail('--drive-type is a onedrive flag');
  if (provider === 'dropbox') return runDropbox(flags);
  if (provider === 'drive') return runDrive(flags);
  if (flags.user !== undefined || flags.password !== undefined) fail('--user and --password are nextcloud flags');
  await serve(
    () => startJottacloudEmulator({ port: flags.port, host: flags.host, tls: flags.tls, account: flags.account, dataDir: flags.dataDir }),
    (emu) => ({ url: emu.url, loginToken: emu.issueLoginToken(), ...(emu.caCert ? { caCert: emu.caCert } : {}) }),
  );
}

/**
 * Starts an emulator, stops it on SIGINT/SIGTERM, and prints its one JSON line last, so whoever
 * reads the line can signal us at once.
 */
async function serve<E extends { stop(): Promise<void> }>(start: () => Promise<E>, line: (emu: E) => Record<string, unknown>): Promise<void> {
  let emu: E;
  try {
    emu = await start();
  } catch (err) {
    process.stderr.write(`cannot start the emulator: ${(err as Error).message}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    emu.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.write(`${JSON.stringify(line(emu))}\n`);
}

void main();

/** Prints ONE JSON line `{"url","davUrl","user","password","rcloneConfig"}` and serves until SIGINT/SIGTERM. */
async function runNextcloud(flags: Flags): Promise<void> {
  if (flags.tls || flags.account !== undefined) fail('--tls and --account are jottacloud flags');
  await serve(
    () => startNextcloudEmulator({ port: flags.port, host: flags.host, user: flags.user, password: flags.password, dataDir: flags.dataDir }),
    (emu) => ({
      url: emu.url, davUrl: emu.davUrl, user: emu.user, password: emu.password,
      rcloneConfig: `rclone config create nc webdav vendor=nextcloud url=${emu.davUrl} user=${emu.user} pass=$(rclone obscure '${emu.password}')`,
    }),
  );
}

/** Prints ONE JSON line `{"url","caCert","clientId","clientSecret","token"}` (token: rclone's token object) and serves until SIGINT/SIGTERM. */
async function runDrive(flags: Flags): Promise<void> {
  if (flags.account !== undefined || flags.user !== undefined || flags.password !== undefined) fail('--account, --user and --password are not drive flags');
  await serve(
    () => startDriveEmulator({ port: flags.port, host: flags.host, tls: flags.tls, dataDir: flags.dataDir }),
    (emu) => ({ url: emu.url, ...(emu.caCert ? { caCert: emu.caCert } : {}), clientId: emu.clientId, clientSecret: emu.clientSecret, token: emu.issueToken() }),
  );
}

/** Prints ONE JSON line `{"url","caCert","clientId","clientSecret","token","driveId","driveType"}` and serves until SIGINT/SIGTERM. */
async function runOneDrive(flags: Flags): Promise<void> {
  if (flags.account !== undefined || flags.user !== undefined || flags.password !== undefined) fail('--account, --user and --password are not onedrive flags');
  await serve(
    () => startOneDriveEmulator({ port: flags.port, host: flags.host, tls: flags.tls, driveType: flags.driveType, dataDir: flags.dataDir }),
    (emu) => ({
      url: emu.url,
      ...(emu.caCert ? { caCert: emu.caCert } : {}),
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
      token: emu.issueToken(),
      driveId: emu.driveId,
      driveType: emu.driveType,
    }),
  );
}

/** Prints ONE JSON line `{"url","caCert","clientId","clientSecret","token"}` (token: rclone's token object, of `--account`) and serves until SIGINT/SIGTERM. */
async function runDropbox(flags: Flags): Promise<void> {
  if (flags.user !== undefined || flags.password !== undefined) fail('--user and --password are nextcloud flags');
  await serve(
    () => startDropboxEmulator({ port: flags.port, host: flags.host, tls: flags.tls, dataDir: flags.dataDir }),
    (emu) => ({ url: emu.url, ...(emu.caCert ? { caCert: emu.caCert } : {}), clientId: emu.clientId, clientSecret: emu.clientSecret, token: emu.issueToken(flags.account) }),
  );
}
