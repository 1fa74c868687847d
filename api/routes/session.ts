import { randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { deleteSession, insertSession, keyByHash } from '../../db/queries/sessions.js';
import { cookieOf, identify, sessionCookie } from '../auth.js';
import { ApiError, parseBody } from '../errors.js';
import type { KeyHasher } from '../keys.js';

/** How long a dashboard sign-in lasts. */
const sessionLifetimeMs = 12 * 3_600_000;

const signInSchema = z.strictObject({ key: z.string({ error: 'key is required: the API key to sign in with' }).trim().min(1, { message: 'key is required: the API key to sign in with' }) });

export interface SessionDeps {
  db: Db;
  hasher: KeyHasher;
  /** Where Temporal Web shows this knarr's workflows, for the run page's link; null when unknown. */
  temporalUiUrl: string | null;
  /** The browser reaches knarr over https: the cookie is Secure. */
  secure: boolean;
}

/**
 * `POST /v1/session`: the dashboard signs in with an API key, which stays on the server: the
 * browser gets an HttpOnly, SameSite=Strict cookie and a CSRF token for its changing requests.
 * `GET /v1/session`: who is signed in, and the CSRF token again after a reload; a page that is
 * not signed in learns so from `user: null` (an answer, not an error: it is how the page starts).
 */
export function signInRouter(deps: SessionDeps): Router {
  const r = Router();
  r.get('/', async (req, res) => {
    const who = await identify(deps.db, deps.hasher, req).catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 401) return null;
      throw err;
    });
    res.set('cache-control', 'no-store').json({ user: who?.caller ?? null, csrfToken: who?.csrf ?? null, temporalUiUrl: deps.temporalUiUrl });
  });
  r.post('/', async (req, res) => {
    const { key } = parseBody(signInSchema, req.body);
    const found = await keyByHash(deps.db, deps.hasher.hash(key));
    if (!found) throw new ApiError(401, 'invalid_key', 'this API key is not valid (mistyped, or revoked): ask an admin for a new one', 'key');
    const token = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    await insertSession(deps.db, { tokenHash: deps.hasher.hash(token), apiKeyId: found.keyId, csrf, expiresAt: new Date(Date.now() + sessionLifetimeMs) });
    res.cookie(sessionCookie, token, { httpOnly: true, sameSite: 'strict', path: '/', maxAge: sessionLifetimeMs, secure: deps.secure || req.secure });
    res.status(201).json({ user: { id: found.user.id, name: found.user.name, admin: found.user.isAdmin }, csrfToken: csrf, temporalUiUrl: deps.temporalUiUrl });
  });
  return r;
}

/** `DELETE /v1/session`: sign out. */
export function sessionRouter(deps: SessionDeps): Router {
  const r = Router();
  r.delete('/', async (req: Request, res: Response) => {
    const token = cookieOf(req, sessionCookie);
    if (token) await deleteSession(deps.db, deps.hasher.hash(token));
    res.clearCookie(sessionCookie, { httpOnly: true, sameSite: 'strict', path: '/', secure: deps.secure || req.secure });
    res.status(204).end();
  });
  return r;
}
