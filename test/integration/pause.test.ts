import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusQuery } from '../../workflows/transferRun.js';
import { api, knarrWithLocalRemotes, waitForRun, type InProcessKnarr } from '../support/knarr.js';
import { expectSameTree } from '../support/tree.js';

const kib = 1024;

/**
 * Pause and resume through the API on a real worker, PostgreSQL and the Temporal dev server. The
 * run is paced by its bandwidth limit (128 KiB/s for about 2 MiB), so "mid-run" is certain on
 * any machine.
 */
describe('pause and resume through the API', () => {
  let k: InProcessKnarr;
  let dir: string;
  const suffix = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-pause-'));
    await mkdir(join(dir, 'src/small'), { recursive: true });
    for (let i = 0; i < 40; i++) await writeFile(join(dir, 'src/small', `f-${i}.bin`), Buffer.alloc(16 * kib, i));
    await writeFile(join(dir, 'src/large.bin'), Buffer.alloc(1536 * kib, 9));
    k = await knarrWithLocalRemotes(dir, suffix);
  });
  afterAll(async () => {
    await k?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (out: string) => {
    const r = await api(k.url, 'POST', '/v1/jobs', {
      source: `src-${suffix}:`, destination: `dst-${suffix}:${out}`, mode: 'copy',
      options: { bwlimit: 128 * kib, largeFileThreshold: 1024 * kib, chunkSize: 64 * kib, batchFiles: 10 },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return r.body.runId as string;
  };
  const poll = async (runId: string, until: (run: any) => boolean, what: string) => {
    for (let i = 0; i < 600; i++) {
      const run = (await api(k.url, 'GET', `/v1/runs/${runId}`)).body;
      if (until(run)) return run;
      if (['completed', 'completed_with_errors', 'failed', 'cancelled'].includes(run.state)) throw new Error(`the run ended (${JSON.stringify(run)}) before ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  };
  const kinds = async (runId: string) => (await api(k.url, 'GET', `/v1/runs/${runId}/events`)).body.data as { kind: string; at: string }[];

  it('a paused run stops moving and holds no worker; resumed, it completes with every file once', async () => {
    const runId = await start('a');
    const moving = await poll(runId, (r) => r.state === 'copying' && r.bytes.done >= 512 * kib && r.speed.current > 0, 'half a MiB copied');
    // Progress as a user watches it: the current speed is capped by the limit, the phases add up,
    // and a large file in flight shows its own bytes.
    expect(moving.speed.current).toBeLessThanOrEqual(2.5 * 128 * kib);
    expect(moving.phases.copy.files.total).toBe(moving.files.total);
    expect(moving.phases.copy.bytes.total).toBe(moving.bytes.total);
    expect(moving.etaSeconds).toBeGreaterThan(0);
    for (const f of moving.inFlight) expect(f.bytesDone).toBeLessThanOrEqual(f.size);
    expect((await api(k.url, 'POST', `/v1/runs/${runId}/pause`)).status).toBe(202);
    // A second pause changes nothing.
    expect((await api(k.url, 'POST', `/v1/runs/${runId}/pause`)).status).toBe(202);
    const paused = await poll(runId, (r) => r.state === 'paused', 'the run to read paused');
    expect(paused.bytes.done).toBeLessThan(paused.bytes.total);
    expect(paused.inFlight.every((f: { bytesDone: number; size: number }) => f.bytesDone < f.size)).toBe(true);

    const handle = k.client.workflow.getHandle(`run-${runId}`);
    expect((await handle.describe()).raw.pendingActivities ?? []).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 2500));
    const still = (await api(k.url, 'GET', `/v1/runs/${runId}`)).body;
    expect({ state: still.state, files: still.files.done, bytes: still.bytes.done }).toEqual({ state: 'paused', files: paused.files.done, bytes: paused.bytes.done });

    expect((await api(k.url, 'POST', `/v1/runs/${runId}/resume`)).status).toBe(202);
    const run = await waitForRun(k.url, runId);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    const tree = await expectSameTree(join(dir, 'src'), join(dir, 'dst/a'));
    expect(run.files).toMatchObject({ done: tree.size, total: tree.size, failed: 0 });
    expect(run.bytes.done).toBe(run.bytes.total);
    const events = await kinds(runId);
    const at = (kind: string) => Date.parse(events.find((e) => e.kind === kind)?.at ?? 'NaN');
    expect(at('paused')).toBeLessThanOrEqual(at('resumed'));
    expect(at('resumed')).toBeLessThanOrEqual(at('finished'));

    const late = await api(k.url, 'POST', `/v1/runs/${runId}/pause`);
    expect(late.status).toBe(409);
    expect(late.body.error.message).toMatch(/already ended \(completed\)/);
  });

  it('a paused run can be cancelled: it ends cancelled with its counts, and leaves no partial file', async () => {
    // Its own source: one file large enough (4 MiB at 128 KiB/s) to be certainly mid-upload.
    await mkdir(join(dir, 'big'), { recursive: true });
    await writeFile(join(dir, 'big/huge.bin'), Buffer.alloc(4096 * kib, 3));
    expect((await api(k.url, 'POST', '/v1/remotes', { name: `big-${suffix}`, type: 'local', config: { root: join(dir, 'big') } })).status).toBe(201);
    const r = await api(k.url, 'POST', '/v1/jobs', {
      source: `big-${suffix}:`, destination: `dst-${suffix}:b`, mode: 'copy',
      options: { bwlimit: 128 * kib, largeFileThreshold: 1024 * kib, chunkSize: 64 * kib },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const runId = r.body.runId as string;
    await poll(runId, (run) => run.state === 'copying' && run.inFlight.some((f: { bytesDone: number }) => f.bytesDone > 0), 'the file to be mid-upload');
    await api(k.url, 'POST', `/v1/runs/${runId}/pause`);
    await poll(runId, (run) => run.state === 'paused', 'the run to read paused');
    expect((await api(k.url, 'POST', `/v1/runs/${runId}/cancel`)).status).toBe(202);
    const run = await waitForRun(k.url, runId);
    expect(run.state).toBe('cancelled');
    expect(run.files).toMatchObject({ done: 0, total: 1 });
    expect(await readdir(join(dir, 'dst/b'))).toEqual([]);
    expect((await api(k.url, 'GET', `/v1/runs/${runId}/events?kind=partials_removed`)).body.data).toHaveLength(1);
  });

  it('limits change on a running run: transfers lowered and raised, the bandwidth limit lifted, each in the events', async () => {
    const runId = await start('c');
    await poll(runId, (r) => r.state === 'copying' && r.bytes.done > 0, 'the copy to start');
    const handle = k.client.workflow.getHandle(`run-${runId}`);
    // One lane at 8 KiB/s: what is left takes minutes, so the run is certainly still copying when
    // the limits change again, however long the checks below take on a busy machine.
    expect((await api(k.url, 'POST', `/v1/runs/${runId}/limits`, { transfers: 1, bwlimit: 8 * kib })).status).toBe(202);
    // Once the running batches restarted with one lane, never more than one file is in flight.
    let status = await handle.query(statusQuery);
    for (let i = 0; i < 300 && !(status.settings.transfers === 1 && status.filesInFlight <= 1); i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await handle.query(statusQuery);
    }
    expect(status.settings.transfers).toBe(1);
    for (let i = 0; i < 10; i++) {
      expect((await handle.query(statusQuery)).filesInFlight).toBeLessThanOrEqual(1);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await api(k.url, 'POST', `/v1/runs/${runId}/limits`, { transfers: 6, bwlimit: null })).status).toBe(202);
    const run = await waitForRun(k.url, runId);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    await expectSameTree(join(dir, 'src'), join(dir, 'dst/c'));
    const limits = (await kinds(runId)).filter((e) => e.kind === 'limits') as unknown as { data: { to: { transfers: number; bandwidthLimit: number | null } } }[];
    expect(limits.map((e) => e.data.to)).toEqual(expect.arrayContaining([
      expect.objectContaining({ transfers: 1, bandwidthLimit: 8 * kib }),
      expect.objectContaining({ transfers: 6, bandwidthLimit: null }),
    ]));
    // Batches started after the second change ran without a bandwidth limit.
    const history = await handle.fetchHistory();
    const inputs = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'copyBatch')
      .map((e) => JSON.parse(Buffer.from(e.activityTaskScheduledEventAttributes!.input!.payloads![0].data!).toString()) as { settings: { bandwidthLimit: number | null } });
    expect(inputs.at(-1)!.settings.bandwidthLimit).toBeNull();
  });

  it.each([
    [{}, /give transfers, bwlimit or both/],
    [{ transfers: 0 }, /transfers/],
    [{ bwlimit: '10X' }, /not a size/],
    [{ bwlimit: 10 }, /at least 1024/],
  ])('refuses limits %j with a 400 that says why', async (body, message) => {
    const r = await api(k.url, 'POST', `/v1/runs/${crypto.randomUUID()}/limits`, body);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.error.message).toMatch(message);
  });
});
