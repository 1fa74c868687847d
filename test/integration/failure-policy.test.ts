import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localDefinition } from '../../connectors/local/definition.js';
import { register } from '../../connectors/registry.js';
import type { Connector } from '../../connectors/types.js';
import { api, startInProcessKnarr, waitForRun, type InProcessKnarr } from '../support/knarr.js';

/**
 * A folder whose reads of files named "*-bug.txt" throw a plain TypeError: what a bug in knarr (not a
 * provider's answer) looks like to the engine. Registered in this process only, through the open
 * registry, as a test's fault connector.
 */
register({
  ...localDefinition,
  type: 'buggy-local',
  create: (settings, ctx) => {
    const inner = localDefinition.create(settings, ctx) as Connector;
    return Object.assign(Object.create(inner) as Connector, {
      read: (path: string, opts?: Parameters<Connector['read']>[1]) => {
        if (path.endsWith('-bug.txt')) throw new TypeError(`simulated bug reading ${path}`);
        return inner.read(path, opts);
      },
    });
  },
});

describe('a batch that keeps hitting an internal error', () => {
  let k: InProcessKnarr;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-failure-policy-'));
    for (const d of ['a', 'b', 'c']) {
      await mkdir(join(dir, 'src', d), { recursive: true });
      for (let i = 0; i < 10; i++) await writeFile(join(dir, 'src', d, `file-${i}${d === 'b' && i === 5 ? '-bug' : ''}.txt`), `${d}${i}`);
    }
    await mkdir(join(dir, 'dst'));
    k = await startInProcessKnarr({ databaseUrl: inject('databaseUrl') });
  });
  afterAll(async () => {
    await k?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives that batch up after a bounded number of attempts, says why, and finishes the others', async () => {
    expect((await api(k.url, 'POST', '/v1/remotes', { name: 'buggy', type: 'buggy-local', config: { root: join(dir, 'src') } })).status).toBe(201);
    expect((await api(k.url, 'POST', '/v1/remotes', { name: 'plain', type: 'local', config: { root: join(dir, 'dst') } })).status).toBe(201);
    // One folder a batch, one file at a time: the bug's batch is folder b.
    const job = await api(k.url, 'POST', '/v1/jobs', { source: 'buggy:', destination: 'plain:', options: { batchFiles: 10, transfers: 1 } });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const run = await waitForRun(k.url, job.body.runId, 180_000);
    expect(run.state, JSON.stringify(run)).toBe('completed_with_errors');
    // Folder b's files from the bug on were never copied; a and c, and b's first five, were.
    expect(run.files).toMatchObject({ total: 30, done: 25, failed: 5 });

    const failed = await api(k.url, 'GET', `/v1/runs/${job.body.runId}/files?state=failed`);
    const errors = failed.body.data.map((f: any) => f.error as string);
    expect(errors).toHaveLength(5);
    for (const e of errors) expect(e).toMatch(/internal error, not a provider's answer; gave up after 5 attempts/);
    const events = await api(k.url, 'GET', `/v1/runs/${job.body.runId}/events?kind=batch_failed`);
    expect(events.body.data).toHaveLength(1);
  }, 240_000);
});
