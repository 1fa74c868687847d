import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api, knarrWithLocalRemotes, startInProcessKnarr, waitForRun, type InProcessKnarr } from '../support/knarr.js';

/** What an operator's monitoring reads: readiness, and Prometheus metrics of what moved. */
describe('readyz and metrics', () => {
  let dir: string;
  let k: InProcessKnarr;
  const suffix = randomBytes(3).toString('hex');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-metrics-'));
    k = await knarrWithLocalRemotes(dir, suffix);
  }, 60_000);

  afterAll(async () => {
    await k?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const metric = (text: string, name: string, labels: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
  };

  it('counts the bytes and files moved per provider and direction, runs by state, and activity latency', async () => {
    await writeFile(join(dir, 'src/a.bin'), randomBytes(3000));
    await writeFile(join(dir, 'src/b.bin'), randomBytes(5000));
    const job = await api(k.url, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `dst-${suffix}:`, mode: 'copy' });
    expect((await waitForRun(k.url, job.body.runId)).state).toBe('completed');
    const res = await fetch(`${k.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(metric(text, 'knarr_transferred_bytes_total', 'provider="local",direction="write"')).toBeGreaterThanOrEqual(8000);
    expect(metric(text, 'knarr_transferred_bytes_total', 'provider="local",direction="read"')).toBeGreaterThanOrEqual(8000);
    expect(metric(text, 'knarr_transferred_files_total', 'provider="local",direction="write"')).toBeGreaterThanOrEqual(2);
    expect(metric(text, 'knarr_runs', 'state="completed"')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'knarr_activity_duration_seconds_count', 'activity="copyBatch",outcome="ok"')).toBeGreaterThanOrEqual(1);
    expect(text).toContain('# TYPE knarr_throttle_events_total counter');
    expect(text).toContain('# TYPE knarr_retries_total counter');
  });

  it('is ready with the database and Temporal, and says which one is missing when not', async () => {
    const ready = await fetch(`${k.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ok: true, database: 'ok', temporal: 'ok' });

    const lonely = await startInProcessKnarr({ databaseUrl: inject('databaseUrl'), worker: false });
    await lonely.database.close();
    const down = await fetch(`${lonely.url}/readyz`);
    expect(down.status).toBe(503);
    const body = (await down.json()) as { ok: boolean; database: string; temporal: string };
    expect(body).toMatchObject({ ok: false, temporal: 'ok' });
    expect(body.database).not.toBe('ok');
    await lonely.stop().catch(() => {});
  });
});
