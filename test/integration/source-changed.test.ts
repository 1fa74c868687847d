import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, knarrWithLocalRemotes, waitForRun, type InProcessKnarr } from '../support/knarr.js';

const KiB = 1024;

/**
 * A source file written to while knarr copies it. The copy is paced by a bandwidth limit, so the
 * change lands mid-file whatever the machine: the file is copied again from the start as it is
 * then, once; one that keeps changing is reported failed, and never stored half old, half new.
 */
describe('a source file that changes while it is copied', () => {
  let k: InProcessKnarr;
  let dir: string;
  const suffix = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-changed-'));
    k = await knarrWithLocalRemotes(dir, suffix);
  });
  afterAll(async () => {
    await k?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const copying = async (name: string, size: number) => {
    await mkdir(join(dir, 'src', name), { recursive: true });
    await writeFile(join(dir, 'src', name, 'growing.bin'), randomBytes(size));
    const r = await api(k.url, 'POST', '/v1/jobs', {
      source: `src-${suffix}:${name}`, destination: `dst-${suffix}:${name}`,
      options: { bwlimit: 256 * KiB, largeFileThreshold: 256 * KiB, chunkSize: 64 * KiB },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const runId = r.body.runId as string;
    // The copy has begun (the plan holds the file's first size) and takes seconds at this pace: a
    // change now lands before its last bytes are committed, whether before or during the read.
    await waitForRun(k.url, runId, 60_000, (run) => run.state === 'copying' || ['completed', 'completed_with_errors', 'failed', 'cancelled'].includes(run.state));
    return runId;
  };

  it('is copied again from the start, once, and lands as it is now', async () => {
    const runId = await copying('once', 1024 * KiB);
    await appendFile(join(dir, 'src/once/growing.bin'), randomBytes(100 * KiB));
    const run = await waitForRun(k.url, runId);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    expect(run.bytes.total).toBe(1124 * KiB);
    expect((await readFile(join(dir, 'dst/once/growing.bin'))).equals(await readFile(join(dir, 'src/once/growing.bin')))).toBe(true);
    const events = (await api(k.url, 'GET', `/v1/runs/${runId}/events?kind=source_changed`)).body.data;
    expect(events).toHaveLength(1);
  });

  it('is reported when it keeps changing, and nothing half-written is left as the file', async () => {
    let writing = true;
    const path = join(dir, 'src/always/growing.bin');
    const runId = await copying('always', 1024 * KiB);
    const writer = (async () => {
      while (writing) {
        await appendFile(path, randomBytes(4 * KiB));
        await new Promise((res) => setTimeout(res, 200));
      }
    })();
    const run = await waitForRun(k.url, runId);
    writing = false;
    await writer;
    expect(run.state).toBe('completed_with_errors');
    const failed = (await api(k.url, 'GET', `/v1/runs/${runId}/files?state=failed`)).body.data;
    expect(failed).toEqual([expect.objectContaining({ path: 'growing.bin', error: expect.stringMatching(/kept changing/) })]);
    await expect(readFile(join(dir, 'dst/always/growing.bin'))).rejects.toThrow(/ENOENT/);
  });
});
