import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Db } from '../db/client.js';
import { claimIdempotencyKey, releaseIdempotencyKey, saveIdempotentAnswer } from '../db/queries/idempotency.js';
import { callerOf } from './auth.js';
import { ApiError } from './errors.js';

/**
 * `Idempotency-Key` on a POST that starts work: the same key within 24 hours answers what the
 * first request answered and starts nothing new. A key reused for another request is refused;
 * a first request that ended in a server error frees its key, so the retry is a real one.
 */
export function idempotent(db: Db): RequestHandler {
  return async (req, res, next) => {
    const key = req.get('idempotency-key');
    if (key === undefined) return next();
    if (key.length < 1 || key.length > 255) throw new ApiError(400, 'invalid_request', 'Idempotency-Key must be 1 to 255 characters (a UUID is a good one)', 'Idempotency-Key');
    const owner = callerOf(res).id;
    const request = `${req.method} ${req.originalUrl.split('?')[0]} ${createHash('sha256').update(JSON.stringify(req.body ?? null)).digest('hex')}`;
    const earlier = await claimIdempotencyKey(db, owner, key, request);
    if (earlier) {
      if (earlier.request !== request) {
        throw new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was used for another request in the last 24 hours: use a new key for a new request', 'Idempotency-Key');
      }
      if (earlier.status === null) throw new ApiError(409, 'request_in_progress', 'a request with this Idempotency-Key is still being answered: try again in a moment');
      res.status(earlier.status).set('idempotent-replayed', 'true').json(earlier.body);
      return;
    }
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      const done = res.statusCode < 500 ? saveIdempotentAnswer(db, owner, key, res.statusCode, body) : releaseIdempotencyKey(db, owner, key);
      void done.catch(() => {}).finally(() => json(body));
      return res;
    };
    next();
  };
}
