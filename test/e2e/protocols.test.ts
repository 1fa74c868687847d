import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startJottacloudEmulator, type JottaEmulator } from '../fakes/jottacloud/index.js';
import { startNextcloudEmulator, type NextcloudEmulator } from '../fakes/nextcloud/index.js';
import { api, startInProcessKnarr, waitForRun, type InProcessKnarr } from '../support/knarr.js';
import { startVersitygw, type S3TestServer } from '../support/servers/s3.js';
import { startSshd, type SftpTestServer } from '../support/servers/sftp.js';
import { startPureFtpd, type FtpTestServer } from '../support/servers/ftp.js';
import { describeTree, expectSameTree, makeTree, type FileFacts } from '../support/tree.js';
import { nameEncoder } from '../../connectors/shared/encoder.js';
import { vendorPresets } from '../../connectors/webdav/vendors.js';
import { ftpNames } from '../../connectors/ftp/paths.js';

const GiB = 1024 * 1024 * 1024;

/**
 * The protocol connectors end to end, the way a user runs them: through the API, on real servers
 * (versitygw, OpenSSH, pure-ftpd) and the Jottacloud and Nextcloud emulators, each run 1,000+
 * files with a 1 GiB file among them, checked on the servers' own disks:
 *
 *   - Jottacloud → S3, then a second run of the same job that copies only what changed;
 *   - S3 → SFTP;
 *   - local → WebDAV (Nextcloud dialect) → FTP.
 */
describe('protocol connectors through the API', () => {
  const id = randomBytes(3).toString('hex');
  const bucket = `knarr-e2e-${id}`;
  let dir: string;
  let k: InProcessKnarr;
  let jotta: JottaEmulator;
  let s3: S3TestServer;
  let sftp: SftpTestServer;
  let ftp: FtpTestServer;
  let nextcloud: NextcloudEmulator;

  const createRemote = async (name: string, type: string, config: Record<string, unknown>) => {
    const r = await api(k.url, 'POST', '/v1/remotes', { name, type, config });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    // The API never answers with a secret it was given.
    for (const key of ['secretAccessKey', 'password', 'privateKey', 'loginToken']) {
      const value = config[key];
      if (typeof value === 'string') expect(JSON.stringify(r.body)).not.toContain(value);
    }
  };
  const startJob = async (source: string, destination: string) => {
    const r = await api(k.url, 'POST', '/v1/jobs', { source, destination, mode: 'copy', options: { transfers: 4 } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return r.body as { jobId: string; runId: string };
  };
  const completed = async (runId: string) => {
    const run = await waitForRun(k.url, runId, 1_500_000);
    const failed = (await api(k.url, 'GET', `/v1/runs/${runId}/files?state=failed`)).body.data;
    expect(run.state, JSON.stringify({ run, failed })).toBe('completed');
    return run;
  };
  /** The run's report rows: what was done to each file and with which hashes. */
  const report = async (runId: string): Promise<{ path: string; state: string; srcHash: string | null; dstHash: string | null }[]> => {
    const r = await api(k.url, 'GET', `/v1/runs/${runId}/report`, undefined, { headers: { accept: 'application/json' } });
    expect(r.status).toBe(200);
    return r.body.rows;
  };
  /** Every copied file verified, by the hash both sides share when they share one. */
  const expectVerified = async (runId: string, sharedHash: string | null, files: number) => {
    const rows = (await report(runId)).filter((row) => row.state !== 'skipped');
    expect(rows).toHaveLength(files);
    for (const row of rows) {
      expect(row.state, row.path).toBe('verified');
      if (sharedHash) {
        expect(row.srcHash, row.path).toMatch(new RegExp(`^${sharedHash}:[0-9a-f]+$`));
        expect(row.dstHash, row.path).toBe(row.srcHash);
      }
    }
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-protocols-e2e-'));
    await makeTree(join(dir, 'src'), { files: 1_000, largeBytes: GiB });
    [jotta, s3, sftp, ftp, nextcloud] = await Promise.all([
      startJottacloudEmulator(), startVersitygw(), startSshd(), startPureFtpd(), startNextcloudEmulator(),
    ]);
    await s3.createBucket(bucket);
    k = await startInProcessKnarr({ databaseUrl: inject('databaseUrl'), heartbeatTimeoutMs: 10_000 });
    const account = `e2e${id}`;
    jotta.addAccount(account);
    await createRemote(`src-${id}`, 'local', { root: join(dir, 'src') });
    await createRemote(`jotta-${id}`, 'jottacloud', { loginToken: jotta.issueLoginToken(account), jfsUrl: jotta.jfsUrl, apiUrl: jotta.apiUrl });
    await createRemote(`s3-${id}`, 's3', s3.remoteConfig(bucket));
    await createRemote(`sftp-${id}`, 'sftp', sftp.remoteConfig());
    await createRemote(`ftp-${id}`, 'ftp', ftp.remoteConfig());
    await createRemote(`nc-${id}`, 'webdav', nextcloud.remoteConfig());
  }, 900_000);

  afterAll(async () => {
    await k?.stop();
    await Promise.allSettled([jotta?.stop(), s3?.stop(), sftp?.stop(), ftp?.stop(), nextcloud?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let source: Map<string, FileFacts>;

  it('Jottacloud → S3, MD5-verified; a second run of the job copies only what changed', async () => {
    source = await describeTree(join(dir, 'src'));
    expect(source.size).toBeGreaterThanOrEqual(1_000);
    await completed((await startJob(`src-${id}:`, `jotta-${id}:photos`)).runId);

    const job = await startJob(`jotta-${id}:photos`, `s3-${id}:mirror`);
    const first = await completed(job.runId);
    expect(first.files).toMatchObject({ done: source.size, total: source.size, failed: 0 });
    await expectVerified(job.runId, 'md5', source.size);
    // versitygw's posix backend keeps each object as a file under <data>/<bucket>/<key>.
    const onS3 = await describeTree(join(s3.dataDir, bucket, 'mirror'));
    expect([...onS3.keys()].sort()).toEqual([...source.keys()].sort());
    for (const [path, facts] of source) expect({ size: onS3.get(path)!.size, md5: onS3.get(path)!.md5 }, path).toEqual({ size: facts.size, md5: facts.md5 });

    // Two files change and one is new at the source; the nightly run of the same job sends only those.
    const changed = ['tree/d1/sub 1/deeper-1/file-1.dat', 'hostile/emoji 🚢 knarr.txt'];
    for (const path of changed) {
      await writeFile(join(dir, 'src', path), randomBytes(777));
      await utimes(join(dir, 'src', path), new Date(), new Date(Date.UTC(2026, 5, 1)));
    }
    await writeFile(join(dir, 'src', 'tree/new file.txt'), 'new since last night');
    await completed((await startJob(`src-${id}:`, `jotta-${id}:photos`)).runId);
    source = await describeTree(join(dir, 'src'));

    const again = await api(k.url, 'POST', `/v1/jobs/${job.jobId}/runs`, {});
    expect(again.status, JSON.stringify(again.body)).toBe(202);
    const second = await completed(again.body.runId);
    expect(second.files).toMatchObject({ done: 3, total: 3, failed: 0, skipped: source.size - 3 });
    expect(second.bytes.sent).toBeLessThan(1024 * 1024);
    await expectVerified(again.body.runId, 'md5', 3);
    const after = await describeTree(join(s3.dataDir, bucket, 'mirror'));
    for (const [path, facts] of source) expect(after.get(path)?.md5, path).toBe(facts.md5);
  }, 1_800_000);

  it('S3 → SFTP: the same tree lands on the SSH server with sizes, MD5s and modification times', async () => {
    const { runId } = await startJob(`s3-${id}:mirror`, `sftp-${id}:copy`);
    const run = await completed(runId);
    expect(run.files).toMatchObject({ done: source.size, failed: 0 });
    await expectVerified(runId, 'md5', source.size);
    // Jottacloud keeps whole seconds, and so does SFTP; S3 carries the time in x-amz-meta-mtime.
    await expectSameTree(join(dir, 'src'), join(sftp.dataDir, 'copy'), 1000);
  }, 1_800_000);

  it('local → WebDAV (Nextcloud) → FTP: both hops verified, the tree intact on the FTP server', async () => {
    const up = await startJob(`src-${id}:`, `nc-${id}:backup`);
    const first = await completed(up.runId);
    expect(first.files).toMatchObject({ done: source.size, failed: 0 });
    await expectVerified(up.runId, null, source.size);
    // Nextcloud refuses control characters and '\\': they are stored as rclone's look-alikes.
    const stored = nameEncoder(vendorPresets.nextcloud.nameRules);
    for (const [path, facts] of source) {
      const onServer = `backup/${stored.encodePath(path)}`;
      expect(nextcloud.file(onServer)?.size, path).toBe(facts.size);
      expect(await nextcloud.fileHash(onServer, 'md5'), path).toBe(facts.md5);
    }
    const large = nextcloud.file('backup/big/large file.bin')!;
    expect(large.checksums.join(' ')).toMatch(/MD5:|SHA1:/i);

    const down = await startJob(`nc-${id}:backup`, `ftp-${id}:from-nextcloud`);
    const second = await completed(down.runId);
    expect(second.files).toMatchObject({ done: source.size, failed: 0 });
    await expectVerified(down.runId, null, source.size);
    // FTP commands cannot carry control characters: a tab is stored as rclone's look-alike '␉'.
    const onFtp = await describeTree(join(ftp.dataDir, 'from-nextcloud'));
    const decoded = new Map([...onFtp].map(([path, facts]) => [ftpNames.decodePath(path), facts]));
    expect([...decoded.keys()].sort()).toEqual([...source.keys()].sort());
    for (const [path, facts] of source) {
      const got = decoded.get(path)!;
      expect({ size: got.size, md5: got.md5 }, path).toEqual({ size: facts.size, md5: facts.md5 });
      expect(Math.abs(got.mtimeMs - facts.mtimeMs), `${path} mtime`).toBeLessThanOrEqual(1000);
    }
  }, 1_800_000);
});
