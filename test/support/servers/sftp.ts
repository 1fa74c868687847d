import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../ports.js';

const run = promisify(execFile);

/**
 * A real OpenSSH sshd (providers.md C.4) on 127.0.0.1 and a free port, in a fresh temp dir, with
 * a throwaway ed25519 host key and client key. It logs in one dedicated system user, `knarrtest`,
 * by key or by password: root's password is never touched, and a user of its own lets the tests
 * try password auth. The user is created once per machine (idempotent, under a lock, because test
 * files start servers in parallel) with a shell, so `md5sum` over `exec` works as on a real host.
 */
export interface SftpTestServer {
  host: '127.0.0.1';
  port: number;
  user: string;
  password?: string;
  /** The client's private key (OpenSSH format), authorised for `user`. */
  privateKey: string;
  /** The host key's fingerprint as `ssh-keygen -lf` prints it: `SHA256:<base64>`. */
  hostKey: string;
  /** The host's public key line, `ssh-ed25519 AAAA…` (the other form a remote may pin). */
  hostPublicKey: string;
  /** The client key on disk, for other clients (rclone's key_file). */
  privateKeyFile: string;
  /** An absolute folder on disk owned by `user`, which tests use as a remote's root. */
  dataDir: string;
  /** The exact `config` of a remote of type sftp: key auth, host key pinned, rooted at `root` (default `dataDir`). */
  remoteConfig(root?: string): Record<string, unknown>;
  /** Server log (sshd -e), for messages when a test fails. */
  output(): string;
  stop(): Promise<void>;
}

const sshd = '/usr/sbin/sshd';
const sshKeygen = '/usr/bin/ssh-keygen';
export const sftpTestUser = 'knarrtest';
/** Only ever the password of the throwaway test user on a test machine. */
export const sftpTestPassword = 'knarr-test-Pa55';

export async function startSshd(): Promise<SftpTestServer> {
  for (const bin of [sshd, sshKeygen]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`bash scripts/install-test-servers.sh\` (it installs openssh-server)`);
  }
  if (process.getuid?.() !== 0) throw new Error('startSshd needs root: sshd can only log in other users when it runs as root (providers.md C.4)');
  await ensureTestUser();
  const { uid, gid } = await idsOf(sftpTestUser);

  const dir = await mkdtemp(join(tmpdir(), 'knarr-sshd-'));
  await chmod(dir, 0o755);
  const dataDir = join(dir, 'data');
  await mkdir(dataDir);
  await chown(dataDir, uid, gid);
  await run(sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'knarr-test-host', '-f', join(dir, 'host_ed25519')]);
  await run(sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'knarr-test-client', '-f', join(dir, 'client_ed25519')]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_ed25519.pub')), { mode: 0o644 });
  const privateKeyFile = join(dir, 'client_ed25519');
  const privateKey = await readFile(privateKeyFile, 'utf8');
  const hostPublicKey = (await readFile(join(dir, 'host_ed25519.pub'), 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  const { stdout: fp } = await run(sshKeygen, ['-lf', join(dir, 'host_ed25519.pub')]);
  const hostKey = fp.split(' ')[1]!;
  // The privilege-separation directory sshd insists on when it runs as root.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  let child: ChildProcess | undefined;
  let log = '';
  let port = 0;
  try {
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      const cfg = join(dir, 'sshd_config');
      await writeFile(cfg, config(dir, port));
      await run(sshd, ['-t', '-f', cfg]);
      log = '';
      const started = spawn(sshd, ['-D', '-e', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = started;
      const onData = (d: Buffer) => {
        log = (log + d.toString()).slice(-64 * 1024);
      };
      started.stdout!.on('data', onData);
      started.stderr!.on('data', onData);
      const ok = await listening(started, () => log);
      if (ok) break;
      started.kill('SIGKILL');
      // Another process took the free port between freePort and sshd's bind: try another.
      if (attempt >= 4 || !/Address already in use/i.test(log)) throw new Error(`sshd did not start:\n${log}`);
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const proc = child;

  return {
    host: '127.0.0.1',
    port,
    user: sftpTestUser,
    password: sftpTestPassword,
    privateKey,
    hostKey,
    hostPublicKey,
    privateKeyFile,
    dataDir,
    remoteConfig: (root = dataDir) => ({ host: '127.0.0.1', port, user: sftpTestUser, root, privateKey, hostKey }),
    output: () => log,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function config(dir: string, port: number): string {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_ed25519')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin no',
    `AllowUsers ${sftpTestUser}`,
    'PrintMotd no',
    // The connector keeps a pool of connections and tests open several connectors at once.
    'MaxStartups 100:30:200',
    'MaxSessions 64',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

/** Resolves true once sshd says it listens, false when it exits first. */
function listening(child: ChildProcess, log: () => string): Promise<boolean> {
  return new Promise((resolve) => {
    const check = () => {
      if (/Server listening on/.test(log())) done(true);
    };
    const timer = setTimeout(() => done(false), 20_000);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.stderr!.off('data', check);
      child.off('exit', onExit);
      resolve(ok);
    };
    const onExit = () => done(false);
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

/**
 * Creates the test user if absent and (re)sets its password, so an account left locked or with
 * another password by an earlier run works again. Under flock: useradd and chpasswd refuse to run
 * while another holds /etc/passwd or /etc/shadow, and test files start servers at the same time.
 */
async function ensureTestUser(): Promise<void> {
  const script = [
    `id -u ${sftpTestUser} >/dev/null 2>&1 || useradd --create-home --shell /bin/sh ${sftpTestUser}`,
    `echo '${sftpTestUser}:${sftpTestPassword}' | chpasswd`,
  ].join(' && ');
  await run('flock', ['/tmp/knarr-sftp-test-user.lock', 'sh', '-c', script]).catch((err: Error & { stderr?: string }) => {
    throw new Error(`could not create the sftp test user ${sftpTestUser}: ${err.stderr ?? err.message}`);
  });
}

async function idsOf(user: string): Promise<{ uid: number; gid: number }> {
  const { stdout: uid } = await run('id', ['-u', user]);
  const { stdout: gid } = await run('id', ['-g', user]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}
