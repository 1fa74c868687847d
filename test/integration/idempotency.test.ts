import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, knarrWithLocalRemotes, waitForRun, type InProcessKnarr } from '../support/knarr.js';

/** A client that sends the same POST twice (a timeout, a retrying proxy) starts the work once. */
describe('Idempotency-Key', () => {
  let dir: string;
  let k: InProcessKnarr;
  const suffix = randomBytes(3).toString('hex');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-idem-'));
    k = await knarrWithLocalRemotes(dir, suffix);
    await writeFile(join(dir, 'src/a.txt'), 'once');
  }, 60_000);

  afterAll(async () => {
    await k?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers a repeated POST with the first answer and starts nothing new; refuses the key for another request', async () => {
    const key = randomUUID();
    const job = { source: `src-${suffix}:`, destination: `dst-${suffix}:`, mode: 'copy' };
    const first = await api(k.url, 'POST', '/v1/jobs', job, { headers: { 'idempotency-key': key } });
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    const again = await api(k.url, 'POST', '/v1/jobs', job, { headers: { 'idempotency-key': key } });
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const runs = await api(k.url, 'GET', `/v1/runs?job=${first.body.jobId}`);
    expect(runs.body.data.map((r: { id: string }) => r.id)).toEqual([first.body.runId]);
    expect((await waitForRun(k.url, first.body.runId)).state).toBe('completed');

    const other = await api(k.url, 'POST', '/v1/jobs', { ...job, destination: `dst-${suffix}:elsewhere` }, { headers: { 'idempotency-key': key } });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');

    // A run started again with a key, twice, is one new run.
    const rerunKey = randomUUID();
    const rerun = await api(k.url, 'POST', `/v1/jobs/${first.body.jobId}/runs`, undefined, { headers: { 'idempotency-key': rerunKey } });
    const rerunAgain = await api(k.url, 'POST', `/v1/jobs/${first.body.jobId}/runs`, undefined, { headers: { 'idempotency-key': rerunKey } });
    expect(rerun.status).toBe(202);
    expect(rerunAgain.body.runId).toBe(rerun.body.runId);
    await waitForRun(k.url, rerun.body.runId);
    expect((await api(k.url, 'GET', `/v1/runs?job=${first.body.jobId}`)).body.data).toHaveLength(2);

    // Without a key, each POST is its own.
    const plain = await api(k.url, 'POST', `/v1/jobs/${first.body.jobId}/runs`);
    expect(plain.body.runId).not.toBe(rerun.body.runId);
    await waitForRun(k.url, plain.body.runId);
  }, 120_000);

  it('keeps a refusal too, and keys are per user', async () => {
    const key = randomUUID();
    const bad = { source: `nowhere-${suffix}:`, destination: `dst-${suffix}:`, mode: 'copy' };
    const first = await api(k.url, 'POST', '/v1/jobs', bad, { headers: { 'idempotency-key': key } });
    expect(first.status).toBe(422);
    const again = await api(k.url, 'POST', '/v1/jobs', bad, { headers: { 'idempotency-key': key } });
    expect(again.status).toBe(422);
    expect(again.headers.get('idempotent-replayed')).toBe('true');

    const user = await api(k.url, 'POST', '/v1/users', { name: `idem-${suffix}` });
    const userKey = (await api(k.url, 'POST', `/v1/users/${user.body.id}/keys`)).body.key;
    const theirs = await api(k.url, 'POST', '/v1/jobs', bad, { key: userKey, headers: { 'idempotency-key': key } });
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(theirs.status).toBe(422);
  });
});
