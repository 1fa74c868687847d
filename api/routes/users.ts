import { Router } from 'express';
import type { Db } from '../../db/client.js';
import { isUniqueViolation } from '../../db/errors.js';
import { getUser, insertKey, insertUser, keyView, listKeys, listUsers, revokeKey, userView } from '../../db/queries/users.js';
import { callerOf, requireAdmin } from '../auth.js';
import { ApiError, parseBody } from '../errors.js';
import { keyPrefix, newApiKey, type KeyHasher } from '../keys.js';
import { page, pageQuery } from '../pagination.js';
import { isUuid } from '../ids.js';
import { createUserSchema, emptyBodySchema } from '../schemas.js';


/**
 * Users and their keys. Admins make users and keys for anyone; a user may list, make and revoke
 * their own keys (to rotate one without an admin). Another user's id answers 404.
 */
export function usersRouter(deps: { db: Db; hasher: KeyHasher }): Router {
  const r = Router();

  r.post('/', async (req, res) => {
    requireAdmin(res);
    const { name } = parseBody(createUserSchema, req.body);
    try {
      const user = await insertUser(deps.db, name);
      res.status(201).location(`/v1/users/${user.id}`).json(userView(user));
    } catch (err) {
      if (isUniqueViolation(err)) throw new ApiError(409, 'name_taken', `a user named "${name}" already exists`, 'name');
      throw err;
    }
  });

  r.get('/', async (req, res) => {
    requireAdmin(res);
    const q = pageQuery(req, 100, isUuid);
    res.json(page(await listUsers(deps.db, q.after, q.limit), q.limit, (u) => u.id, userView));
  });

  const userOrSelf = async (res: Parameters<typeof callerOf>[0], id: string) => {
    const caller = callerOf(res);
    if (!caller.admin && caller.id !== id) throw new ApiError(404, 'not_found', `no user with id "${id}"`);
    const user = isUuid(id) ? await getUser(deps.db, id) : undefined;
    if (!user) throw new ApiError(404, 'not_found', `no user with id "${id}"`);
    return user;
  };

  r.get('/:id', async (req, res) => {
    res.json(userView(await userOrSelf(res, req.params.id)));
  });

  r.post('/:id/keys', async (req, res) => {
    parseBody(emptyBodySchema, req.body);
    const user = await userOrSelf(res, req.params.id);
    const key = newApiKey();
    const row = await insertKey(deps.db, user.id, deps.hasher.hash(key), keyPrefix(key));
    if (!row) throw new Error('a new random key collided with a stored one');
    // The only time the key is ever shown.
    res.status(201).json({ ...keyView(row), key });
  });

  r.get('/:id/keys', async (req, res) => {
    const user = await userOrSelf(res, req.params.id);
    res.json({ data: (await listKeys(deps.db, user.id)).map(keyView), next: null });
  });

  r.delete('/:id/keys/:keyId', async (req, res) => {
    const user = await userOrSelf(res, req.params.id);
    if (!isUuid(req.params.keyId) || !(await revokeKey(deps.db, user.id, req.params.keyId))) {
      throw new ApiError(404, 'not_found', `user "${user.name}" has no live key with id "${req.params.keyId}"`);
    }
    res.status(204).end();
  });

  return r;
}
