import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startNextcloudEmulator, type NextcloudEmulator } from '../fakes/nextcloud/index.js';
import { startInProcessKnarr, testAdminKey, type InProcessKnarr } from '../support/knarr.js';
import { startPureFtpd, type FtpTestServer } from '../support/servers/ftp.js';
import { startVersitygw, type S3TestServer } from '../support/servers/s3.js';
import { startSshd, type SftpTestServer } from '../support/servers/sftp.js';
import { isolatedCliEnv, knarrCli, show } from './cli-process.js';

/**
 * `knarr remote add` and `remote reconnect` for the protocol types, as a user types them: every
 * setting with --set (key:=json for numbers and booleans), an SSH private key from its file with
 * --set-file, and never a secret echoed on stdout or stderr.
 */
describe('knarr remote add for s3, webdav, sftp and ftp', () => {
  let dir: string;
  let k: InProcessKnarr;
  let env: Record<string, string | undefined>;
  let s3: S3TestServer;
  let sftp: SftpTestServer;
  let ftp: FtpTestServer;
  let nextcloud: NextcloudEmulator;
  const suffix = randomBytes(3).toString('hex');
  const run = (args: string[], input?: string) => knarrCli(args, env, input);
  const secrets = () => [s3.secretAccessKey, sftp.privateKey, ...sftp.privateKey.split('\n').filter((l) => l && !l.startsWith('-----')), sftp.password!, ftp.password, nextcloud.password];
  const expectNoSecret = (r: { stdout: string; stderr: string }) => {
    for (const s of secrets()) expect(r.stdout + r.stderr).not.toContain(s);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-cli-protocols-'));
    [s3, sftp, ftp, nextcloud] = await Promise.all([startVersitygw(), startSshd(), startPureFtpd(), startNextcloudEmulator()]);
    await s3.createBucket(`cli-${suffix}`);
    k = await startInProcessKnarr({ databaseUrl: inject('databaseUrl') });
    env = isolatedCliEnv(dir);
    const login = await run(['login', '--url', k.url], `${testAdminKey}\n`);
    expect(login.code, show(login)).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await k?.stop();
    await Promise.allSettled([s3?.stop(), sftp?.stop(), ftp?.stop(), nextcloud?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('adds an sftp remote with its private key read from a file, and reconnects it the same way', async () => {
    const keyFile = join(dir, 'id_ed25519');
    await writeFile(keyFile, sftp.privateKey, { mode: 0o600 });
    const name = `nas-${suffix}`;
    const server = ['--set', 'host=127.0.0.1', '--set', `port:=${sftp.port}`, '--set', `user=${sftp.user}`, '--set', `root=${sftp.dataDir}`];
    const pin = ['--set', `hostKey=${sftp.hostKey}`];
    const args = [...server, ...pin, '--set-file', `privateKey=${keyFile}`];
    const added = await run(['remote', 'add', name, 'sftp', ...args]);
    expect(added.code, show(added)).toBe(0);
    expect(added.stdout).toMatch(new RegExp(`^added remote ${name} \\(sftp\\) .*host=127\\.0\\.0\\.1`));
    expectNoSecret(added);

    const reconnected = await run(['remote', 'reconnect', name, '--set-file', `privateKey=${keyFile}`]);
    expect(reconnected.code, show(reconnected)).toBe(0);
    expect(reconnected.stdout).toBe(`reconnected remote ${name}\n`);
    expectNoSecret(reconnected);

    const missing = await run(['remote', 'add', `nas2-${suffix}`, 'sftp', ...server, ...pin, '--set-file', `privateKey=${join(dir, 'nope')}`]);
    expect(missing.code, show(missing)).toBe(2);
    expect(missing.stderr).toContain(`--set-file privateKey: cannot read ${join(dir, 'nope')} (ENOENT)`);

    // An unpinned host: the refusal shows the fingerprint to pin.
    const unpinned = await run(['remote', 'add', `nas3-${suffix}`, 'sftp', ...server, '--set-file', `privateKey=${keyFile}`]);
    expect(unpinned.code, show(unpinned)).not.toBe(0);
    expect(unpinned.stderr).toContain(sftp.hostKey);
    expectNoSecret(unpinned);
  });

  it('adds s3, webdav and ftp remotes with --set', async () => {
    const cases: [string, string, string[]][] = [
      [`s3-${suffix}`, 's3', ['--provider', 'other', '--set', `endpoint=${s3.endpoint}`, '--set', `region=${s3.region}`, '--set', `bucket=cli-${suffix}`, '--set', 'pathStyle:=true', '--set', `accessKeyId=${s3.accessKeyId}`, '--set', `secretAccessKey=${s3.secretAccessKey}`]],
      [`nc-${suffix}`, 'webdav', ['--set', `url=${nextcloud.davUrl}`, '--set', 'vendor=nextcloud', '--set', `user=${nextcloud.user}`, '--set', `password=${nextcloud.password}`]],
      [`ftp-${suffix}`, 'ftp', ['--set', 'host=127.0.0.1', '--set', `port:=${ftp.port}`, '--set', `user=${ftp.user}`, '--set', `password=${ftp.password}`]],
    ];
    for (const [name, type, args] of cases) {
      const added = await run(['remote', 'add', name, type, ...args, '--json']);
      expect(added.code, show(added)).toBe(0);
      expect(JSON.parse(added.stdout)).toMatchObject({ name, type });
      expectNoSecret(added);
    }
    const listed = await run(['remote', 'ls']);
    expect(listed.code, show(listed)).toBe(0);
    for (const type of ['s3', 'webdav', 'sftp', 'ftp']) expect(listed.stdout).toMatch(new RegExp(`-${suffix}\\s+${type}\\s`));
    expectNoSecret(listed);
  });
});
