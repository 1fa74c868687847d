import { ScheduleNotFoundError } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, knarrWithLocalRemotes, type InProcessKnarr } from '../support/knarr.js';
import { expectSameTree } from '../support/tree.js';

const terminal = ['completed', 'completed_with_errors', 'failed', 'cancelled'];

interface RecentRun { id: string; state: string; files: { done: number }; bytes: { sent: number }; startedAt: string }

/** Incremental backups on Temporal Schedules: each run sends only what is new since the last. */
describe('schedules', () => {
  let dir: string;
  let k: InProcessKnarr;
  const suffix = randomBytes(3).toString('hex');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-schedules-'));
    k = await knarrWithLocalRemotes(dir, suffix);
  }, 60_000);

  afterAll(async () => {
    await k?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const get = async (id: string) => (await api(k.url, 'GET', `/v1/schedules/${id}`)).body;
  const until = async (id: string, what: string, ok: (s: { recentRuns: RecentRun[]; state: string }) => boolean, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await get(id);
      if (ok(s)) return s;
      if (Date.now() > deadline) throw new Error(`schedule never got to ${what}: ${JSON.stringify(s)}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  };

  it('runs a job every interval, each run sending only the new files, until paused; trigger runs it now; delete stops it', async () => {
    await mkdir(join(dir, 'src/photos'), { recursive: true });
    await writeFile(join(dir, 'src/photos/first.jpg'), 'first photo');
    const made = await api(k.url, 'POST', '/v1/schedules', {
      name: `photos-${suffix}`, source: `src-${suffix}:photos`, destination: `dst-${suffix}:photos`, mode: 'copy', every: '2s', timezone: 'Europe/Oslo',
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expect(made.body).toMatchObject({ name: `photos-${suffix}`, every: '2s', timezone: 'Europe/Oslo', overlap: 'skip', state: 'active' });
    expect(made.body.nextRuns.length).toBeGreaterThan(0);
    const id = made.body.id as string;

    const first = await until(id, 'a completed run', (s) => s.recentRuns.some((r) => r.state === 'completed'));
    const firstRun = first.recentRuns.find((r: RecentRun) => r.state === 'completed')!;
    expect(firstRun.files.done).toBe(1);

    await writeFile(join(dir, 'src/photos/second.jpg'), 'the second photo');
    // The run that copies the new file may be one already planning when it was written, or a later one: whichever it is sends it alone.
    const copiedIt = (r: RecentRun) => r.state === 'completed' && r.id !== firstRun.id && r.files.done === 1;
    const later = await until(id, 'a run that copied the new file', (s) => s.recentRuns.some(copiedIt));
    const second = later.recentRuns.find(copiedIt)!;
    expect(second.files.done).toBe(1);
    expect(second.bytes.sent).toBe('the second photo'.length);
    await expectSameTree(join(dir, 'src/photos'), join(dir, 'dst/photos'));

    const paused = await api(k.url, 'POST', `/v1/schedules/${id}/pause`, { note: 'holiday' });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ state: 'paused', note: 'holiday', nextRuns: [] });
    const settled = await until(id, 'no run going', (s) => s.recentRuns.every((r) => terminal.includes(r.state)));
    // Every run so far sent each file once.
    expect(settled.recentRuns.reduce((n: number, r: RecentRun) => n + r.files.done, 0)).toBe(2);
    await new Promise((res) => setTimeout(res, 6_000));
    const still = await get(id);
    expect(still.recentRuns.map((r: RecentRun) => r.id)).toEqual(settled.recentRuns.map((r: RecentRun) => r.id));

    const triggered = await api(k.url, 'POST', `/v1/schedules/${id}/trigger`);
    expect(triggered.status).toBe(202);
    const after = await until(id, 'the triggered run', (s) => s.recentRuns.length > settled.recentRuns.length && s.recentRuns.every((r) => terminal.includes(r.state)));
    expect(after.recentRuns[0]).toMatchObject({ state: 'completed', files: { done: 0 } });

    const list = await api(k.url, 'GET', '/v1/schedules');
    expect(list.body.data.map((s: { id: string }) => s.id)).toContain(id);
    // The remote is in use while the schedule exists.
    expect((await api(k.url, 'DELETE', `/v1/remotes/src-${suffix}`)).status).toBe(409);
    const temporalId = `knarr-schedule-${id}`;
    expect((await api(k.url, 'DELETE', `/v1/schedules/${id}`)).status).toBe(204);
    expect((await api(k.url, 'GET', `/v1/schedules/${id}`)).status).toBe(404);
    await expect(k.client.schedule.getHandle(temporalId).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  }, 240_000);

  it('refuses a bad cron, interval or time zone with a 400 naming the field, and makes nothing', async () => {
    const base = { name: `bad-${suffix}`, source: `src-${suffix}:`, destination: `dst-${suffix}:` };
    const cases: [Record<string, unknown>, string][] = [
      [{ cron: '0 2 * * *', every: '1h' }, 'cron'],
      [{}, 'cron'],
      [{ cron: 'every night' }, 'cron'],
      [{ cron: '99 2 * * *' }, 'cron'],
      [{ every: 'soon' }, 'every'],
      [{ every: '10ms' }, 'every'],
      [{ cron: '0 2 * * *', timezone: 'Europe/Atlantis' }, 'timezone'],
      [{ cron: '0 2 * * *', overlap: 'sometimes' }, 'overlap'],
    ];
    for (const [extra, field] of cases) {
      const r = await api(k.url, 'POST', '/v1/schedules', { ...base, ...extra });
      expect(r.status, `${JSON.stringify(extra)}: ${JSON.stringify(r.body)}`).toBe(400);
      expect(r.body.error.field).toBe(field);
    }
    const all = await api(k.url, 'GET', '/v1/schedules?limit=1000');
    expect(all.body.data.map((s: { name: string }) => s.name)).not.toContain(base.name);
  }, 60_000);
});
