import { randomBytes, X509Certificate } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isConnectorError } from '../../connectors/errors.js';
import { createJottacloudConnector, type JottacloudConfig, type JottacloudConnector } from '../../connectors/jottacloud/index.js';
import { unrestrictedHost } from '../../connectors/types.js';
import { bufferSource, collect, md5, readAll } from '../conformance/suite.js';
import { startJottacloudEmulator, type JottaEmulator } from '../fakes/jottacloud/index.js';
import { api, startInProcessKnarr, waitForRun, type InProcessKnarr } from '../support/knarr.js';
import { memoryCredentials } from '../support/memoryCredentials.js';

/**
 * Telia Cloud and Telia Sky run on Jottacloud's file API, with accounts in their own Keycloak
 * realms (shared/specs/jottacloud-api.md §2.6: telia_se at cloud-auth.telia.se, realm `get` at
 * sky-auth.telia.no, public client `desktop`). The emulator serves those realms; each of its
 * accounts belongs to one realm, and its sessions refresh only at that realm with that client.
 */

const labels = [
  { whiteLabel: 'telia_se', realm: 'telia_se', name: 'Telia Cloud' },
  { whiteLabel: 'telia_no', realm: 'get', name: 'Telia Sky' },
] as const;

describe('a white-label remote, connector level', () => {
  let emu: JottaEmulator;
  const open: JottacloudConnector[] = [];

  beforeAll(async () => {
    emu = await startJottacloudEmulator();
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    await emu?.stop();
  });

  /** A remote of a fresh account of `realm`, from the token object its login page would give (pasted). */
  const pasted = (label: (typeof labels)[number], config: Partial<JottacloudConfig> = {}, token?: Record<string, unknown>) => {
    const account = emu.addAccount(`${label.realm}-${randomBytes(3).toString('hex')}`, { realm: label.realm });
    const credentials = memoryCredentials({ token: token ?? emu.issueToken(account) });
    const connector = createJottacloudConnector(
      { whiteLabel: label.whiteLabel, tokenUrl: emu.realmUrls(label.realm).tokenUrl, jfsUrl: emu.jfsUrl, apiUrl: emu.apiUrl, ...config },
      { host: unrestrictedHost, remoteName: 'telia', credentials },
    );
    open.push(connector);
    return { account, credentials, connector };
  };

  it.each(labels)("$name: refreshes at the realm's token endpoint with its client, and lists and writes the account", async (label) => {
    // An access token that has lapsed already: the first request must refresh it.
    const { account, credentials, connector } = pasted(label);
    const [session] = emu.sessions(account);
    expect(session).toMatchObject({ realm: label.realm, clientId: 'desktop', refreshes: 0 });
    const lapsed = { ...emu.issueToken(account), expiry: new Date(Date.now() - 60_000).toISOString() };
    await credentials.update(async () => ({ token: lapsed }));

    const logStart = emu.log.length;
    const data = randomBytes(70_000);
    await connector.write('photos/2024/a.jpg', bufferSource(data));
    const tokenCalls = emu.log.slice(logStart).filter((e) => e.role === 'token');
    expect(tokenCalls.map((e) => [e.method, e.path, e.status])).toEqual([['POST', `/auth/realms/${label.realm}/protocol/openid-connect/token`, 200]]);
    const sessions = emu.sessions(account);
    expect(sessions).toHaveLength(2);
    expect(sessions[1]).toMatchObject({ realm: label.realm, clientId: 'desktop', refreshes: 1, revoked: false });

    expect(emu.file('Jotta/Archive/photos/2024/a.jpg', account)).toMatchObject({ size: data.length, md5: md5(data) });
    const { entries } = await collect(connector.list('photos/2024'));
    expect(entries.map((e) => [e.path, e.size, e.hashes.md5])).toEqual([['photos/2024/a.jpg', data.length, md5(data)]]);
    expect((await readAll(await connector.read('photos/2024/a.jpg'))).equals(data)).toBe(true);

    // Only tokens are kept: the pasted object is gone, the realm and its client are remembered.
    const stored = credentials.snapshot();
    expect(stored.token).toBeUndefined();
    expect(stored).toMatchObject({ tokenEndpoint: emu.realmUrls(label.realm).tokenUrl, clientId: 'desktop' });

    // Rotation goes on as for Jottacloud itself (§2.5): a second refresh, no reuse.
    emu.faults.expireAccessTokens(account);
    await connector.mkdir('after-expiry');
    expect(emu.sessions(account)[1]).toMatchObject({ refreshes: 2, revoked: false });
    expect(emu.authStats().reuseDetected).toBe(0);
  });

  it("refuses a token of one realm at another realm's endpoint", async () => {
    const se = labels[0];
    const account = emu.addAccount(`cross-${randomBytes(3).toString('hex')}`, { realm: se.realm });
    const lapsed = { ...emu.issueToken(account), expiry: new Date(0).toISOString() };
    const wrong = createJottacloudConnector(
      { whiteLabel: 'telia_se', tokenUrl: emu.realmUrls('get').tokenUrl, jfsUrl: emu.jfsUrl, apiUrl: emu.apiUrl },
      { host: unrestrictedHost, remoteName: 'telia', credentials: memoryCredentials({ token: lapsed }) },
    );
    open.push(wrong);
    const err = await collect(wrong.list('')).then(() => undefined, (e: unknown) => e);
    expect(isConnectorError(err, 'auth'), String(err)).toBe(true);
    expect(String((err as Error).message)).toMatch(/invalid_grant/);
  });

  it.each(labels)("$name: a revoked session is an auth error that says to reconnect through the label's login page", async (label) => {
    const { account, connector } = pasted(label);
    await connector.mkdir('before');
    expect(emu.revokeRealmSessions(label.realm, account)).toBe(1);
    const err = await collect(connector.list('')).then(() => undefined, (e: unknown) => e);
    expect(isConnectorError(err, 'auth'), String(err)).toBe(true);
    const message = (err as Error).message;
    expect(message).toContain(`${label.name} refused the credentials of remote "telia"`);
    expect(message).toContain(`Reconnect the remote "telia" through the ${label.name} login page`);
    expect(message).not.toMatch(/Account → Security/);
    // No secret in what a user or a log sees.
    for (const t of emu.issuedTokens()) expect(message).not.toContain(t);
  });

  it('does not take a Personal Login Token for a white-label remote, even put in its credentials afterwards', async () => {
    const jotta = emu.issueLoginToken();
    const c = createJottacloudConnector(
      { whiteLabel: 'telia_se', tokenUrl: emu.realmUrls('telia_se').tokenUrl, jfsUrl: emu.jfsUrl, apiUrl: emu.apiUrl },
      { host: unrestrictedHost, remoteName: 'telia', credentials: memoryCredentials({ loginToken: jotta }) },
    );
    open.push(c);
    const err = await collect(c.list('')).then(() => undefined, (e: unknown) => e);
    expect(isConnectorError(err, 'auth'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/Personal Login Token cannot connect this remote.*Telia Cloud login page/);
  });
});

describe('a white-label remote connected through the API (the login page, then a copy job)', () => {
  let emu: JottaEmulator;
  let k: InProcessKnarr;
  let dir: string;
  const suffix = randomBytes(3).toString('hex');
  const files: Record<string, Buffer> = { 'notes.txt': Buffer.from('hello Telia\n'), 'pics/one.bin': randomBytes(40_000), 'pics/two.bin': randomBytes(3_000) };

  beforeAll(async () => {
    emu = await startJottacloudEmulator();
    k = await startInProcessKnarr({ databaseUrl: inject('databaseUrl') });
    dir = await mkdtemp(join(tmpdir(), 'knarr-telia-'));
    for (const [p, data] of Object.entries(files)) {
      await mkdir(join(dir, 'src', p, '..'), { recursive: true });
      await writeFile(join(dir, 'src', p), data);
    }
    const src = await api(k.url, 'POST', '/v1/remotes', { name: `src-${suffix}`, type: 'local', config: { root: join(dir, 'src') } });
    expect(src.status, JSON.stringify(src.body)).toBe(201);
  });
  afterAll(async () => {
    await k?.stop();
    await emu?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each(labels)('$name: connects through its login page, lists the account, and takes a copy job', async (label) => {
    // The realm's only account: the login page approves as it.
    const account = emu.addAccount(`${label.realm}-user-${suffix}`, { realm: label.realm });
    const { authUrl, tokenUrl } = emu.realmUrls(label.realm);
    const name = `${label.whiteLabel.replace('_', '-')}-${suffix}`;

    const created = await api(k.url, 'POST', '/v1/remotes', { name, type: 'jottacloud', config: { whiteLabel: label.whiteLabel, authUrl, tokenUrl, jfsUrl: emu.jfsUrl, apiUrl: emu.apiUrl } });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect(Date.parse(created.body.expiresAt)).toBeGreaterThan(Date.now());
    const authorization = new URL(created.body.authorizationUrl as string);
    expect(authorization.href.startsWith(`${authUrl}?`)).toBe(true);
    expect(Object.fromEntries(authorization.searchParams)).toMatchObject({
      client_id: 'desktop',
      response_type: 'code',
      scope: 'openid jotta-default offline_access',
      redirect_uri: `${k.url}/v1/oauth/callback`,
    });
    // Nothing is saved before the approval comes back.
    expect((await api(k.url, 'GET', `/v1/remotes/${name}`)).status).toBe(404);

    const login = await fetch(authorization, { redirect: 'manual' });
    expect(login.status).toBe(302);
    const back = new URL(login.headers.get('location') as string);
    expect(`${back.origin}${back.pathname}`).toBe(`${k.url}/v1/oauth/callback`);
    expect(back.searchParams.get('state')).toBe(authorization.searchParams.get('state'));
    expect(back.searchParams.get('code')).toBeTruthy();

    // The browser carries no API key: the state names the user.
    const page = await fetch(back, { redirect: 'manual' });
    const html = await page.text();
    expect(page.status, html).toBe(200);
    expect(html).toContain('data-outcome="connected"');
    expect(html.replaceAll('&#34;', '"')).toContain(`remote "${name}" is connected to ${label.name}`);
    expect(emu.authStats().codeGrants).toBeGreaterThanOrEqual(1);
    // The session is the realm's, with its public client.
    expect(emu.sessions(account).map((s) => [s.realm, s.clientId, s.revoked])).toEqual([[label.realm, 'desktop', false]]);

    const view = await api(k.url, 'GET', `/v1/remotes/${name}`);
    expect(view.status, JSON.stringify(view.body)).toBe(200);
    expect(view.body).toMatchObject({ name, type: 'jottacloud', config: { whiteLabel: label.whiteLabel, clientId: 'desktop', tokenUrl } });
    expect(JSON.stringify(view.body)).not.toMatch(/access_token|refresh_token|"token"/);

    const empty = await api(k.url, 'GET', `/v1/remotes/${name}/ls`);
    expect(empty.status, JSON.stringify(empty.body)).toBe(200);
    expect(empty.body.data).toEqual([]);

    const job = await api(k.url, 'POST', '/v1/jobs', { source: `src-${suffix}:`, destination: `${name}:`, mode: 'copy' });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const run = await waitForRun(k.url, job.body.runId, 120_000);
    expect(run.state, JSON.stringify(run)).toBe('completed');
    expect(run.files).toMatchObject({ done: 3, total: 3, failed: 0 });
    for (const [p, data] of Object.entries(files)) {
      expect(emu.file(`Jotta/Archive/${p}`, account), p).toMatchObject({ size: data.length, md5: md5(data), deleted: false });
    }

    const listed = await api(k.url, 'GET', `/v1/remotes/${name}/ls`);
    expect(listed.status, JSON.stringify(listed.body)).toBe(200);
    expect((listed.body.data as { name?: string; path?: string }[]).map((e) => e.name ?? e.path).sort()).toEqual(['notes.txt', 'pics']);

    // The service ends the session: the remote says to use the login page again, and that mends it.
    expect(emu.revokeRealmSessions(label.realm, account)).toBe(1);
    const refused = await api(k.url, 'GET', `/v1/remotes/${name}/ls`);
    expect(refused.status, JSON.stringify(refused.body)).toBe(422);
    expect(JSON.stringify(refused.body)).toContain(`through the ${label.name} login page`);
    const again = await api(k.url, 'POST', `/v1/remotes/${name}/reconnect`);
    expect(again.status, JSON.stringify(again.body)).toBe(202);
    const relogin = await fetch(again.body.authorizationUrl as string, { redirect: 'manual' });
    expect(relogin.status).toBe(302);
    const reconnected = await fetch(relogin.headers.get('location') as string, { redirect: 'manual' });
    expect(reconnected.status, await reconnected.text()).toBe(200);
    expect(emu.sessions(account).map((s) => s.revoked)).toEqual([true, false]);
    expect((await api(k.url, 'GET', `/v1/remotes/${name}/ls`)).status).toBe(200);
  }, 180_000);
});

describe("the emulator's white-label realms (§2.6)", () => {
  let emu: JottaEmulator;
  let account: string;
  const redirect = 'http://127.0.0.1:9/cb';

  beforeAll(async () => {
    emu = await startJottacloudEmulator({ tls: true });
    account = emu.addAccount(`se-${randomBytes(3).toString('hex')}`, { realm: 'telia_se' });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  /** HTTPS to the emulator as `host` (the name rclone would dial), trusting only its CA. */
  const asHost = (host: string, path: string, init: { method?: string; body?: string } = {}) =>
    new Promise<{ status: number; location?: string; text: string }>((resolve, reject) => {
      const req = httpsRequest(
        { host: emu.host, port: emu.port, path, method: init.method ?? 'GET', servername: host, ca: emu.caCert, headers: { host, ...(init.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, text }));
        },
      );
      req.on('error', reject);
      req.end(init.body);
    });
  const authorizeAt = (host: string, realm: string, params: Record<string, string>) =>
    asHost(host, `/auth/realms/${realm}/protocol/openid-connect/auth?${new URLSearchParams({ response_type: 'code', redirect_uri: redirect, state: 's1', scope: 'openid offline_access', ...params })}`);
  const tokenAt = (host: string, realm: string, form: Record<string, string>) =>
    asHost(host, `/auth/realms/${realm}/protocol/openid-connect/token`, { method: 'POST', body: new URLSearchParams(form).toString() }).then((r) => ({ ...r, json: JSON.parse(r.text) as Record<string, unknown> }));

  it("carries the Telia login hosts in its certificate, and each host serves only its realm", async () => {
    const cert = (await new Promise<X509Certificate>((resolve, reject) => {
      const req = httpsRequest({ host: emu.host, port: emu.port, servername: 'sky-auth.telia.no', ca: emu.caCert, path: '/' }, (res) => {
        resolve(new X509Certificate((res.socket as import('node:tls').TLSSocket).getPeerCertificate().raw));
        res.resume();
      });
      req.on('error', reject);
      req.end();
    }));
    expect(cert.checkHost('cloud-auth.telia.se')).toBe('cloud-auth.telia.se');
    expect(cert.checkHost('sky-auth.telia.no')).toBe('sky-auth.telia.no');

    const doc = await asHost('sky-auth.telia.no', '/auth/realms/get/.well-known/openid-configuration');
    expect(doc.status).toBe(200);
    expect(JSON.parse(doc.text)).toMatchObject({
      issuer: 'https://sky-auth.telia.no/auth/realms/get',
      authorization_endpoint: 'https://sky-auth.telia.no/auth/realms/get/protocol/openid-connect/auth',
      token_endpoint: 'https://sky-auth.telia.no/auth/realms/get/protocol/openid-connect/token',
    });
    expect((await asHost('sky-auth.telia.no', '/auth/realms/telia_se/.well-known/openid-configuration')).status).toBe(404);
    expect((await asHost('cloud-auth.telia.se', '/auth/realms/nope/.well-known/openid-configuration')).status).toBe(404);
  });

  it('exchanges a login-page code once, for its client and redirect_uri only, and refreshes with rotation', async () => {
    const host = 'cloud-auth.telia.se';
    expect((await authorizeAt(host, 'telia_se', { client_id: 'jottacli' })).status).toBe(400);
    // An account of another realm cannot log in here.
    const jotta = await authorizeAt(host, 'telia_se', { client_id: 'desktop', login_hint: emu.defaultAccount });
    expect(jotta.status).toBe(400);

    const page = await authorizeAt(host, 'telia_se', { client_id: 'desktop' });
    expect(page.status).toBe(302);
    const back = new URL(page.location as string);
    expect(`${back.origin}${back.pathname}`).toBe(redirect);
    expect(back.searchParams.get('state')).toBe('s1');
    const code = back.searchParams.get('code') as string;

    expect((await tokenAt(host, 'telia_se', { grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:9/other', client_id: 'desktop' })).json.error).toBe('invalid_grant');
    const first = await tokenAt(host, 'telia_se', { grant_type: 'authorization_code', code, redirect_uri: redirect, client_id: 'desktop' });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    const spent = await tokenAt(host, 'telia_se', { grant_type: 'authorization_code', code, redirect_uri: redirect, client_id: 'desktop' });
    expect(spent).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });

    // No Personal Login Tokens at a white-label realm.
    const password = await tokenAt(host, 'telia_se', { grant_type: 'password', client_id: 'desktop', username: account, password: 'x' });
    expect(password).toMatchObject({ status: 400, json: { error: 'unauthorized_client' } });

    // A refresh by another client is refused without consuming the token; the right one rotates it.
    const rt = first.json.refresh_token as string;
    expect((await tokenAt(host, 'telia_se', { grant_type: 'refresh_token', refresh_token: rt, client_id: 'desktop-win' })).status).toBe(401);
    expect((await tokenAt('id.jottacloud.com', 'jottacloud', { grant_type: 'refresh_token', refresh_token: rt, client_id: 'desktop' })).json.error).toBe('invalid_grant');
    const rotated = await tokenAt(host, 'telia_se', { grant_type: 'refresh_token', refresh_token: rt, client_id: 'desktop' });
    expect(rotated.status).toBe(200);
    expect(rotated.json.refresh_token).not.toBe(rt);
    // §2.5: the spent one again ends the whole family.
    const reused = await tokenAt(host, 'telia_se', { grant_type: 'refresh_token', refresh_token: rt, client_id: 'desktop' });
    expect(reused).toMatchObject({ status: 400, json: { error: 'invalid_grant', error_description: "Session doesn't have required client" } });
    const dead = await tokenAt(host, 'telia_se', { grant_type: 'refresh_token', refresh_token: rotated.json.refresh_token as string, client_id: 'desktop' });
    expect(dead.json.error).toBe('invalid_grant');
  });
});
