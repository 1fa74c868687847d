import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runs } from '../../db/schema.js';
import { startJottacloudEmulator, type JottaEmulator } from '../fakes/jottacloud/index.js';
import { api, startInProcessKnarr, waitForRun, type InProcessKnarr } from '../support/knarr.js';

const kib = 1024;
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

/**
 * Waiting is a state, never a failure (issue 7): a local tree copied to the Jottacloud emulator
 * meets a throttle, a revoked session and a full account, through the API on a real worker,
 * PostgreSQL and the Temporal dev server. Each run is paced by its bandwidth limit (64 KiB/s for
 * 768 KiB), so the faults land mid-run on any machine; every wait is polled with a generous timeout.
 */
describe('waiting states on the Jottacloud emulator', () => {
  let k: InProcessKnarr;
  let emu: JottaEmulator;
  let dir: string;
  const suffix = Math.random().toString(36).slice(2, 8);
  const files = new Map<string, Buffer>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-waiting-'));
    for (let i = 0; i < 24; i++) {
      const rel = `d${i % 3}/f-${i}.bin`;
      const data = randomBytes(32 * kib);
      files.set(rel, data);
      await mkdir(join(dir, 'src', `d${i % 3}`), { recursive: true });
      await writeFile(join(dir, 'src', rel), data);
    }
    emu = await startJottacloudEmulator();
    k = await startInProcessKnarr({ databaseUrl: inject('databaseUrl') });
    const src = await api(k.url, 'POST', '/v1/remotes', { name: `src-${suffix}`, type: 'local', config: { root: join(dir, 'src') } });
    expect(src.status, JSON.stringify(src.body)).toBe(201);
  });
  afterAll(async () => {
    await k?.stop();
    await emu?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const fault = async (body: Record<string, unknown>) => {
    const res = await fetch(`${emu.url}/__emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
  };
  /** A Jottacloud remote on an account of its own, so one test's faults never touch another's. */
  const jottaRemote = async (name: string) => {
    const account = emu.addAccount(`${name.replace(/-/g, '')}${suffix}`);
    const r = await api(k.url, 'POST', '/v1/remotes', { name, type: 'jottacloud', config: { loginToken: emu.issueLoginToken(account), jfsUrl: emu.jfsUrl, apiUrl: emu.apiUrl } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return account;
  };
  const start = async (remote: string, options: Record<string, unknown> = {}) => {
    const r = await api(k.url, 'POST', '/v1/jobs', {
      source: `src-${suffix}:`, destination: `${remote}:out`, mode: 'copy',
      options: { bwlimit: 64 * kib, batchFiles: 8, transfers: 2, ...options },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return r.body.runId as string;
  };
  const poll = async (runId: string, until: (run: any) => boolean, what: string, timeoutMs = 120_000) => {
    const seen = new Set<string>();
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
      const run = (await api(k.url, 'GET', `/v1/runs/${runId}`)).body;
      seen.add(run.state);
      if (until(run)) return run;
      if (['completed', 'completed_with_errors', 'failed', 'cancelled'].includes(run.state)) throw new Error(`the run ended (${JSON.stringify(run)}) before ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what} (states seen: ${[...seen].join(', ')})`);
  };
  const events = async (runId: string) => {
    const list = (await api(k.url, 'GET', `/v1/runs/${runId}/events`)).body.data.reverse() as { kind: string; at: string; message: string; data: any }[];
    if (process.env.KNARR_TEST_VERBOSE) console.log(list.map((e) => `${e.kind}: ${e.message}`).join('\n'));
    return list;
  };
  /** Every source file on the account exactly once: one path each, the right bytes, one completed revision. */
  const expectEveryFileOnce = (account: string) => {
    const stored = emu.files(account).filter((f) => !f.deleted && f.path.startsWith('/Jotta/Archive/out/'));
    expect(stored.map((f) => f.path.slice('/Jotta/Archive/out/'.length)).sort()).toEqual([...files.keys()].sort());
    for (const f of stored) {
      expect(f.md5, f.path).toBe(md5(files.get(f.path.slice('/Jotta/Archive/out/'.length))!));
      expect(f.revisions.filter((r) => r.state === 'COMPLETED'), f.path).toHaveLength(1);
    }
  };
  const runsOfJob = async (runId: string) => {
    const [row] = await k.database.db.select({ jobId: runs.jobId }).from(runs).where(eq(runs.id, runId));
    return (await k.database.db.select({ id: runs.id }).from(runs).where(eq(runs.jobId, row.jobId))).length;
  };

  it('a throttled run reads throttled with until and the provider\'s words, goes back to copying, and completes', async () => {
    const account = await jottaRemote(`jotta-t-${suffix}`);
    // Six uploads in a row refused with 429 and Retry-After 2 s: about twelve seconds of throttle.
    await fault({ throttle: { count: 6, status: 429, retryAfterSec: 2, roles: ['allocate'] } });
    const runId = await start(`jotta-t-${suffix}`, { bwlimit: 256 * kib });
    const throttled = await poll(runId, (r) => r.state === 'throttled', 'the run to read throttled');
    expect(throttled.waiting).toMatchObject({ remote: `jotta-t-${suffix}` });
    expect(throttled.waiting.reason).toMatch(/429.*too many requests/i);
    const until = Date.parse(throttled.waiting.until);
    expect(until).toBeGreaterThan(Date.now() - 5_000);
    expect(until).toBeLessThan(Date.now() + 10_000);
    const working = await poll(runId, (r) => r.state === 'copying' || r.state === 'verifying', 'the run to go back to work');
    expect(working.waiting).toBeNull();

    const run = await waitForRun(k.url, runId, 180_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    expect(run.waiting).toBeNull();
    expect(run.files).toMatchObject({ done: files.size, total: files.size, failed: 0 });
    expectEveryFileOnce(account);
    const log = await events(runId);
    const throttles = log.filter((e) => e.kind === 'throttled');
    expect(throttles.length).toBeGreaterThanOrEqual(1);
    expect(throttles[0].data).toMatchObject({ remote: `jotta-t-${suffix}`, retryAfterMs: 2000 });
    expect(throttles[0].message).toMatch(/until \d{4}-\d\d-\d\dT/);
    expect(log.some((e) => e.kind === 'failed' || e.kind === 'batch_failed')).toBe(false);
    // The ledger keeps, per file, the attempts a throttle stopped.
    const rows = (await api(k.url, 'GET', `/v1/runs/${runId}/report`)).body.rows as { throttles: number; attempts: number }[];
    expect(rows.reduce((n, r) => n + r.throttles, 0)).toBeGreaterThanOrEqual(1);
    expect(rows.every((r) => r.throttles <= r.attempts)).toBe(true);
    // And an operator's monitoring counts them, by provider.
    const metrics = await (await fetch(`${k.url}/metrics`)).text();
    const value = (series: string) => Number(metrics.split('\n').find((l) => l.startsWith(`${series} `))?.split(' ')[1] ?? NaN);
    expect(value('knarr_throttle_events_total{provider="jottacloud"}')).toBeGreaterThanOrEqual(1);
    expect(value('knarr_retries_total{provider="jottacloud",kind="throttled"}')).toBeGreaterThanOrEqual(1);
  }, 240_000);

  it('a revoked token: the run reads needs_reconnect, holds no worker, and new credentials make it go on with nothing copied twice', async () => {
    const name = `jotta-r-${suffix}`;
    const account = await jottaRemote(name);
    const runId = await start(name);
    await poll(runId, (r) => r.state === 'copying' && r.bytes.done >= 128 * kib, 'some files copied');
    await fault({ revokeSessions: account });
    const waiting = await poll(runId, (r) => r.state === 'needs_reconnect', 'the run to read needs_reconnect');
    expect(waiting.waiting).toMatchObject({ remote: name, until: null });
    expect(waiting.waiting.reason).toContain(`create a new Personal Login Token in Jottacloud under Account → Security and PUT it to /v1/remotes/${name}/credentials`);
    expect(waiting.bytes.done).toBeLessThan(waiting.bytes.total);

    // It waits holding no worker, and stays there.
    const handle = k.client.workflow.getHandle(`run-${runId}`);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await handle.describe()).raw.pendingActivities ?? []).toHaveLength(0);
    expect((await api(k.url, 'GET', `/v1/runs/${runId}`)).body.state).toBe('needs_reconnect');

    const put = await api(k.url, 'PUT', `/v1/remotes/${name}/credentials`, { loginToken: emu.issueLoginToken(account) });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const run = await waitForRun(k.url, runId, 180_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    expect(run.waiting).toBeNull();
    expect(run.files).toMatchObject({ done: files.size, total: files.size, failed: 0 });
    expectEveryFileOnce(account);
    expect(await runsOfJob(runId)).toBe(1);
    const kinds = (await events(runId)).map((e) => e.kind);
    expect(kinds.indexOf('needs_reconnect')).toBeGreaterThan(-1);
    expect(kinds.indexOf('reconnected')).toBeGreaterThan(kinds.indexOf('needs_reconnect'));
    expect(kinds.indexOf('finished')).toBeGreaterThan(kinds.indexOf('reconnected'));
  }, 240_000);

  it('a full destination: the run reads needs_attention, keeps what it copied, goes back there on a resume while still full, and completes once space is freed', async () => {
    const name = `jotta-q-${suffix}`;
    const account = await jottaRemote(name);
    const runId = await start(name);
    await poll(runId, (r) => r.state === 'copying' && r.bytes.done >= 128 * kib, 'some files copied');
    await fault({ quotaFull: { account, full: true } });
    const full = await poll(runId, (r) => r.state === 'needs_attention', 'the run to read needs_attention');
    expect(full.waiting).toMatchObject({ remote: name, until: null });
    expect(full.waiting.reason).toContain(`the destination "${name}" is full: free space, then POST /v1/runs/${runId}/resume`);
    const kept = emu.files(account).filter((f) => !f.deleted && f.path.startsWith('/Jotta/Archive/out/')).length;
    expect(kept).toBeGreaterThan(0);
    expect(full.files.done).toBeGreaterThan(0);

    // Resumed while still full: it tries, and waits again.
    expect((await api(k.url, 'POST', `/v1/runs/${runId}/resume`)).status).toBe(202);
    for (let i = 0; i < 600 && (await events(runId)).filter((e) => e.kind === 'needs_attention').length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await events(runId)).filter((e) => e.kind === 'needs_attention')).toHaveLength(2);
    const again = await poll(runId, (r) => r.state === 'needs_attention', 'the run to read needs_attention again');
    expect(again.files.done).toBeGreaterThanOrEqual(full.files.done);

    await fault({ quotaFull: { account, full: false } });
    expect((await api(k.url, 'POST', `/v1/runs/${runId}/resume`)).status).toBe(202);
    const run = await waitForRun(k.url, runId, 180_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    expect(run.files).toMatchObject({ done: files.size, total: files.size, failed: 0 });
    expectEveryFileOnce(account);
    expect(await runsOfJob(runId)).toBe(1);
    const kinds = (await events(runId)).map((e) => e.kind);
    expect(kinds.lastIndexOf('resumed')).toBeGreaterThan(kinds.lastIndexOf('needs_attention'));
    expect(kinds).not.toContain('failed');
  }, 240_000);

  it('a pause while planning stops the listing and holds no worker; resumed, the plan goes on and the run completes', async () => {
    const name = `jotta-p-${suffix}`;
    const account = await jottaRemote(name);
    // The destination's listing hangs in the emulator until released: planning is certainly under way.
    await fault({ holdListings: { account, hold: true } });
    const runId = await start(name);
    await poll(runId, (r) => r.state === 'planning' && emu.faults.stats.listingsHeld > 0, 'the plan to be listing');
    expect((await api(k.url, 'POST', `/v1/runs/${runId}/pause`)).status).toBe(202);
    const paused = await poll(runId, (r) => r.state === 'paused', 'the run to read paused');
    expect(paused.phase).toBe('plan');
    // The listing was given up (its request closed), and nothing holds a worker.
    for (let i = 0; i < 600 && emu.faults.stats.listingsAbandoned === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(emu.faults.stats.listingsAbandoned).toBeGreaterThan(0);
    const handle = k.client.workflow.getHandle(`run-${runId}`);
    for (let i = 0; i < 300 && ((await handle.describe()).raw.pendingActivities ?? []).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await handle.describe()).raw.pendingActivities ?? []).toHaveLength(0);
    expect(emu.files(account).filter((f) => f.path.startsWith('/Jotta/Archive/out/'))).toHaveLength(0);

    await fault({ holdListings: { account, hold: false } });
    expect((await api(k.url, 'POST', `/v1/runs/${runId}/resume`)).status).toBe(202);
    const run = await waitForRun(k.url, runId, 180_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    expect(run.files).toMatchObject({ done: files.size, total: files.size, failed: 0 });
    expectEveryFileOnce(account);
    const kinds = (await events(runId)).map((e) => e.kind);
    // Paused, then resumed, both before the plan was made.
    expect(kinds.indexOf('paused')).toBeGreaterThan(-1);
    expect(kinds.indexOf('resumed')).toBeGreaterThan(kinds.indexOf('paused'));
    expect(kinds.indexOf('plan')).toBeGreaterThan(kinds.indexOf('resumed'));
  }, 240_000);
});
