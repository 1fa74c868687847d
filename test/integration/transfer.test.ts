import { appendFile, mkdir, mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { historyToJSON, type History } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { writeFile } from 'node:fs/promises';
import { workflowsPath } from '../../runtime/worker.js';
import { statusQuery } from '../../workflows/transferRun.js';
import { api, startInProcessKnarr, waitForRun, type InProcessKnarr } from '../support/knarr.js';
import { expectSameTree, makeTree } from '../support/tree.js';

/**
 * The whole path on real parts, twice over: PostgreSQL on 127.0.0.1:5432 and embedded PGlite,
 * each with the shared Temporal dev server and a real worker.
 */
for (const db of ['postgres', 'pglite'] as const) {
  describe(`local → local copy through the API (${db})`, () => {
    let k: InProcessKnarr;
    let dir: string;
    const suffix = Math.random().toString(36).slice(2, 8);

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), `knarr-transfer-${db}-`));
      await makeTree(join(dir, 'src'), { files: 1_050, largeBytes: 96 * 1024 * 1024 + 12345 });
      await mkdir(join(dir, 'dst'));
      k = await startInProcessKnarr(db === 'postgres' ? { databaseUrl: inject('databaseUrl') } : { dataDir: join(dir, 'data') });
      for (const side of ['src', 'dst']) {
        const r = await api(k.url, 'POST', '/v1/remotes', { name: `${side}-${suffix}`, type: 'local', config: { root: join(dir, side) } });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
      }
    });
    afterAll(async () => {
      await k?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it('copies every file with its bytes and mtime, verified, and shows the run in Temporal', async () => {
      const r = await api(k.url, 'POST', '/v1/jobs', {
        source: `src-${suffix}:`, destination: `dst-${suffix}:backup/2026`, mode: 'copy',
        options: { largeFileThreshold: 32 * 1024 * 1024, chunkSize: 4 * 1024 * 1024, batchFiles: 100 },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(r.headers.get('location')).toBe(`/v1/runs/${r.body.runId}`);
      const run = await waitForRun(k.url, r.body.runId);
      expect(run.state, JSON.stringify(run)).toBe('completed');

      const src = await expectSameTree(join(dir, 'src'), join(dir, 'dst/backup/2026'));
      expect(src.size).toBeGreaterThanOrEqual(1_050);
      const totalBytes = [...src.values()].reduce((a, f) => a + f.size, 0);
      expect(run.files).toEqual({ done: src.size, total: src.size, failed: 0, skipped: 0, deduplicated: 0, moved: 0, deleted: 0 });
      expect(run.bytes).toEqual({ done: totalBytes, total: totalBytes, sent: totalBytes });

      const handle = k.client.workflow.getHandle(`run-${r.body.runId}`);
      expect((await handle.describe()).status.name).toBe('COMPLETED');
      // The suite's dev server suggests continue-as-new after 60 events: this run crossed that boundary.
      let chain: string[] = [];
      for (let tries = 0; tries < 50 && !chain.includes('COMPLETED'); tries++) {
        chain = [];
        for await (const w of k.client.workflow.list({ query: `WorkflowId = "run-${r.body.runId}"` })) chain.push(w.status.name);
        if (!chain.includes('COMPLETED')) await new Promise((res) => setTimeout(res, 100)); // visibility catches up
      }
      expect(chain.length).toBeGreaterThanOrEqual(2);
      expect(chain.filter((s) => s === 'CONTINUED_AS_NEW').length).toBe(chain.length - 1);
      expect((await handle.query(statusQuery)).phase).toBe('done');

      // Every execution of the chain replays on today's workflow code without a determinism error.
      const executions: string[] = [];
      for await (const w of k.client.workflow.list({ query: `WorkflowId = "run-${r.body.runId}"` })) executions.push(w.runId);
      for (const runId of executions.reverse()) {
        const history = await k.client.workflow.getHandle(`run-${r.body.runId}`, runId).fetchHistory();
        await Worker.runReplayHistory({ workflowsPath }, history, `run-${r.body.runId}`);
        if (process.env.KNARR_RECORD_HISTORIES && db === 'postgres') await recordHistory(history, executions.indexOf(runId));
      }

      const events = await api(k.url, 'GET', `/v1/runs/${r.body.runId}/events`);
      expect(events.body.data.map((e: { kind: string }) => e.kind)).toContain('finished');
    });

    it('a second run copies only what changed', async () => {
      await appendFile(join(dir, 'src/tree/d1/sub 1/deeper-1/file-1.dat'), 'more');
      await utimes(join(dir, 'src/hostile/semi;colon.txt'), new Date(), new Date(Date.UTC(2024, 1, 2)));
      const r = await api(k.url, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `dst-${suffix}:backup/2026`, mode: 'copy' });
      expect(r.status).toBe(202);
      const run = await waitForRun(k.url, r.body.runId);
      expect(run.state).toBe('completed');
      expect(run.files.total).toBe(2);
      expect(run.files.done).toBe(2);
      expect(run.files.skipped).toBeGreaterThanOrEqual(1_049);
      await expectSameTree(join(dir, 'src'), join(dir, 'dst/backup/2026'));
    });
  });
}

/** KNARR_RECORD_HISTORIES=v2 keeps this run's histories as the fixtures test/unit/replay.test.ts replays forever after. */
async function recordHistory(history: History, index: number): Promise<void> {
  const dir = join(import.meta.dirname, '../fixtures/histories');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `transferRun-${process.env.KNARR_RECORD_HISTORIES}-${index}.json`), historyToJSON(history));
}
