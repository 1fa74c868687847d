import { timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Db } from '../db/client.js';
import { sessionByHash } from '../db/queries/sessions.js';
import { userByKeyHash } from '../db/queries/users.js';
import { ApiError } from './errors.js';
import type { KeyHasher } from './keys.js';

/** Who is calling, once their key was checked. Every query a route makes is scoped by `id`. */
export interface Caller {
  id: string;
  name: string;
  admin: boolean;
}

const bearer = /^Bearer ([^\s]+)$/i;

/** The dashboard's session cookie: HttpOnly, SameSite=Strict; its token is stored only as a hash. */
export const sessionCookie = 'knarr_session';

/** Methods that change nothing: a session needs no CSRF token for these. */
const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Every request but the public ones carries `Authorization: Bearer <key>` of a live key, or the
 * dashboard's session cookie; a changing request on a cookie also echoes the session's CSRF token
 * in `x-csrf-token` (SameSite=Strict already keeps other sites' requests from carrying the
 * cookie; the token holds even where a browser does not).
 */
export function authenticate(db: Db, hasher: KeyHasher): RequestHandler {
  return async (req, res, next) => {
    const who = await identify(db, hasher, req);
    if (!who) {
      throw new ApiError(401, 'unauthorized', 'this request needs an API key: send "Authorization: Bearer <key>" (knarr server prints the admin key on first start and writes it to admin.key in its data directory)');
    }
    if (who.csrf !== null && !safeMethods.has(req.method) && !sameToken(req.get('x-csrf-token'), who.csrf)) {
      throw new ApiError(403, 'csrf', 'this request from the dashboard lacks its CSRF token (x-csrf-token): reload the page');
    }
    res.locals.caller = who.caller;
    res.locals.csrf = who.csrf;
    next();
  };
}

/**
 * Who sent the request: by its Bearer key, else by its session cookie (with the session's CSRF
 * token); null when it carries neither. A key or session that is not (or no longer) valid is a 401.
 */
export async function identify(db: Db, hasher: KeyHasher, req: Request): Promise<{ caller: Caller; csrf: string | null } | null> {
  const header = req.get('authorization');
  if (header) {
    const key = bearer.exec(header)?.[1];
    if (!key) throw new ApiError(401, 'unauthorized', 'the Authorization header must be "Bearer <key>"');
    const user = await userByKeyHash(db, hasher.hash(key));
    if (!user) throw new ApiError(401, 'invalid_key', 'this API key is not valid (mistyped, or revoked): ask an admin for a new one');
    return { caller: { id: user.id, name: user.name, admin: user.isAdmin }, csrf: null };
  }
  const token = cookieOf(req, sessionCookie);
  if (!token) return null;
  const session = await sessionByHash(db, hasher.hash(token));
  if (!session) throw new ApiError(401, 'session_expired', 'this sign-in has ended (it expired, you signed out, or its key was revoked): sign in again');
  return { caller: { id: session.user.id, name: session.user.name, admin: session.user.isAdmin }, csrf: session.csrf };
}

/** A cookie of the request, by name (Express has no cookie parser of its own). */
export function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

function sameToken(given: string | undefined, expected: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function callerOf(res: Response): Caller {
  const caller = res.locals.caller as Caller | undefined;
  if (!caller) throw new Error('route mounted before authenticate()');
  return caller;
}

export function requireAdmin(res: Response): Caller {
  const caller = callerOf(res);
  if (!caller.admin) throw new ApiError(403, 'forbidden', 'only an admin may manage users and their keys');
  return caller;
}
