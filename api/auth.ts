import type { RequestHandler, Response } from 'express';
import type { Db } from '../db/client.js';
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

/** Every request but the public ones carries `Authorization: Bearer <key>` of a live key. */
export function authenticate(db: Db, hasher: KeyHasher): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization');
    if (!header) {
      throw new ApiError(401, 'unauthorized', 'this request needs an API key: send "Authorization: Bearer <key>" (knarr server prints the admin key on first start and writes it to admin.key in its data directory)');
    }
    const key = bearer.exec(header)?.[1];
    if (!key) throw new ApiError(401, 'unauthorized', 'the Authorization header must be "Bearer <key>"');
    const user = await userByKeyHash(db, hasher.hash(key));
    if (!user) throw new ApiError(401, 'invalid_key', 'this API key is not valid (mistyped, or revoked): ask an admin for a new one');
    res.locals.caller = { id: user.id, name: user.name, admin: user.isAdmin } satisfies Caller;
    next();
  };
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
