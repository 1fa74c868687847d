import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../ports.js';

/**
 * A real Apache 2.4 with mod_dav_fs (shared/specs/providers.md C.3) on a free port of 127.0.0.1,
 * serving a fresh temp folder as the WebDAV root behind basic auth.
 */
export interface WebdavTestServer {
  /** `http://127.0.0.1:<port>/`: the DAV root. */
  url: string;
  user: string;
  password: string;
  /** The folder on disk served as the DAV root. */
  dataDir: string;
  /** The exact `config` of `POST /v1/remotes` (type webdav, vendor other) for this server, rooted at `root` (a path below the DAV root). */
  remoteConfig(root?: string): Record<string, unknown>;
  stop(): Promise<void>;
}

const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';

/** Apache's `{SHA}` htpasswd form: base64 of the password's SHA-1 (no htpasswd binary needed). */
function htpasswdLine(user: string, password: string): string {
  return `${user}:{SHA}${createHash('sha1').update(password).digest('base64')}\n`;
}

export async function startApacheDav(opts: { user?: string; password?: string } = {}): Promise<WebdavTestServer> {
  if (!existsSync(APACHE) || !existsSync(join(MODULES, 'mod_dav_fs.so'))) {
    throw new Error(`Apache with mod_dav_fs is not installed (${APACHE}): run \`bash scripts/install-test-servers.sh\``);
  }
  const user = opts.user ?? 'knarr';
  const password = opts.password ?? 'dav-secret-pw';
  const work = await mkdtemp(join(tmpdir(), 'knarr-apache-dav-'));
  // Apache's children run as www-data when started as root: they must reach the data and lock folders.
  await chmod(work, 0o755);
  const dataDir = join(work, 'root');
  const lockDir = join(work, 'lock');
  await mkdir(dataDir);
  await mkdir(lockDir);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    await chown(dataDir, 33, 33);
    await chown(lockDir, 33, 33);
  }
  await writeFile(join(work, 'htpasswd'), htpasswdLine(user, password));
  const port = await freePort();
  const load = (name: string, file: string) => `LoadModule ${name} ${MODULES}/${file}`;
  // Apache allows no comment on a directive's line, so none are put there.
  const conf = [
    `ServerRoot "${work}"`,
    'ServerName 127.0.0.1',
    `Listen 127.0.0.1:${port}`,
    `PidFile "${work}/httpd.pid"`,
    `ErrorLog "${work}/error.log"`,
    'LogLevel warn',
    load('mpm_event_module', 'mod_mpm_event.so'),
    load('authz_core_module', 'mod_authz_core.so'),
    load('authn_core_module', 'mod_authn_core.so'),
    load('authn_file_module', 'mod_authn_file.so'),
    load('auth_basic_module', 'mod_auth_basic.so'),
    load('authz_user_module', 'mod_authz_user.so'),
    load('dav_module', 'mod_dav.so'),
    load('dav_fs_module', 'mod_dav_fs.so'),
    ...(asRoot ? ['User www-data', 'Group www-data'] : []),
    // Big test files and long keep-alive runs of small ones.
    'LimitRequestBody 0',
    'KeepAlive On',
    'MaxKeepAliveRequests 0',
    'Timeout 120',
    `DocumentRoot "${dataDir}"`,
    `DavLockDB "${lockDir}/DavLock"`,
    `<Directory "${dataDir}">`,
    '  Dav On',
    '  AuthType Basic',
    '  AuthName "dav"',
    `  AuthUserFile "${work}/htpasswd"`,
    '  Require valid-user',
    '</Directory>',
    '',
  ].join('\n');
  await writeFile(join(work, 'httpd.conf'), conf);

  let output = '';
  const child: ChildProcess = spawn(APACHE, ['-f', join(work, 'httpd.conf'), '-DFOREGROUND'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => void (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => void (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => void (dead = true));

  const url = `http://127.0.0.1:${port}/`;
  const auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const stop = async () => {
    if (!dead) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (!dead) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    await rm(work, { recursive: true, force: true });
  };

  // Ready once an authenticated PROPFIND of the root answers 207.
  for (let i = 0; ; i++) {
    if (dead) {
      const log = await readFile(join(work, 'error.log'), 'utf8').catch(() => '');
      await stop();
      throw new Error(`apache2 exited at start: ${output}${log}`);
    }
    const ok = await fetch(url, { method: 'PROPFIND', headers: { authorization: auth, depth: '0' } })
      .then(async (r) => {
        await r.arrayBuffer();
        return r.status === 207;
      })
      .catch(() => false);
    if (ok) break;
    if (i > 200) {
      await stop();
      throw new Error(`apache2 did not answer on ${url}: ${output}`);
    }
    await sleep(50);
  }

  return {
    url,
    user,
    password,
    dataDir,
    remoteConfig(root = '') {
      const path = root.split('/').filter((s) => s !== '').map(encodeURIComponent).join('/');
      return { url: `${url}${path}${path ? '/' : ''}`, vendor: 'other', user, password };
    },
    stop,
  };
}
