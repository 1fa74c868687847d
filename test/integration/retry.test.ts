import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, knarrWithLocalRemotes, waitForRun, type InProcessKnarr } from '../support/knarr.js';
import { expectSameTree } from '../support/tree.js';

const kib = 1024;

/**
 * Retry through the API: a source file taken away after the plan fails that run; put back, a
 * retry copies exactly it. The run is paced by its bandwidth limit, so the file is certainly
 * gone before its batch starts (it sorts last, behind 640 KiB at 128 KiB/s).
 */
describe('retry of a run\'s failed files through the API', () => {
  let k: InProcessKnarr;
  let dir: string;
  const suffix = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-retry-'));
    await mkdir(join(dir, 'src/a'), { recursive: true });
    await mkdir(join(dir, 'src/zzz'), { recursive: true });
    for (let i = 0; i < 40; i++) await writeFile(join(dir, 'src/a', `f-${i}.bin`), Buffer.alloc(16 * kib, i));
    await writeFile(join(dir, 'src/zzz/victim.bin'), Buffer.alloc(20 * kib, 1));
    k = await knarrWithLocalRemotes(dir, suffix);
  });
  afterAll(async () => {
    await k?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('copies again exactly the files that failed, without listing, once their cause is fixed', async () => {
    const r = await api(k.url, 'POST', '/v1/jobs', {
      source: `src-${suffix}:`, destination: `dst-${suffix}:out`, mode: 'copy',
      options: { bwlimit: 128 * kib, batchFiles: 10 },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const first = r.body.runId as string;
    for (let i = 0; i < 600; i++) {
      if ((await api(k.url, 'GET', `/v1/runs/${first}`)).body.state === 'copying') break;
      await new Promise((res) => setTimeout(res, 50));
    }
    await rename(join(dir, 'src/zzz/victim.bin'), join(dir, 'victim.bin'));
    const early = await api(k.url, 'POST', `/v1/runs/${first}/retry`);
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('run_not_finished');

    const failed = await waitForRun(k.url, first);
    expect(failed.state).toBe('completed_with_errors');
    expect(failed.files).toMatchObject({ total: 41, done: 40, failed: 1 });

    await rename(join(dir, 'victim.bin'), join(dir, 'src/zzz/victim.bin'));
    const again = await api(k.url, 'POST', `/v1/runs/${first}/retry`);
    expect(again.status, JSON.stringify(again.body)).toBe(202);
    expect(again.body).toMatchObject({ retryOf: first, files: 1, jobId: failed.jobId });
    const retried = await waitForRun(k.url, again.body.runId);
    expect(retried.state, JSON.stringify(retried)).toBe('completed');
    expect(retried.files).toMatchObject({ total: 1, done: 1, failed: 0 });
    expect(retried.jobId).toBe(failed.jobId);
    await expectSameTree(join(dir, 'src'), join(dir, 'dst/out'));
    const events = (await api(k.url, 'GET', `/v1/runs/${again.body.runId}/events`)).body.data as { kind: string; message: string }[];
    expect(events.find((e) => e.kind === 'plan')?.message).toMatch(new RegExp(`retry of run ${first}: 1 files`));

    const nothing = await api(k.url, 'POST', `/v1/runs/${again.body.runId}/retry`);
    expect(nothing.status).toBe(422);
    expect(nothing.body.error.message).toMatch(/no failed files/);
  });
});
