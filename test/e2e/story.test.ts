import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { jottaNames } from '../../connectors/jottacloud/paths.js';
import { startJottacloudEmulator, type JottaEmulator } from '../fakes/jottacloud/index.js';
import { api, waitForRun } from '../support/knarr.js';
import { freePort } from '../support/ports.js';
import { ensureStopped, spawnKnarr, type KnarrProcess } from '../support/processes.js';
import { describeTree, makeTree } from '../support/tree.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** The larger files, last in the plan's path order (after makeTree's `tree/`). */
const bigFiles = [1, 2, 3, 4].map((n) => ({ path: `video/part-${n}.bin`, size: n * MiB }));
/** Medium files between makeTree's `hostile/` and `tree/`, so the steering finds small files in flight. */
const mediumFiles = Array.from({ length: 40 }, (_, i) => ({ path: `photos/p-${String(i).padStart(2, '0')}.jpg`, size: 48 * KiB + i * 512 }));
/** The run's pace until the end: the small files before the big ones take nearly a minute at this rate. */
const pace = 64 * KiB;
const terminal = ['completed', 'completed_with_errors', 'failed', 'cancelled'];

/** For a failure message: the workflow's pending activities and its history, one line per event. */
async function workflowDump(workflowId: string): Promise<string> {
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  try {
    const client = new Client({ connection });
    const lines: string[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      const h = client.workflow.getHandle(workflowId, w.runId);
      const d = await h.describe();
      lines.push(`execution ${w.runId} ${w.status.name}: pending ${JSON.stringify(d.raw.pendingActivities?.map((a) => ({ id: a.activityId, type: a.activityType?.name, state: a.state, attempt: a.attempt })))}`);
      for (const ev of (await h.fetchHistory()).events ?? []) {
        const attrs = Object.entries(ev).find(([k, v]) => k.endsWith('Attributes') && v) as [string, any] | undefined;
        const t = new Date(Number(ev.eventTime?.seconds ?? 0) * 1000 + Math.floor((ev.eventTime?.nanos ?? 0) / 1e6)).toISOString().slice(11, 23);
        lines.push(`${ev.eventId} ${t} ${attrs?.[0]?.replace('EventAttributes', '')} ${attrs?.[1]?.activityType?.name ?? attrs?.[1]?.signalName ?? ''} ${attrs?.[1]?.activityId ?? attrs?.[1]?.scheduledEventId ?? ''}`);
      }
    }
    return lines.join('\n');
  } finally {
    await connection.close();
  }
}

interface RunEvent { at: string; kind: string; message: string; data: any }

/**
 * Issue 7's story, as one run of one job through the HTTP API of real `knarr api` and `knarr
 * worker` processes (PostgreSQL and the shared Temporal server), from a local tree of 144 files
 * to the Jottacloud emulator: a dry run, approval by digest, then mid-run a pause and a resume,
 * transfers raised and lowered, the bandwidth limit changed; then a throttle period, a revoked
 * token and a reconnect, a full destination freed and resumed, and the limit lifted. The run is
 * paced by its bandwidth limit (64 KiB/s, nearly a minute for the 3 MiB of small files that come before the
 * 10 MiB of big ones in path order), so every step lands mid-run on any machine: a slower one
 * only moves fewer bytes in between. Nothing waits on timings, only on states and events.
 */
describe('the whole story through the API', () => {
  const procs: KnarrProcess[] = [];
  let emu: JottaEmulator | undefined;
  let dir = '';
  afterAll(async () => {
    for (const p of procs) await ensureStopped(p);
    await emu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('dry run, approval, pause, limits, throttle, reconnect, full destination: completes with every file once, and its events tell it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-story-'));
    const srcRoot = join(dir, 'src');
    await makeTree(srcRoot, { files: 100 });
    await mkdir(join(srcRoot, 'video'));
    await mkdir(join(srcRoot, 'photos'));
    for (const [i, f] of [...mediumFiles, ...bigFiles].entries()) {
      await writeFile(join(srcRoot, f.path), randomBytes(f.size));
      await utimes(join(srcRoot, f.path), 1_600_000_000 + i, 1_600_000_000 + i);
    }
    const src = await describeTree(srcRoot);
    const totalBytes = [...src.values()].reduce((n, f) => n + f.size, 0);

    emu = await startJottacloudEmulator();
    const e = emu;
    const suffix = randomBytes(3).toString('hex');
    const account = e.addAccount(`story${suffix}`);
    const jotta = `jotta-${suffix}`;

    const apiPort = await freePort();
    const env = {
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      KNARR_TASK_QUEUE: `knarr-story-${suffix}`,
      KNARR_MASTER_KEY: randomBytes(32).toString('base64'),
      KNARR_DATA_DIR: join(dir, 'data'),
      KNARR_API_PORT: String(apiPort),
      KNARR_HEARTBEAT_TIMEOUT_MS: '5000',
    };
    const apiProc = spawnKnarr('api', env);
    procs.push(apiProc);
    const worker = spawnKnarr('worker', env);
    procs.push(worker);
    await apiProc.waitFor(/api ready/);
    await worker.waitFor(/worker ready/);
    const base = `http://127.0.0.1:${apiPort}`;

    const call = async (method: string, path: string, body?: unknown, status = 202) => {
      const r = await api(base, method, path, body);
      expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(status);
      return r.body;
    };
    await call('POST', '/v1/remotes', { name: `src-${suffix}`, type: 'local', config: { root: srcRoot } }, 201);
    await call('POST', '/v1/remotes', { name: jotta, type: 'jottacloud', config: { loginToken: e.issueLoginToken(account), jfsUrl: e.jfsUrl, apiUrl: e.apiUrl } }, 201);

    /** Every current file of the account under the job's destination, by the user's names. */
    const stored = () => new Map(e.files(account)
      .filter((f) => !f.deleted && f.path.startsWith('/Jotta/Archive/story/'))
      .map((f) => [jottaNames.decodePath(f.path.slice('/Jotta/Archive/story/'.length)), f]));
    const uploads = () => e.log.filter((l) => l.role === 'allocate' || l.role === 'upload').length;

    const job = await call('POST', '/v1/jobs', {
      source: `src-${suffix}:`, destination: `${jotta}:story`, mode: 'copy',
      options: { dryRun: true, transfers: 2, batchFiles: 10, bwlimit: pace },
    });
    const runId = job.runId as string;
    const run = (): Promise<any> => call('GET', `/v1/runs/${runId}`, undefined, 200);
    const seen: string[] = [];
    const poll = async (what: string, until: (r: any) => boolean, timeoutMs = 90_000) => {
      for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
        const r = await run();
        if (seen[seen.length - 1]?.split(' ')[0] !== r.state) seen.push(`${r.state} ${new Date().toISOString().slice(11, 23)}`);
        if (until(r)) return r;
        if (terminal.includes(r.state)) throw new Error(`the run ended before ${what}: ${JSON.stringify(r)} (states: ${seen.join(' → ')})`);
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error(`timed out waiting for ${what} (states: ${seen.join(' → ')})`);
    };
    const events = async (kind?: string): Promise<RunEvent[]> =>
      ((await call('GET', `/v1/runs/${runId}/events${kind ? `?kind=${kind}` : ''}`, undefined, 200)).data as RunEvent[]).reverse();
    const eventually = async (what: string, test: () => Promise<boolean>, timeoutMs = 60_000) => {
      for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
        if (await test()) return;
        await new Promise((res) => setTimeout(res, 100));
      }
      const log = (await events()).map((l) => `${l.at} ${l.kind}: ${l.message.slice(0, 300)}`).join('\n');
      throw new Error(`timed out waiting for ${what}; the run: ${JSON.stringify(await run())}\nits events:\n${log}\nthe worker said:\n${worker.output().slice(-4000)}\nworkflow:\n${await workflowDump(`run-${runId}`)}`);
    };

    // 1. The dry run plans and waits: the plan shows every source file to copy, nothing is written.
    const planned = await poll('the plan', (r) => r.state === 'awaiting_approval', 120_000);
    expect(planned.plan.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(planned.plan.groups.copy).toMatchObject({ files: src.size, bytes: totalBytes });
    for (const g of ['overwrite', 'delete', 'move', 'skip']) expect(planned.plan.groups[g].files, g).toBe(0);
    expect(planned.plan.groups.copy.first.length).toBeGreaterThan(0);
    for (const p of planned.plan.groups.copy.first) expect(src.has(p), p).toBe(true);
    expect(planned.files.done).toBe(0);
    expect(stored().size).toBe(0);
    expect(uploads()).toBe(0);
    // A wrong digest is refused, and the run keeps waiting.
    await call('POST', `/v1/runs/${runId}/approve`, { digest: `sha256:${'0'.repeat(64)}` }, 409);
    expect((await run()).state).toBe('awaiting_approval');

    // 2. Approval by digest: exactly that plan runs.
    await call('POST', `/v1/runs/${runId}/approve`, { digest: planned.plan.digest });
    await poll('copying', (r) => r.state === 'copying');

    // 3. Pause once some bytes are through: it reads paused and no byte moves; resume goes on.
    await poll('the first file copied', (r) => r.bytes.done > 0);
    await call('POST', `/v1/runs/${runId}/pause`);
    const paused = await poll('paused', (r) => r.state === 'paused');
    await new Promise((res) => setTimeout(res, 2500));
    const stillPaused = await run();
    expect(stillPaused.state).toBe('paused');
    expect(stillPaused.bytes.done).toBe(paused.bytes.done);
    expect(stillPaused.bytes.done).toBeLessThan(totalBytes);
    await call('POST', `/v1/runs/${runId}/resume`);
    await poll('copying after the resume', (r) => r.state === 'copying');

    // 4. Transfers raised, then lowered, and the bandwidth limit lowered a little, each an event.
    const limitsSeen = async (n: number) => eventually(`${n} limits events`, async () => (await events('limits')).length >= n);
    await call('POST', `/v1/runs/${runId}/limits`, { transfers: 6 });
    await limitsSeen(1);
    await call('POST', `/v1/runs/${runId}/limits`, { transfers: 1 });
    await limitsSeen(2);
    await call('POST', `/v1/runs/${runId}/limits`, { bwlimit: pace - 16 * KiB });
    await limitsSeen(3);
    const limits = (await events('limits')).map((l) => l.data.to);
    expect(limits.map((l) => l.transfers)).toEqual([6, 1, 1]);
    expect(limits.map((l) => l.bandwidthLimit)).toEqual([pace, pace, pace - 16 * KiB]);
    const beforeWaits = await run();
    expect(beforeWaits.state).toBe('copying');
    // The big files are still to come (the largest alone takes a minute at this pace), so the waits land mid-run.
    expect(beforeWaits.bytes.done).toBeLessThan(totalBytes - bigFiles[3].size);

    // 5. A throttle period: four uploads refused with 429 and Retry-After 1 s.
    e.faults.throttle(4, { status: 429, retryAfterSec: 1, roles: ['allocate'] });
    const throttled = await poll('throttled', (r) => r.state === 'throttled');
    expect(throttled.waiting).toMatchObject({ remote: jotta });
    expect(throttled.waiting.reason).toMatch(/429/);
    expect(Number.isNaN(Date.parse(throttled.waiting.until))).toBe(false);
    const afterThrottle = await poll('copying after the throttle', (r) => r.state === 'copying');
    expect(afterThrottle.waiting).toBeNull();

    // 6. The token revoked: needs_reconnect names the remote; new credentials and it goes on.
    e.faults.revokeSessions(account);
    const reconnect = await poll('needs_reconnect', (r) => r.state === 'needs_reconnect');
    expect(reconnect.waiting).toMatchObject({ remote: jotta, until: null });
    expect(reconnect.waiting.reason).toContain(`/v1/remotes/${jotta}/credentials`);
    expect(reconnect.waiting.reason).toMatch(/Personal Login Token/);
    expect(reconnect.files.done).toBeLessThan(src.size);
    await call('PUT', `/v1/remotes/${jotta}/credentials`, { loginToken: e.issueLoginToken(account) }, 200);
    await poll('copying after the reconnect', (r) => r.state === 'copying');

    // 7. The destination full: needs_attention; space freed and a resume, it goes on.
    e.faults.setQuotaFull(true, account);
    const full = await poll('needs_attention', (r) => r.state === 'needs_attention');
    expect(full.waiting).toMatchObject({ remote: jotta, until: null });
    expect(full.waiting.reason).toContain(`POST /v1/runs/${runId}/resume`);
    expect(full.files.done).toBeLessThan(src.size);
    expect(stored().size).toBeGreaterThan(0);
    e.faults.setQuotaFull(false, account);
    await call('POST', `/v1/runs/${runId}/resume`);
    await poll('copying after the resume', (r) => r.state === 'copying' || r.state === 'verifying');

    // 8. The limit lifted, it finishes.
    await call('POST', `/v1/runs/${runId}/limits`, { bwlimit: null });
    const done = await waitForRun(base, runId, 120_000);
    expect(done.state, JSON.stringify(done)).toBe('completed');
    expect(done.waiting).toBeNull();
    expect(done.files).toMatchObject({ done: src.size, total: src.size, failed: 0 });
    expect(done.bytes).toMatchObject({ done: totalBytes, total: totalBytes });

    // Nothing missing, nothing duplicated: each file once, its bytes, one completed revision.
    const remote = stored();
    expect([...remote.keys()].sort()).toEqual([...src.keys()].sort());
    expect(e.files(account).filter((f) => !f.deleted)).toHaveLength(src.size);
    for (const [path, facts] of src) {
      const f = remote.get(path)!;
      expect({ size: f.size, md5: f.md5 }, path).toEqual({ size: facts.size, md5: facts.md5 });
      expect(f.revisions.filter((r) => r.state === 'COMPLETED'), `${path} revisions`).toHaveLength(1);
      expect(f.latestRevision, `${path} pending revision`).toBeUndefined();
    }
    expect(e.faults.stats.throttled).toBe(4);
    expect(e.faults.stats.quotaRefusals).toBeGreaterThan(0);

    // The events tell the story, in order.
    const log = await events();
    if (process.env.KNARR_TEST_VERBOSE) console.log(`${log.map((l) => `${l.at} ${l.kind}: ${l.message}`).join('\n')}\nstates seen: ${seen.join(' → ')}\nallocates: ${e.log.filter((l) => l.role === 'allocate' && l.status !== 200).map((l) => `${new Date(l.at).toISOString().slice(11, 23)} ${l.status}`).join(', ')}`);
    const story = [
      'plan_stored', 'approved', 'paused', 'resumed', 'limits', 'limits', 'limits',
      'throttled', 'needs_reconnect', 'reconnected', 'needs_attention', 'resumed', 'finished',
    ];
    let at = -1;
    for (const kind of story) {
      const next = log.findIndex((l, i) => i > at && l.kind === kind);
      expect(next, `${kind} after ${log[at]?.kind ?? 'the start'} in ${log.map((l) => l.kind).join(', ')}`).toBeGreaterThan(at);
      at = next;
    }
    expect(log.map((l) => l.kind)).not.toContain('failed');
    expect(log.map((l) => l.kind)).not.toContain('batch_failed');
    expect(log.map((l) => l.kind)).not.toContain('file_failed');
    expect(log.find((l) => l.kind === 'approved')!.data.digest).toBe(planned.plan.digest);
    // Approval ran the stored plan: the source was listed once, by the dry run.
    expect(log.filter((l) => l.kind === 'plan')).toHaveLength(1);
    expect(log.filter((l) => l.kind === 'throttled')[0].data).toMatchObject({ remote: jotta, retryAfterMs: 1000 });
  }, 300_000);
});
