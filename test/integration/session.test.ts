import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api, startInProcessKnarr, testAdminKey, type InProcessKnarr } from '../support/knarr.js';

/**
 * The dashboard's sign-in: an API key is exchanged for an HttpOnly, SameSite=Strict cookie and a
 * CSRF token; the cookie works on every /v1 route as the key would, a changing request without
 * the token is refused, and signing out, expiry or revoking the key ends it.
 */
describe('dashboard sessions', () => {
  let k: InProcessKnarr;
  const suffix = randomBytes(3).toString('hex');

  /** A request as the page makes it: the cookie, and the CSRF token when given. */
  const asBrowser = async (method: string, path: string, cookie: string, csrf?: string, body?: unknown) => {
    const res = await fetch(`${k.url}${path}`, {
      method,
      headers: { cookie, ...(csrf ? { 'x-csrf-token': csrf } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  };
  const signIn = async (key: string) => {
    const res = await fetch(`${k.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) });
    return { status: res.status, body: (await res.json()) as any, setCookie: res.headers.get('set-cookie') ?? '' };
  };

  beforeAll(async () => {
    k = await startInProcessKnarr({ databaseUrl: inject('databaseUrl'), temporalUiUrl: 'http://localhost:8233' });
  }, 60_000);
  afterAll(async () => { await k?.stop(); });

  it('signs in with a key: an HttpOnly, SameSite=Strict cookie, a CSRF token, never the key', async () => {
    const bad = await signIn('knarr_not-a-key');
    expect(bad.status).toBe(401);
    expect(bad.body.error.field).toBe('key');
    expect((await signIn('')).status).toBe(400);

    const ok = await signIn(testAdminKey);
    expect(ok.status).toBe(201);
    expect(ok.setCookie).toMatch(/^knarr_session=[A-Za-z0-9_-]{40,};/);
    expect(ok.setCookie).toMatch(/HttpOnly/i);
    expect(ok.setCookie).toMatch(/SameSite=Strict/i);
    expect(ok.body).toMatchObject({ user: { admin: true }, temporalUiUrl: 'http://localhost:8233' });
    expect(ok.body.csrfToken).toMatch(/^[A-Za-z0-9_-]{30,}$/);
    expect(JSON.stringify(ok.body) + ok.setCookie).not.toContain(testAdminKey);
  });

  it('the cookie reads like a key; a change needs the CSRF token; signing out ends it', async () => {
    const { body, setCookie } = await signIn(testAdminKey);
    const cookie = setCookie.split(';')[0];
    expect((await asBrowser('GET', '/v1/remotes', cookie)).status).toBe(200);
    expect((await asBrowser('GET', '/v1/session', cookie)).body).toMatchObject({ user: { admin: true }, csrfToken: body.csrfToken });
    // A page not signed in learns so without an error.
    expect((await asBrowser('GET', '/v1/session', 'other=1')).body).toMatchObject({ user: null, csrfToken: null });

    const remote = { name: `s-${suffix}`, type: 'local', config: { root: '/tmp' } };
    const forged = await asBrowser('POST', '/v1/remotes', cookie, undefined, remote);
    expect(forged.status).toBe(403);
    expect(forged.body.error.code).toBe('csrf');
    expect((await asBrowser('POST', '/v1/remotes', cookie, 'wrong-token-of-the-wrong-length', remote)).status).toBe(403);
    expect((await asBrowser('GET', `/v1/remotes/s-${suffix}`, cookie)).status).toBe(404);

    expect((await asBrowser('DELETE', '/v1/session', cookie)).status).toBe(403);
    const out = await asBrowser('DELETE', '/v1/session', cookie, body.csrfToken);
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/knarr_session=;/);
    const after = await asBrowser('GET', '/v1/remotes', cookie);
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('session_expired');
    expect((await asBrowser('GET', '/v1/session', cookie)).body.user).toBeNull();
  });

  it("revoking the key ends the sessions signed in with it; a user's session sees only their things", async () => {
    const user = await api(k.url, 'POST', '/v1/users', { name: `sess-${suffix}` });
    const made = await api(k.url, 'POST', `/v1/users/${user.body.id}/keys`);
    const { body, setCookie } = await signIn(made.body.key);
    const cookie = setCookie.split(';')[0];
    expect((await asBrowser('GET', '/v1/me', cookie)).body.name).toBe(`sess-${suffix}`);
    expect((await asBrowser('GET', '/v1/users', cookie)).status).toBe(403);
    const created = await asBrowser('POST', '/v1/remotes', cookie, body.csrfToken, { name: `mine-${suffix}`, type: 'local', config: { root: '/tmp' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await api(k.url, 'GET', `/v1/remotes/mine-${suffix}`)).status).toBe(404);

    expect((await api(k.url, 'DELETE', `/v1/users/${user.body.id}/keys/${made.body.id}`)).status).toBe(204);
    expect((await asBrowser('GET', '/v1/remotes', cookie)).status).toBe(401);
  });
});
