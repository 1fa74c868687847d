import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDriveEmulator, type DriveEmulator } from '../fakes/drive/index.js';
import { startDropboxEmulator, type DropboxEmulator } from '../fakes/dropbox/index.js';
import { startJottacloudEmulator, type JottaEmulator } from '../fakes/jottacloud/index.js';
import { startOneDriveEmulator, type OneDriveEmulator } from '../fakes/onedrive/index.js';
import { api, startInProcessKnarr, waitForRun, type InProcessKnarr } from '../support/knarr.js';
import { startVersitygw, type S3TestServer } from '../support/servers/s3.js';
import { describeTree, makeTree, type FileFacts } from '../support/tree.js';
import { nameEncoder } from '../../connectors/shared/encoder.js';
import { onedriveDefinition } from '../../connectors/onedrive/definition.js';
import { QuickXorHash } from '../../connectors/shared/quickxor.js';

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

/** Names OneDrive refuses as they are, which its encoder must carry (and bring back) as rclone does. */
const encoderNames = ['names/colon:star*.txt', 'names/pipe|less<than>.txt', 'names/trailing dot.', 'names/~tilde.txt', 'names/back\\slash.txt', 'names/question?.txt'];

/**
 * The cloud connectors end to end, through the API, each run 1,000+ files with a 1 GiB file:
 *
 *   - Google Drive → Jottacloud, meeting a throttling period and Drive's daily quota (scaled
 *     down: the quota resets when the test says, and the run asks again every 2 s instead of
 *     hourly), and completing; then the next run of the job plans from Drive's change feed and
 *     copies only what changed;
 *   - Jottacloud → OneDrive, with names only the encoder lets OneDrive keep;
 *   - Dropbox → S3 (versitygw).
 */
describe('cloud connectors through the API', () => {
  const id = randomBytes(3).toString('hex');
  const bucket = `knarr-clouds-${id}`;
  const account = `clouds${id}`;
  let dir: string;
  let k: InProcessKnarr;
  let drive: DriveEmulator;
  let jotta: JottaEmulator;
  let onedrive: OneDriveEmulator;
  let dropbox: DropboxEmulator;
  let s3: S3TestServer;
  let source: Map<string, FileFacts>;

  const createRemote = async (name: string, type: string, config: Record<string, unknown>) => {
    const r = await api(k.url, 'POST', '/v1/remotes', { name, type, config });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(JSON.stringify(r.body)).not.toMatch(/access_token|refresh_token/);
  };
  const startJob = async (src: string, dst: string) => {
    const r = await api(k.url, 'POST', '/v1/jobs', { source: src, destination: dst, mode: 'copy', options: { transfers: 4 } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return r.body as { jobId: string; runId: string };
  };
  const completed = async (runId: string) => {
    const run = await waitForRun(k.url, runId, 1_500_000);
    const failed = (await api(k.url, 'GET', `/v1/runs/${runId}/files?state=failed`)).body.data;
    expect(run.state, JSON.stringify({ run, failed })).toBe('completed');
    return run;
  };
  const poll = async (runId: string, until: (run: any) => boolean, what: string) => {
    const deadline = Date.now() + 600_000;
    for (;;) {
      const run = (await api(k.url, 'GET', `/v1/runs/${runId}`)).body;
      if (until(run)) return run;
      if (['completed', 'completed_with_errors', 'failed', 'cancelled'].includes(run.state) || Date.now() > deadline) {
        throw new Error(`waiting for ${what}, the run is ${JSON.stringify(run)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const events = async (runId: string): Promise<{ kind: string; message: string }[]> => (await api(k.url, 'GET', `/v1/runs/${runId}/events?limit=500`)).body.data;
  /** The multiset of (size, md5) of the source tree, which every copy must hold exactly. */
  const contentOf = (facts: Iterable<{ size: number; md5: string }>) => [...facts].map((f) => `${f.size}:${f.md5}`).sort();
  const md5Of = async (file: string) => {
    const h = createHash('md5');
    for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
    return h.digest('hex');
  };

  /**
   * A provider emulator seeded from the local source tree, as another client would have put it
   * there; the paths the provider refuses (it could never hold them) are left out and returned.
   */
  const seedFrom = async (seed: (path: string, data: Buffer, mtimeMs: number) => Promise<unknown>, refused: (err: unknown) => boolean = () => false): Promise<Set<string>> => {
    const left = new Set<string>();
    for (const [path, facts] of source) {
      await seed(path, await readFile(join(dir, 'src', path)), facts.mtimeMs).catch((err: unknown) => {
        if (!refused(err)) throw err;
        left.add(path);
      });
    }
    return left;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-clouds-e2e-'));
    await makeTree(join(dir, 'src'), { files: 1_000, largeBytes: GiB });
    for (const name of encoderNames) {
      await mkdir(join(dir, 'src', 'names'), { recursive: true });
      await writeFile(join(dir, 'src', name), `${name}\n`);
    }
    source = await describeTree(join(dir, 'src'));
    [drive, jotta, onedrive, dropbox, s3] = await Promise.all([startDriveEmulator(), startJottacloudEmulator(), startOneDriveEmulator(), startDropboxEmulator(), startVersitygw()]);
    await s3.createBucket(bucket);
    jotta.addAccount(account);
    k = await startInProcessKnarr({ databaseUrl: inject('databaseUrl'), heartbeatTimeoutMs: 10_000, quotaProbeMs: 2_000 });
    await createRemote(`src-${id}`, 'local', { root: join(dir, 'src') });
    await createRemote(`gd-${id}`, 'drive', drive.remoteConfig());
    await createRemote(`jotta-${id}`, 'jottacloud', { loginToken: jotta.issueLoginToken(account), jfsUrl: jotta.jfsUrl, apiUrl: jotta.apiUrl });
    await createRemote(`od-${id}`, 'onedrive', onedrive.remoteConfig());
    await createRemote(`dbx-${id}`, 'dropbox', dropbox.remoteConfig());
    await createRemote(`s3-${id}`, 's3', s3.remoteConfig(bucket));
  }, 900_000);

  afterAll(async () => {
    await k?.stop();
    await Promise.allSettled([drive?.stop(), jotta?.stop(), onedrive?.stop(), dropbox?.stop(), s3?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('Google Drive → Jottacloud through a throttling period and the daily quota; the next run plans from the change feed', async () => {
    await seedFrom((path, data, mtimeMs) => drive.seed(`photos/${path}`, data, { mtime: mtimeMs }));
    // Drive asks to slow down for the first seconds of the run (its plan's listing), and the day's
    // download allowance (scaled down to 4 MiB) runs out once the copy has begun.
    const job = await startJob(`gd-${id}:photos`, `jotta-${id}:from-drive`);
    drive.faults.throttle(1, { status: 429, retryAfterSec: 1, forMs: 5_000, roles: ['list', 'metadata'] });

    // The throttle: the run waits as told, then goes on.
    const throttled = await poll(job.runId, (r) => r.state === 'throttled', 'the throttle');
    expect(throttled.waiting.reason).not.toContain('quota');
    drive.faults.dailyDownloadQuota(drive.stats.downloadBytes + 4 * MiB);
    // The quota: the run waits (not failed), asking again every 2 s, until the allowance is whole again.
    const capped = await poll(job.runId, (r) => r.state === 'throttled' && /daily quota/.test(r.waiting?.reason ?? ''), 'the daily quota');
    expect(capped.waiting.until).not.toBeNull();
    expect(capped.bytes.done).toBeLessThan(capped.bytes.total);
    await new Promise((r) => setTimeout(r, 5_000));
    expect((await api(k.url, 'GET', `/v1/runs/${job.runId}`)).body.state).toBe('throttled');
    drive.faults.resetQuota();
    drive.faults.dailyDownloadQuota(null);

    const first = await completed(job.runId);
    expect(first.files).toMatchObject({ done: source.size, total: source.size, failed: 0 });
    const kinds = (await events(job.runId)).map((e) => e.kind);
    expect(kinds.filter((kind) => kind === 'throttled').length).toBeGreaterThanOrEqual(2);
    const landed = jotta.files(account).filter((f) => !f.deleted && f.path.includes('/from-drive/'));
    expect(landed).toHaveLength(source.size);
    expect(contentOf(landed.map((f) => ({ size: f.size!, md5: f.md5! })))).toEqual(contentOf(source.values()));

    // The next morning: two photos edited and one added in Drive; the job's next run reads only Drive's changes.
    await drive.seed('photos/tree/d1/sub 1/deeper-1/file-1.dat', 'edited in Drive', { mtime: Date.UTC(2026, 0, 1) });
    await drive.seed('photos/hostile/emoji 🚢 knarr.txt', 'edited too', { mtime: Date.UTC(2026, 0, 1) });
    await drive.seed('photos/new/added.txt', 'new in Drive');
    const listsBefore = drive.stats.listRequests;
    const next = await api(k.url, 'POST', `/v1/jobs/${job.jobId}/runs`, {});
    const second = await completed(next.body.runId);
    expect(second.files).toMatchObject({ done: 3, total: 3 });
    expect((await events(next.body.runId)).map((e) => e.kind)).toContain('plan_from_changes');
    // One folder is new and was listed for its files; no other folder of the tree was.
    expect(drive.stats.listRequests - listsBefore).toBeLessThan(10);
    expect((await jotta.readFile(`/Jotta/Archive/from-drive/new/added.txt`, account))?.toString()).toBe('new in Drive');
  }, 1_500_000);

  it('Jottacloud → OneDrive, names only the encoder lets OneDrive keep arriving as they were', async () => {
    const job = await startJob(`jotta-${id}:from-drive`, `od-${id}:backup`);
    const run = await completed(job.runId);
    // The Drive tree as the first run left it, plus the three changes of the second.
    expect(run.files.failed).toBe(0);
    // Each file checked by OneDrive's own quickXorHash, which knarr computed while sending: nothing read back.
    const rows = (await api(k.url, 'GET', `/v1/runs/${job.runId}/report`, undefined, { headers: { accept: 'application/json' } })).body.rows as { path: string; state: string; srcHash: string | null; dstHash: string | null }[];
    expect(rows).toHaveLength(source.size + 1);
    for (const row of rows) {
      expect(row.state, row.path).toBe('verified');
      expect(row.srcHash, row.path).toMatch(/^quickxor:[0-9a-f]{40}$/);
      expect(row.dstHash, row.path).toBe(row.srcHash);
    }
    const names = nameEncoder(onedriveDefinition.capabilities.nameRules);
    const stored = onedrive.list().filter((f) => !f.isDir && f.path.startsWith('backup/'));
    const decoded = new Map(stored.map((f) => [names.decodePath(f.path.slice('backup/'.length)), f]));
    expect(decoded.size).toBe(source.size + 1);
    for (const name of encoderNames) {
      expect(decoded.has(name), `${name} among ${[...decoded.keys()].filter((p) => p.startsWith('names/')).join(', ')}`).toBe(true);
      // Stored under another name: OneDrive would refuse this one as it is.
      expect(stored.some((f) => f.path === `backup/${name}`), name).toBe(false);
    }
    // Every unchanged file's bytes, by OneDrive's own hash of what it stored.
    for (const [path, facts] of source) {
      if (path === 'tree/d1/sub 1/deeper-1/file-1.dat' || path === 'hostile/emoji 🚢 knarr.txt') continue;
      const f = decoded.get(path);
      expect(f?.size, path).toBe(facts.size);
      const q = new QuickXorHash();
      for await (const chunk of createReadStream(join(dir, 'src', path))) q.update(chunk as Buffer);
      expect(f?.quickXorHash, path).toBe(q.digestBase64());
    }
  }, 1_500_000);

  it('Dropbox → S3', async () => {
    // Dropbox refuses some names the local tree has (a backslash, a trailing dot): no Dropbox account holds such files.
    const refused = await seedFrom((path, data, mtimeMs) => dropbox.seed(`/camera/${path}`, data, mtimeMs), (err) => /malformed_path|disallowed_name/.test(String(err)));
    expect(refused.size).toBeLessThan(5);
    const expected = new Map([...source].filter(([path]) => !refused.has(path)));
    const job = await startJob(`dbx-${id}:camera`, `s3-${id}:mirror`);
    const run = await completed(job.runId);
    expect(run.files).toMatchObject({ done: expected.size, total: expected.size, failed: 0 });
    // versitygw's posix backend keeps each object as a file under <data>/<bucket>/<key>.
    const onS3 = await describeTree(join(s3.dataDir, bucket, 'mirror'));
    expect([...onS3.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [path, facts] of expected) expect({ size: onS3.get(path)!.size, md5: onS3.get(path)!.md5 }, path).toEqual({ size: facts.size, md5: facts.md5 });
    expect((await stat(join(s3.dataDir, bucket, 'mirror', 'big', 'large file.bin'))).size).toBe(GiB);
    expect(await md5Of(join(s3.dataDir, bucket, 'mirror', 'big', 'large file.bin'))).toBe(source.get('big/large file.bin')!.md5);
  }, 1_500_000);
});
