import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startNextcloudEmulator, type NextcloudEmulator } from '../fakes/nextcloud/index.js';
import { api, testAdminKey, waitForRun } from '../support/knarr.js';
import { ensureStopped, type KnarrProcess, startEmbeddedServer } from '../support/processes.js';
import { dataDirTexts, expectNoSecretIn, workflowHistories } from '../support/secretSweep.js';
import { startPureFtpd, type FtpTestServer } from '../support/servers/ftp.js';
import { startVersitygw, type S3TestServer } from '../support/servers/s3.js';
import { startSshd, type SftpTestServer } from '../support/servers/sftp.js';

/** A wrong secret of the same shape as a real one, unique so a chance match is impossible. */
const wrong = (label: string) => `wrong-${label}-${randomBytes(12).toString('hex')}`;

/**
 * The protocol connectors' secrets (an S3 secret access key, an SSH private key and passwords of
 * SFTP, FTP and WebDAV) never come back either: a real `knarr server` copies through each of
 * them, reconnects two, refuses wrong ones, and the actual strings (and every base64 line of the
 * private key) are searched for in every API answer, knarr's log, every workflow history and
 * every file of the data directory.
 */
describe('secrets of the protocol connectors', () => {
  let dir: string;
  let proc: KnarrProcess | undefined;
  let s3: S3TestServer | undefined;
  let sftp: SftpTestServer | undefined;
  let ftp: FtpTestServer | undefined;
  let nextcloud: NextcloudEmulator | undefined;

  afterAll(async () => {
    await ensureStopped(proc);
    await Promise.allSettled([s3?.stop(), sftp?.stop(), ftp?.stop(), nextcloud?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('appear in no API answer, log line, workflow history or database file, and a wrong one is refused without being echoed', async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-secrets-protocols-'));
    await mkdir(join(dir, 'src/docs'), { recursive: true });
    await mkdir(join(dir, 'back'));
    for (let i = 0; i < 6; i++) await writeFile(join(dir, `src/docs/f${i}.txt`), `document ${i} `.repeat(300));
    const ncPassword = `nc-${randomBytes(12).toString('hex')}`;
    [s3, sftp, ftp, nextcloud] = await Promise.all([startVersitygw(), startSshd(), startPureFtpd(), startNextcloudEmulator({ password: ncPassword })]);
    const bucket = 'knarr-secrets';
    await s3.createBucket(bucket);
    const { proc: started, base, ports } = await startEmbeddedServer(dir);
    proc = started;

    const answers: string[] = [];
    const call = async (method: string, path: string, body?: unknown, key: string | null = testAdminKey) => {
      const r = await api(base, method, path, body, { key });
      answers.push(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
      return r;
    };
    const user = await call('POST', '/v1/users', { name: 'dora' });
    const doraKey: string = (await api(base, 'POST', `/v1/users/${user.body.id}/keys`)).body.key;
    const asDora = (method: string, path: string, body?: unknown) => call(method, path, body, doraKey);
    const created = async (name: string, type: string, config: Record<string, unknown>) => {
      const r = await asDora('POST', '/v1/remotes', { name, type, config });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    };
    /** A refusal at creation: a 4xx JSON error naming the problem, and the remote not kept. */
    const refused = async (name: string, type: string, config: Record<string, unknown>, problem: RegExp) => {
      const r = await asDora('POST', '/v1/remotes', { name, type, config });
      expect(r.status, JSON.stringify(r.body)).toBe(422);
      expect(r.body.error).toMatchObject({ code: 'remote_unreachable', field: 'config' });
      expect(r.body.error.message).toMatch(problem);
      expect((await asDora('GET', `/v1/remotes/${name}`)).status).toBe(404);
      return r.body.error.message as string;
    };

    const badS3Secret = wrong('s3');
    const badSftpPassword = wrong('sftp');
    const badFtpPassword = wrong('ftp');
    const badNcPassword = wrong('nc');
    await refused('s3-bad', 's3', s3.remoteConfig(bucket, { secretAccessKey: badS3Secret }), /refused the keys.*SignatureDoesNotMatch/);
    const { hostKey: _pinned, ...unpinned } = sftp.remoteConfig();
    // An unpinned host is refused with the fingerprint to pin, ready to paste.
    expect(await refused('sftp-unpinned', 'sftp', unpinned, /host key .* is unknown.*set hostKey to/)).toContain(sftp.hostKey);
    const { privateKey: _key, ...sftpServer } = sftp.remoteConfig();
    await refused('sftp-bad', 'sftp', { ...sftpServer, password: badSftpPassword }, /refused the credentials of remote "sftp-bad"/);
    await refused('ftp-bad', 'ftp', { ...ftp.remoteConfig(), password: badFtpPassword }, /refused the login of user "knarr".*530/);
    await refused('nc-bad', 'webdav', { ...nextcloud.remoteConfig(), password: badNcPassword }, /HTTP 401: the WebDAV server refused the credentials/);

    await created('src', 'local', { root: join(dir, 'src') });
    await created('back', 'local', { root: join(dir, 'back') });
    await created('s3', 's3', s3.remoteConfig(bucket));
    await created('sftp-key', 'sftp', sftp.remoteConfig());
    await created('sftp-pw', 'sftp', { ...sftpServer, password: sftp.password! });
    await created('ftp', 'ftp', ftp.remoteConfig());
    await created('nc', 'webdav', nextcloud.remoteConfig());

    const runs: string[] = [];
    const copy = async (source: string, destination: string) => {
      const r = await asDora('POST', '/v1/jobs', { source, destination, mode: 'copy', options: { transfers: 2 } });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      runs.push(r.body.runId);
      return r.body.runId as string;
    };
    const completed = async (runId: string) => {
      const run = await waitForRun(base, runId, 300_000, undefined, doraKey);
      expect(run.state, JSON.stringify(run)).toBe('completed');
      expect(run.files).toMatchObject({ done: 6, failed: 0 });
    };
    await Promise.all([
      copy('src:', 's3:in').then(completed),
      copy('src:', 'ftp:up').then(completed),
      copy('src:', 'nc:up').then(completed),
      copy('src:', 'sftp-pw:up').then(completed),
    ]);
    await completed(await copy('s3:in', 'sftp-key:from-s3'));

    // Reconnects: a wrong secret is refused (and the old one kept), a right one taken.
    const badAgain = await asDora('PUT', '/v1/remotes/s3/credentials', { secretAccessKey: badS3Secret });
    expect(badAgain.status, JSON.stringify(badAgain.body)).toBe(422);
    expect(badAgain.body.error.message).toMatch(/refused the keys.*SignatureDoesNotMatch/);
    const badPw = await asDora('PUT', '/v1/remotes/sftp-pw/credentials', { password: badSftpPassword });
    expect(badPw.status, JSON.stringify(badPw.body)).toBe(422);
    expect((await asDora('PUT', '/v1/remotes/s3/credentials', { secretAccessKey: s3.secretAccessKey })).status).toBe(200);
    expect((await asDora('PUT', '/v1/remotes/sftp-key/credentials', { privateKey: sftp.privateKey })).status).toBe(200);
    // The reconnected remotes and the one whose reconnect failed still work.
    await Promise.all([
      copy('sftp-key:from-s3', 'back:from-sftp').then(completed),
      copy('s3:in', 'back:from-s3').then(completed),
      copy('sftp-pw:up', 'back:from-sftp-pw').then(completed),
    ]);

    for (const runId of runs) {
      for (const path of ['', '/events', '/files', '/report']) await asDora('GET', `/v1/runs/${runId}${path}`);
      answers.push(await (await fetch(`${base}/v1/runs/${runId}/report`, { headers: { accept: 'text/csv', authorization: `Bearer ${doraKey}` } })).text());
    }
    for (const name of ['s3', 'sftp-key', 'sftp-pw', 'ftp', 'nc']) {
      const shown = await asDora('GET', `/v1/remotes/${name}`);
      expect(shown.status).toBe(200);
      // A remote is shown without its secrets, not even as a placeholder key.
      for (const field of ['secretAccessKey', 'password', 'privateKey', 'passphrase']) expect(shown.body.config).not.toHaveProperty(field);
      expect((await asDora('GET', `/v1/remotes/${name}/ls`)).status).toBe(200);
    }
    for (const path of ['/v1/remotes', '/v1/jobs', '/v1/runs', '/v1/me']) await asDora('GET', path);
    answers.push(await (await fetch(`${base}/metrics`)).text());

    const secrets: Record<string, string> = {
      's3 secretAccessKey': s3.secretAccessKey,
      'sftp privateKey': sftp.privateKey,
      'sftp password': sftp.password!,
      'ftp password': ftp.password,
      'nextcloud password': ncPassword,
      'wrong s3 secret': badS3Secret,
      'wrong sftp password': badSftpPassword,
      'wrong ftp password': badFtpPassword,
      'wrong nextcloud password': badNcPassword,
      doraKey,
      adminKey: testAdminKey,
    };
    // A key could leak reflowed or in part: each base64 line of its body is searched for alone.
    const keyLines = sftp.privateKey.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('-----'));
    expect(keyLines.length).toBeGreaterThan(2);
    keyLines.forEach((line, i) => { secrets[`sftp privateKey line ${i + 1}`] = line; });

    const histories = await workflowHistories(`127.0.0.1:${ports.temporal}`);
    // The search sees the arguments inside the histories…
    expect(histories.some((h) => h.includes(runs[0]!))).toBe(true);
    await proc.killGroup('SIGTERM');
    await proc.exited;
    const log = proc.output();
    expect(log).toContain('server ready');
    const files = await dataDirTexts(join(dir, 'data'));
    // …and the database's plain text (a remote's settings are not secret).
    for (const setting of [s3.endpoint, sftp.hostKey, nextcloud.davUrl]) expect(files.some(({ text }) => text.includes(setting)), setting).toBe(true);

    expectNoSecretIn({ answers, log, histories, files }, secrets);
  }, 600_000);
});
