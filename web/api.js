// The one way the page talks to knarr: the public /v1 API, same origin, the session cookie, and
// the CSRF token (kept in memory only: a reload asks GET /v1/session for it again).

/** @typedef {{ user: { id: string, name: string, admin: boolean }, csrfToken: string, temporalUiUrl: string | null }} Session */

/** An API refusal, with the server's code, message and field, which the views show as they are. */
export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message @param {string | undefined} field */
  constructor(status, code, message, field) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** @type {string | null} */
let csrfToken = null;
/** @type {Set<() => void>} */
const signedOutListeners = new Set();

/** Called when any call answers 401: the session ended (signed out elsewhere, expired). */
export function onSignedOut(fn) {
  signedOutListeners.add(fn);
  return () => signedOutListeners.delete(fn);
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function request(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = data && data.error;
    if (res.status === 401 && path !== '/v1/session') for (const fn of signedOutListeners) fn();
    throw new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? `${method} ${path} answered ${res.status} ${res.statusText}`, e?.field);
  }
  return data;
}

export const get = (/** @type {string} */ path) => request('GET', path);
export const post = (/** @type {string} */ path, /** @type {unknown} */ body = {}) => request('POST', path, body);
export const put = (/** @type {string} */ path, /** @type {unknown} */ body) => request('PUT', path, body);
export const del = (/** @type {string} */ path) => request('DELETE', path);

/** Every page of a list route (`{data, next}`), for the small lists the dashboard shows. */
export async function getAll(path) {
  const out = [];
  let after = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(after === null ? path : `${path}${sep}after=${encodeURIComponent(after)}`);
    out.push(...page.data);
    after = page.next;
  } while (after);
  return out;
}

/** The session the cookie holds, or null when signed out. @returns {Promise<Session | null>} */
export async function currentSession() {
  try {
    const s = await get('/v1/session');
    csrfToken = s.csrfToken;
    return s.user ? s : null;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

/** @param {string} key @returns {Promise<Session>} */
export async function signIn(key) {
  const s = await request('POST', '/v1/session', { key });
  csrfToken = s.csrfToken;
  return s;
}

export async function signOut() {
  try {
    await request('DELETE', '/v1/session');
  } finally {
    csrfToken = null;
  }
}

/** `remote:path` as the API's locations read. */
export const location = (/** @type {string} */ remote, /** @type {string} */ path) => `${remote}:${path}`;

/** The path part of a URL for one remote. */
export const remotePath = (/** @type {string} */ name, suffix = '') => `/v1/remotes/${encodeURIComponent(name)}${suffix}`;
