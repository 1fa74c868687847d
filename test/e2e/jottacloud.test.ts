import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startJottacloudEmulator, type JottaEmulator } from '../fakes/jottacloud/index.js';
import { api, startInProcessKnarr, waitForRun, type InProcessKnarr } from '../support/knarr.js';
import { jottaNames } from '../../connectors/jottacloud/paths.js';
import { describeTree, expectSameTree, makeTree } from '../support/tree.js';

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

/**
 * Jottacloud end to end through the API, against the emulator, while it throttles (with and
 * without Retry-After), cuts connections in the middle of the 1 GiB file and expires access
 * tokens every few seconds.
 */
describe('jottacloud through the API', () => {
  let emu: JottaEmulator;
  let k: InProcessKnarr;
  let dir: string;
  const id = randomBytes(3).toString('hex');
  const accountA = `alice${id}`;
  const accountB = `bob${id}`;

  const createJotta = async (name: string, account: string) => {
    const r = await api(k.url, 'POST', '/v1/remotes', {
      name, type: 'jottacloud',
      config: { loginToken: emu.issueLoginToken(account), jfsUrl: emu.jfsUrl, apiUrl: emu.apiUrl },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(JSON.stringify(r.body)).not.toMatch(/loginToken|accessToken|refreshToken/);
    return r.body;
  };
  const startJob = async (source: string, destination: string, options: Record<string, unknown> = {}) => {
    const r = await api(k.url, 'POST', '/v1/jobs', { source, destination, mode: 'copy', options: { transfers: 2, ...options } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return r.body.runId as string;
  };
  /**
   * Every current file of an account under `prefix`, by path below it, with the names as the user
   * knows them: Jottacloud stores `?` `%` `"`... as rclone's full-width substitutes (the encoder).
   */
  const jottaFiles = (account: string, prefix: string) =>
    new Map(emu.files(emu.addAccount(account))
      .filter((f) => !f.deleted && f.path.startsWith(`/Jotta/Archive/${prefix}/`))
      .map((f) => [jottaNames.decodePath(f.path.slice(`/Jotta/Archive/${prefix}/`.length)), f]));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-jotta-e2e-'));
    await makeTree(join(dir, 'src'), { files: 1_000, largeBytes: GiB });
    await mkdir(join(dir, 'back'));
    emu = await startJottacloudEmulator();
    emu.addAccount(accountA);
    emu.addAccount(accountB);
    emu.faults.setAccessTokenLifetime(3);
    // A short heartbeat timeout: a slow upload must still never time out.
    k = await startInProcessKnarr({ databaseUrl: inject('databaseUrl'), heartbeatTimeoutMs: 3000 });
    expect((await api(k.url, 'POST', '/v1/remotes', { name: `src-${id}`, type: 'local', config: { root: join(dir, 'src') } })).status).toBe(201);
    expect((await api(k.url, 'POST', '/v1/remotes', { name: `back-${id}`, type: 'local', config: { root: join(dir, 'back') } })).status).toBe(201);
    await createJotta(`jotta-${id}`, accountA);
    await createJotta(`jotta2-${id}`, accountB);
  }, 600_000);
  afterAll(async () => {
    await k?.stop();
    await emu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('local → jottacloud: every file arrives once, MD5-verified, through throttles, cuts and expiring tokens', async () => {
    // The 1 GiB file is the first upload (large files go first): cut it at 300 MiB, and again.
    const runId = await startJob(`src-${id}:`, `jotta-${id}:backup`);
    emu.faults.cutUploadAfter(300 * MiB, 2);
    emu.faults.throttle(3, { retryAfterSec: 1, roles: ['jfs', 'allocate'] });
    // Once the large file is through, throttle again without Retry-After and cut small uploads.
    await waitForRun(k.url, runId, 900_000, (r) => r.bytes.done >= GiB || ['completed', 'completed_with_errors', 'failed', 'cancelled'].includes(r.state));
    emu.faults.throttle(4, { status: 429 });
    emu.faults.cutUploadAfter(1_000, 3);
    const run = await waitForRun(k.url, runId, 900_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');

    const src = await describeTree(join(dir, 'src'));
    const remote = jottaFiles(accountA, 'backup');
    expect([...remote.keys()].sort()).toEqual([...src.keys()].sort());
    for (const [path, facts] of src) {
      const f = remote.get(path)!;
      expect({ size: f.size, md5: f.md5 }, path).toEqual({ size: facts.size, md5: facts.md5 });
      // No duplicate revisions: a resumed or retried upload never made a second version.
      expect(f.revisions.length, `${path} revisions`).toBe(1);
      expect(f.latestRevision, `${path} pending revision`).toBeUndefined();
    }
    expect(run.files).toMatchObject({ done: src.size, total: src.size, failed: 0 });

    const kinds = (await api(k.url, 'GET', `/v1/runs/${runId}/events`)).body.data.map((e: { kind: string }) => e.kind);
    expect(kinds).toContain('hash_prepass');
    expect(kinds).toContain('resume');
    // The faults really happened: 7 throttled requests, the large file cut twice, small uploads cut.
    expect(emu.faults.stats.throttled).toBeGreaterThanOrEqual(7);
    expect(emu.faults.stats.uploadCuts).toBeGreaterThanOrEqual(3);
    expect(emu.sessions(emu.addAccount(accountA)).every((s) => !s.revoked)).toBe(true);
    // Access tokens lived 3 s: they were refreshed many times, and never with a reused refresh token.
    expect(emu.authStats().refreshGrants).toBeGreaterThan(3);
    expect(emu.authStats().reuseDetected).toBe(0);
  }, 1_200_000);

  it('jottacloud → local: the tree comes back with the same bytes, through a cut download', async () => {
    const runId = await startJob(`jotta-${id}:backup`, `back-${id}:`);
    emu.faults.cutDownloadAfter(200 * MiB, 1);
    emu.faults.throttle(3, { retryAfterSec: 1, roles: ['download'] });
    const run = await waitForRun(k.url, runId, 900_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    // Jottacloud keeps modification times in whole seconds.
    await expectSameTree(join(dir, 'src'), join(dir, 'back'), 1000);
  }, 1_200_000);

  it('jottacloud → jottacloud between two accounts', async () => {
    const runId = await startJob(`jotta-${id}:backup`, `jotta2-${id}:from-alice`);
    const run = await waitForRun(k.url, runId, 900_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    const a = jottaFiles(accountA, 'backup');
    const b = jottaFiles(accountB, 'from-alice');
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [path, f] of a) expect({ size: b.get(path)!.size, md5: b.get(path)!.md5 }, path).toEqual({ size: f.size, md5: f.md5 });
    // Nothing changed since: a second run finds everything there and sends nothing.
    const again = await waitForRun(k.url, await startJob(`jotta-${id}:backup`, `jotta2-${id}:from-alice`), 600_000);
    expect(again).toMatchObject({ state: 'completed', files: { total: 0, skipped: a.size } });
  }, 1_200_000);

  it('sends a file again when Jottacloud reports a different MD5 than was sent', async () => {
    await mkdir(join(dir, 'small'));
    for (let i = 0; i < 5; i++) await writeFile(join(dir, `small/f${i}.bin`), randomBytes(50_000 + i));
    expect((await api(k.url, 'POST', '/v1/remotes', { name: `small-${id}`, type: 'local', config: { root: join(dir, 'small') } })).status).toBe(201);
    const runId = await startJob(`small-${id}:`, `jotta-${id}:small`);
    emu.faults.corruptMd5('md5', 2);
    const run = await waitForRun(k.url, runId);
    const failures = (await api(k.url, 'GET', `/v1/runs/${runId}/files?state=failed`)).body.data;
    expect(run.state, JSON.stringify(failures)).toBe('completed');
    expect(emu.faults.stats.corrupted).toBe(2);
    const src = await describeTree(join(dir, 'small'));
    const remote = jottaFiles(accountA, 'small');
    for (const [path, facts] of src) {
      expect(remote.get(path)?.md5, path).toBe(facts.md5);
      expect(await emu.storedMd5(`Jotta/Archive/small/${path}`, emu.addAccount(accountA)), path).toBe(facts.md5);
    }
    const kinds = (await api(k.url, 'GET', `/v1/runs/${runId}/events`)).body.data.map((e: { kind: string }) => e.kind);
    expect(kinds.filter((kind: string) => kind === 'corrupt_retry')).toHaveLength(2);
  });

  it('counts files Jottacloud already holds elsewhere in the account as deduplicated: nothing is sent', async () => {
    const logStart = emu.log.length;
    const run = await waitForRun(k.url, await startJob(`small-${id}:`, `jotta-${id}:small-again`));
    expect(run).toMatchObject({ state: 'completed', files: { done: 5, total: 5, deduplicated: 5 } });
    expect(emu.log.slice(logStart).filter((e) => e.role === 'upload')).toHaveLength(0);
    expect(jottaFiles(accountA, 'small-again').size).toBe(5);
  });

  it('a throttled upload crawling far slower than the heartbeat timeout finishes in one attempt', async () => {
    await mkdir(join(dir, 'slow'));
    await writeFile(join(dir, 'slow/slow.bin'), randomBytes(3 * MiB));
    expect((await api(k.url, 'POST', '/v1/remotes', { name: `slow-${id}`, type: 'local', config: { root: join(dir, 'slow') } })).status).toBe(201);
    emu.faults.capUploadBandwidth(256 * 1024);
    const logStart = emu.log.length;
    try {
      const run = await waitForRun(k.url, await startJob(`slow-${id}:`, `jotta-${id}:slow`), 300_000);
      expect(run.state, JSON.stringify(run)).toBe('completed');
    } finally {
      emu.faults.capUploadBandwidth(null);
    }
    // About 12 s of upload against a 3 s heartbeat timeout: one upload request, never cut or retried.
    const uploads = emu.log.slice(logStart).filter((e) => e.role === 'upload');
    expect(uploads).toHaveLength(1);
    expect(uploads[0]).toMatchObject({ status: 200, bytes: 3 * MiB });
  }, 600_000);

  it('reports source files whose names collide on case-insensitive Jottacloud instead of overwriting one', async () => {
    await mkdir(join(dir, 'cases'));
    await writeFile(join(dir, 'cases/Photo.JPG'), 'upper');
    await writeFile(join(dir, 'cases/photo.jpg'), 'lower');
    await writeFile(join(dir, 'cases/other.txt'), 'fine');
    expect((await api(k.url, 'POST', '/v1/remotes', { name: `cases-${id}`, type: 'local', config: { root: join(dir, 'cases') } })).status).toBe(201);
    const runId = await startJob(`cases-${id}:`, `jotta-${id}:cases`);
    const run = await waitForRun(k.url, runId);
    expect(run.state).toBe('completed_with_errors');
    expect(run.files).toMatchObject({ done: 1, failed: 2 });
    const failed = (await api(k.url, 'GET', `/v1/runs/${runId}/files?state=failed`)).body.data;
    expect(failed.map((f: { path: string }) => f.path).sort()).toEqual(['Photo.JPG', 'photo.jpg']);
    for (const f of failed) expect(f.error).toMatch(/differ only in case/);
    expect([...jottaFiles(accountA, 'cases').keys()]).toEqual(['other.txt']);
  });

  it('a revoked token makes the run wait in needs_reconnect, naming the remote and what to do; new credentials let the same run finish', async () => {
    const account = `carol${id}`;
    emu.addAccount(account);
    await createJotta(`jotta3-${id}`, account);
    const runId = await startJob(`src-${id}:tree/d1`, `jotta3-${id}:x`);
    emu.faults.revokeSessions(emu.addAccount(account));
    const waiting = await waitForRun(k.url, runId, 300_000, (r) => r.state === 'needs_reconnect' || ['completed', 'completed_with_errors', 'failed', 'cancelled'].includes(r.state));
    expect(waiting.state, JSON.stringify(waiting)).toBe('needs_reconnect');
    expect(waiting.waiting.remote).toBe(`jotta3-${id}`);
    expect(waiting.waiting.reason).toMatch(/Personal Login Token/);
    expect(waiting.waiting.reason).toMatch(/Account → Security/);

    // Reconnecting: a wrong token is refused and the remote keeps what it had; a new one works.
    const bad = await api(k.url, 'PUT', `/v1/remotes/jotta3-${id}/credentials`, { loginToken: 'x'.repeat(40) });
    expect(bad.status, JSON.stringify(bad.body)).toBe(422);
    const good = await api(k.url, 'PUT', `/v1/remotes/jotta3-${id}/credentials`, { loginToken: emu.issueLoginToken(emu.addAccount(account)) });
    expect(good.status, JSON.stringify(good.body)).toBe(200);
    const run = await waitForRun(k.url, runId, 300_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');
  }, 600_000);
});
