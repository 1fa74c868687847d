import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startJottacloudEmulator, type JottaEmulator } from '../fakes/jottacloud/index.js';
import { api, testAdminKey, waitForRun } from '../support/knarr.js';
import { ensureStopped, type KnarrProcess, startEmbeddedServer } from '../support/processes.js';
import { dataDirTexts, expectNoSecretIn, workflowHistories } from '../support/secretSweep.js';

/**
 * The tokens, keys and passwords a user gives knarr, and the ones it gets from providers, never
 * come back: not in an API answer, not in a log line, not in a workflow history, not in plain
 * text on disk. Searched for as the actual strings.
 */
describe('secrets', () => {
  let dir: string;
  let emu: JottaEmulator;
  let proc: KnarrProcess | undefined;

  afterAll(async () => {
    await ensureStopped(proc);
    await emu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('appear in no API answer, log line, workflow history or database file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-secrets-'));
    await mkdir(join(dir, 'src/docs'), { recursive: true });
    await mkdir(join(dir, 'back'));
    for (let i = 0; i < 20; i++) await writeFile(join(dir, `src/docs/f${i}.txt`), `document ${i} `.repeat(50));
    emu = await startJottacloudEmulator();
    const account = emu.addAccount('carol');
    emu.faults.setAccessTokenLifetime(2);
    const { proc: started, base, ports } = await startEmbeddedServer(dir);
    proc = started;

    const answers: string[] = [];
    const call = async (method: string, path: string, body?: unknown, key: string | null = testAdminKey) => {
      const r = await api(base, method, path, body, { key });
      answers.push(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
      return r;
    };
    const user = await call('POST', '/v1/users', { name: 'carol' });
    // The one answer that shows a key, once, by design.
    const made = await api(base, 'POST', `/v1/users/${user.body.id}/keys`);
    const carolKey: string = made.body.key;
    const asCarol = (method: string, path: string, body?: unknown) => call(method, path, body, carolKey);

    const firstToken = emu.issueLoginToken(account);
    expect((await asCarol('POST', '/v1/remotes', { name: 'src', type: 'local', config: { root: join(dir, 'src') } })).status).toBe(201);
    expect((await asCarol('POST', '/v1/remotes', { name: 'back', type: 'local', config: { root: join(dir, 'back') } })).status).toBe(201);
    const jotta = await asCarol('POST', '/v1/remotes', { name: 'jotta', type: 'jottacloud', config: { loginToken: firstToken, jfsUrl: emu.jfsUrl, apiUrl: emu.apiUrl } });
    expect(jotta.status, JSON.stringify(jotta.body)).toBe(201);
    // A bad token's refusal must not echo it either.
    const badToken = `${firstToken.slice(0, -4)}AAAA`;
    expect((await asCarol('PUT', '/v1/remotes/jotta/credentials', { loginToken: badToken })).status).toBe(422);

    const up = await asCarol('POST', '/v1/jobs', { source: 'src:', destination: 'jotta:backup', mode: 'copy', options: { transfers: 2 } });
    expect(up.status, JSON.stringify(up.body)).toBe(202);
    expect((await waitForRun(base, up.body.runId, 300_000, undefined, carolKey)).state).toBe('completed');
    const secondToken = emu.issueLoginToken(account);
    expect((await asCarol('PUT', '/v1/remotes/jotta/credentials', { loginToken: secondToken })).status).toBe(200);
    const down = await asCarol('POST', '/v1/jobs', { source: 'jotta:backup', destination: 'back:', mode: 'copy' });
    expect(down.status, JSON.stringify(down.body)).toBe(202);
    await waitForRun(base, down.body.runId, 300_000, undefined, carolKey);
    for (const runId of [up.body.runId, down.body.runId]) {
      expect((await asCarol('GET', `/v1/runs/${runId}`)).body.state).toBe('completed');
      for (const path of ['', '/events', '/files', '/report']) await asCarol('GET', `/v1/runs/${runId}${path}`);
      answers.push(await (await fetch(`${base}/v1/runs/${runId}/report`, { headers: { accept: 'text/csv', authorization: `Bearer ${carolKey}` } })).text());
    }
    for (const path of ['/v1/remotes', '/v1/remotes/jotta', '/v1/jobs', '/v1/runs', '/v1/me', '/v1/remotes/jotta/ls?path=backup']) await asCarol('GET', path);
    await call('GET', `/v1/users/${user.body.id}/keys`);
    answers.push(await (await fetch(`${base}/metrics`)).text());

    const tokens = emu.issuedTokens();
    expect(tokens.length).toBeGreaterThan(2);
    const secrets: Record<string, string> = { firstToken, secondToken, badToken, carolKey, adminKey: testAdminKey };
    tokens.forEach((t, i) => { secrets[`provider token ${i}`] = t; });

    const histories = await workflowHistories(`127.0.0.1:${ports.temporal}`);
    expect(histories.length).toBeGreaterThanOrEqual(2);
    // The search sees the arguments inside the histories…
    expect(histories.some((h) => h.includes(up.body.runId))).toBe(true);

    await proc.killGroup('SIGTERM');
    await proc.exited;
    const log = proc.output();
    const onDisk = await dataDirTexts(join(dir, 'data'));
    expect(onDisk.length).toBeGreaterThan(5);
    // …and the database's plain text (a remote's settings are not secret).
    expect(onDisk.some(({ text }) => text.includes(emu.jfsUrl))).toBe(true);
    expect(log).toContain('server ready');

    expectNoSecretIn({ answers, log, histories, files: onDisk }, secrets);
  }, 600_000);
});
