import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cutGroup, startCutProxy, type CutProxy } from '../cutProxy.js';
import { freePort } from '../ports.js';

const run = promisify(execFile);

/**
 * A real pure-ftpd (providers.md C.5) in the foreground on 127.0.0.1, one virtual user whose
 * home (chrooted, so it is `/` over FTP) is `dataDir`, a passive port range of its own, and with
 * `tls` explicit FTPS (AUTH TLS) with a throwaway self-signed certificate for 127.0.0.1.
 */
export interface FtpTestServer {
  host: '127.0.0.1';
  port: number;
  user: string;
  password: string;
  /** The FTP user's home on disk: `/` as the FTP client sees it. */
  dataDir: string;
  /** PEM of the self-signed certificate the server presents (with `tls`). */
  ca?: string;
  /** The exact `config` of a remote of type ftp rooted at `root` (a server path, default `/`). */
  remoteConfig(root?: string): Record<string, unknown>;
  /**
   * With `cuttable`: the server listens on 127.0.0.2 and every byte reaches it through proxies on
   * 127.0.0.1 at the same port numbers (control port and each passive port; pure-ftpd's `-P`
   * advertises 127.0.0.1 in PASV, and EPSV has the client use the control host). `data` counts
   * and cuts the data connections of all passive ports together.
   */
  proxies?: { control: CutProxy; data: CutProxy };
  stop(): Promise<void>;
}

export interface PureFtpdOptions {
  tls?: boolean;
  cuttable?: boolean;
}

const pureFtpd = '/usr/sbin/pure-ftpd';
const purePw = '/usr/bin/pure-pw';
const user = 'knarr';
/** Only ever the password of a throwaway virtual user of a test server. */
const password = 'knarr-ftp-Pa55';
/**
 * Passive ports: pure-ftpd does not bind a passive port that has a connection in TIME_WAIT (60 s),
 * which a paging test's 1,200 uploads (and, behind the proxies, any few hundred transfers a minute)
 * reach with a narrow range: every server takes a whole block of its own.
 */
const passivePorts = { direct: 160, cuttable: 160 };

export async function startPureFtpd(opts: PureFtpdOptions = {}): Promise<FtpTestServer> {
  for (const bin of [pureFtpd, purePw]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`bash scripts/install-test-servers.sh\` (it installs pure-ftpd)`);
  }
  if (process.getuid?.() !== 0) throw new Error('startPureFtpd needs root: pure-ftpd switches to the virtual user\'s uid (providers.md C.5)');
  const dir = await mkdtemp(join(tmpdir(), 'knarr-pureftpd-'));
  try {
    await chmod(dir, 0o755);
    const dataDir = join(dir, 'data');
    await mkdir(dataDir);
    const { uid, gid } = await nobody();
    await chown(dataDir, uid, gid);
    const passwd = join(dir, 'pureftpd.passwd');
    const pdb = join(dir, 'pureftpd.pdb');
    // pure-pw useradd hashes with argon2id at 511 passes (about 2 s of CPU a login, and logins
    // queue behind each other): the same line with a SHA-512 crypt hash logs in at once.
    const { stdout: hash } = await run('openssl', ['passwd', '-6', password]);
    await writeFile(passwd, `${user}:${hash.trim()}:${uid}:${gid}::${dataDir}/./::::::::::::\n`, { mode: 0o600 });
    await run(purePw, ['mkdb', pdb, '-f', passwd]);
    let ca: string | undefined;
    const tlsArgs: string[] = [];
    if (opts.tls) {
      const key = join(dir, 'key.pem');
      const cert = join(dir, 'cert.pem');
      await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
      ca = await readFile(cert, 'utf8');
      const both = join(dir, 'pure-ftpd.pem');
      await writeFile(both, (await readFile(key, 'utf8')) + ca, { mode: 0o600 });
      // -Y 2: plain FTP is refused, so a passing test proves TLS was used.
      tlsArgs.push('-Y', '2', '-2', both);
    }

    for (let attempt = 0; ; attempt++) {
      const bind = opts.cuttable ? '127.0.0.2' : '127.0.0.1';
      const port = await freePort();
      const count = opts.cuttable ? passivePorts.cuttable : passivePorts.direct;
      const range = await reserveRange(count, opts.cuttable ? ['127.0.0.1', '127.0.0.2'] : ['127.0.0.1']);
      const { lo } = range;
      const hi = lo + count - 1;
      const args = [
        '-S', `${bind},${port}`, '-p', `${lo}:${hi}`, '-l', `puredb:${pdb}`,
        // No anonymous login, no DNS lookups, chroot everyone, IPv4, dot files allowed (the connector's partial files start with one).
        '-E', '-H', '-A', '-4', '-z',
        '-c', '100', '-C', '100',
        ...(opts.cuttable ? ['-P', '127.0.0.1'] : []),
        ...tlsArgs,
      ];
      // Its own process group: pure-ftpd forks a process per session, stop() ends them all.
      const child = spawn(pureFtpd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let log = '';
      const onData = (d: Buffer) => {
        log = (log + d.toString()).slice(-64 * 1024);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      if (!(await greets(bind, port, child))) {
        killGroup(child);
        await exited;
        await range.release();
        if (attempt < 4) continue;
        throw new Error(`pure-ftpd did not start:\n${log}`);
      }
      let proxies: FtpTestServer['proxies'];
      try {
        proxies = opts.cuttable ? await startProxies(port, lo, hi) : undefined;
      } catch (err) {
        killGroup(child);
        await exited;
        await range.release();
        if (attempt < 4 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
        throw err;
      }
      const group = proxies;
      return {
        host: '127.0.0.1',
        port,
        user,
        password,
        dataDir,
        ...(ca ? { ca } : {}),
        remoteConfig: (root = '/') => ({
          host: '127.0.0.1', port, user, password, root,
          ...(ca ? { tls: 'explicit', ca } : {}),
        }),
        ...(group ? { proxies: group } : {}),
        async stop() {
          if (group) await Promise.all([group.control.close(), group.data.close()]);
          if (child.exitCode === null && child.signalCode === null) {
            killGroup(child);
            await exited;
          }
          await range.release();
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    child.kill('SIGTERM');
  }
}

async function startProxies(port: number, lo: number, hi: number): Promise<{ control: CutProxy; data: CutProxy }> {
  const started: CutProxy[] = [];
  try {
    const control = await startCutProxy({ host: '127.0.0.2', port }, { host: '127.0.0.1', port });
    started.push(control);
    const group = cutGroup();
    let data: CutProxy | undefined;
    for (let p = lo; p <= hi; p++) {
      const proxy = await startCutProxy({ host: '127.0.0.2', port: p }, { host: '127.0.0.1', port: p, group });
      started.push(proxy);
      data ??= proxy;
    }
    const members = started.slice(1);
    // One handle for the group (counters and cuts are shared); closing it closes every port.
    return {
      control,
      data: Object.assign(Object.create(data!) as CutProxy, {
        close: async () => {
          await Promise.all(members.map((m) => m.close()));
        },
      }),
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.close()));
    throw err;
  }
}

/**
 * Passive ports come from blocks below the kernel's ephemeral range (32768 and up), where neither
 * outgoing connections nor `freePort()` land, and each block is held by one server at a time
 * through a lock file, so servers of test files running at once never share a port (pure-ftpd
 * answers 425 "Address already in use" when it cannot bind its passive port).
 */
const blocks = { first: 20_000, size: 160, count: Math.floor((32_768 - 20_000) / 160) };
const locks = join(tmpdir(), 'knarr-ftp-passive-ports');

async function reserveRange(count: number, hosts: string[]): Promise<{ lo: number; release(): Promise<void> }> {
  if (count > blocks.size) throw new RangeError(`at most ${blocks.size} passive ports a server`);
  await mkdir(locks, { recursive: true });
  const start = Math.floor(Math.random() * blocks.count);
  for (let i = 0; i < blocks.count; i++) {
    const block = (start + i) % blocks.count;
    const lock = join(locks, String(block));
    if (!(await takeLock(lock))) continue;
    const lo = blocks.first + block * blocks.size;
    let free = true;
    for (let p = lo; p < lo + count && free; p++) {
      for (const h of hosts) if (!(await canBind(h, p))) free = false;
    }
    if (free) return { lo, release: () => rm(lock, { force: true }) };
    await rm(lock, { force: true });
  }
  throw new Error('no free passive port range found');
}

/** Creates the lock file with our pid; a lock whose process has gone is taken over. */
async function takeLock(lock: string): Promise<boolean> {
  try {
    await writeFile(lock, String(process.pid), { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const holder = Number(await readFile(lock, 'utf8').catch(() => ''));
  if (Number.isInteger(holder) && holder > 0 && alive(holder)) return false;
  await rm(lock, { force: true });
  return writeFile(lock, String(process.pid), { flag: 'wx' }).then(() => true, () => false);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** Resolves true once the server's 220 greeting arrives, false when it exits or never greets. */
async function greets(host: string, port: number, child: ChildProcess): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const line = await new Promise<string>((resolve) => {
      const sock = createConnection({ host, port });
      let got = '';
      sock.setTimeout(2_000, () => sock.destroy());
      sock.on('data', (d) => {
        got += d.toString();
        if (got.includes('\n')) sock.end();
      });
      sock.on('close', () => resolve(got));
      sock.on('error', () => {});
    });
    if (line.startsWith('220')) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function nobody(): Promise<{ uid: number; gid: number }> {
  const { stdout: uid } = await run('id', ['-u', 'nobody']);
  const { stdout: gid } = await run('id', ['-g', 'nobody']);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}
