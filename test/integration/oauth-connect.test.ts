import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDriveEmulator, type DriveEmulator } from '../fakes/drive/index.js';
import { api, startInProcessKnarr, waitForRun, type InProcessKnarr } from '../support/knarr.js';

/**
 * Connecting a Google Drive account the way a person does, through the API: knarr answers the
 * consent page's address, the (emulated) provider approves and sends the browser back to
 * knarr's callback, and the remote exists only once its tokens work. Then the account's access
 * is revoked in the middle of a run: the run waits with a reconnect link in its reason, the
 * person follows it, and the run goes on where it stopped.
 */
describe('OAuth connect flow (Google Drive emulator)', () => {
  const id = randomBytes(3).toString('hex');
  let emu: DriveEmulator;
  let k: InProcessKnarr;
  let bare: InProcessKnarr;
  let dir: string;

  /** The emulator's endpoints without a token: what a person gives to connect through the consent page. */
  const endpoints = () => {
    const { apiUrl, authUrl, tokenUrl } = emu.remoteConfig();
    return { apiUrl, authUrl, tokenUrl };
  };

  /** What a browser does with an authorization URL: the provider's page approves, and its redirect lands on knarr's callback. */
  const approve = async (authorizationUrl: string): Promise<{ status: number; page: string; callback: string }> => {
    const consent = await fetch(authorizationUrl, { redirect: 'manual' });
    expect(consent.status).toBe(302);
    const callback = consent.headers.get('location')!;
    const landed = await fetch(callback);
    return { status: landed.status, page: await landed.text(), callback };
  };

  beforeAll(async () => {
    emu = await startDriveEmulator();
    dir = await mkdtemp(join(tmpdir(), 'knarr-oauth-'));
    k = await startInProcessKnarr({ databaseUrl: inject('databaseUrl'), oauthClients: { GOOGLE: { clientId: emu.clientId, clientSecret: emu.clientSecret } } });
    // A server whose operator set no Google client.
    bare = await startInProcessKnarr({ databaseUrl: inject('databaseUrl'), worker: false });
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([k?.stop(), bare?.stop()]);
    await emu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('without an operator client, says which variables to set', async () => {
    const r = await api(bare.url, 'POST', '/v1/remotes', { name: `gd-none-${id}`, type: 'drive', config: endpoints() });
    expect(r.status).toBe(422);
    expect(r.body.error.message).toContain('KNARR_GOOGLE_CLIENT_ID');
  });

  it('POST /v1/remotes without a token answers the consent URL; the callback makes the remote once it lists', async () => {
    await emu.seed('Photos/a.jpg', 'jpeg bytes');
    const name = `gd-${id}`;
    const r = await api(k.url, 'POST', '/v1/remotes', { name, type: 'drive', config: endpoints() });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const url = new URL(r.body.authorizationUrl);
    expect(url.searchParams.get('client_id')).toBe(emu.clientId);
    expect(url.searchParams.get('redirect_uri')).toBe(`${k.url}/v1/oauth/callback`);
    expect(url.searchParams.get('access_type')).toBe('offline');
    expect(Date.parse(r.body.expiresAt)).toBeGreaterThan(Date.now());
    // Nothing is saved before the approval comes back.
    expect((await api(k.url, 'GET', `/v1/remotes/${name}`)).status).toBe(404);

    const landed = await approve(r.body.authorizationUrl);
    expect(landed.status, landed.page).toBe(200);
    expect(landed.page).toContain('data-outcome="connected"');
    const remote = await api(k.url, 'GET', `/v1/remotes/${name}`);
    expect(remote.status).toBe(200);
    expect(remote.body.config).toMatchObject({ clientId: emu.clientId, apiUrl: emu.url });
    // The tokens and the client secret are sealed, never shown.
    expect(JSON.stringify(remote.body)).not.toContain(emu.clientSecret);
    expect(JSON.stringify(remote.body)).not.toMatch(/access_token|refresh_token/);
    const ls = await api(k.url, 'GET', `/v1/remotes/${name}/ls?path=Photos`);
    expect(ls.body.data.map((e: { name: string }) => e.name)).toEqual(['a.jpg']);

    // The state is spent: the same callback again changes nothing and says so.
    const again = await fetch(landed.callback);
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('expired');
  });

  it('a refusal at the consent page saves nothing and says what the provider said', async () => {
    const name = `gd-refused-${id}`;
    const r = await api(k.url, 'POST', '/v1/remotes', { name, type: 'drive', config: endpoints() });
    const state = new URL(r.body.authorizationUrl).searchParams.get('state')!;
    const landed = await fetch(`${k.url}/v1/oauth/callback?state=${encodeURIComponent(state)}&error=access_denied`);
    expect(landed.status).toBe(400);
    const page = await landed.text();
    expect(page).toContain('access_denied');
    expect(page).toContain('Nothing was saved');
    expect((await api(k.url, 'GET', `/v1/remotes/${name}`)).status).toBe(404);
  });

  it("another user's approval never makes a remote for this user", async () => {
    const user = await api(k.url, 'POST', '/v1/users', { name: `oauth-other-${id}` });
    const key = (await api(k.url, 'POST', `/v1/users/${user.body.id}/keys`)).body.key as string;
    const r = await api(k.url, 'POST', '/v1/remotes', { name: `theirs-${id}`, type: 'drive', config: endpoints() }, { key });
    expect((await approve(r.body.authorizationUrl)).status).toBe(200);
    expect((await api(k.url, 'GET', `/v1/remotes/theirs-${id}`, undefined, { key })).status).toBe(200);
    expect((await api(k.url, 'GET', `/v1/remotes/theirs-${id}`)).status).toBe(404);
  });

  it('a pasted rclone token is renewed with the operator client; refused when no client is known', async () => {
    const token = emu.issueToken();
    const made = await api(k.url, 'POST', '/v1/remotes', { name: `gd-pasted-${id}`, type: 'drive', config: { ...endpoints(), token: JSON.stringify(token) } });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expect(made.body.config.clientId).toBe(emu.clientId);
    // New secrets must be given: an empty reconnect body is the caller's mistake, and says where to go instead.
    const empty = await api(k.url, 'PUT', `/v1/remotes/gd-pasted-${id}/credentials`, {});
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toContain(`/v1/remotes/gd-pasted-${id}/reconnect`);
    const refused = await api(bare.url, 'POST', '/v1/remotes', { name: `gd-pasted-bare-${id}`, type: 'drive', config: { ...endpoints(), token } });
    expect(refused.status).toBe(422);
    expect(refused.body.error.message).toContain('config.clientId');
    const malformed = await api(k.url, 'POST', '/v1/remotes', { name: `gd-bad-${id}`, type: 'drive', config: { ...endpoints(), token: '{"access_token":"x"}' } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.message).toContain('rclone authorize');
  });

  it('a revoked account: the run waits with a reconnect link in its reason; following it lets the run finish', async () => {
    const name = `gd-revoked-${id}`;
    const r = await api(k.url, 'POST', '/v1/remotes', { name, type: 'drive', config: endpoints() });
    expect((await approve(r.body.authorizationUrl)).status).toBe(200);
    await writeFile(join(dir, 'note.txt'), 'hello drive');
    expect((await api(k.url, 'POST', '/v1/remotes', { name: `src-${id}`, type: 'local', config: { root: dir } })).status).toBe(201);

    // A previewed run: the account is revoked while the plan waits for approval, so the copy meets it.
    const job = await api(k.url, 'POST', '/v1/jobs', { source: `src-${id}:`, destination: `${name}:backup`, mode: 'copy', options: { dryRun: true } });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const planned = await waitForRun(k.url, job.body.runId, 120_000, (run) => run.state === 'awaiting_approval');
    emu.oauth.revoke();
    emu.oauth.expireAccessTokens();
    const approved = await api(k.url, 'POST', `/v1/runs/${job.body.runId}/approve`, { digest: planned.plan.digest });
    expect(approved.status, JSON.stringify(approved.body)).toBe(202);
    const waiting = await waitForRun(k.url, job.body.runId, 120_000, (run) => run.state === 'needs_reconnect');
    const link = /approving knarr again at (\S+)/.exec(waiting.waiting.reason)?.[1];
    expect(link, waiting.waiting.reason).toBeDefined();
    expect(new URL(link!).origin).toBe(emu.url);

    const landed = await approve(link!);
    expect(landed.status, landed.page).toBe(200);
    expect(landed.page).toContain('Reconnected');
    const run = await waitForRun(k.url, job.body.runId, 120_000);
    expect(run.state).toBe('completed');
    expect((await emu.readFile('backup/note.txt')).toString()).toBe('hello drive');
  });
});
