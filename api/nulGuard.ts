import type { RequestHandler } from 'express';
import { ApiError } from './errors.js';

/** Where in a JSON value the first NUL character is ("config.root"), or null. */
function nulAt(value: unknown, at: string): string | null {
  if (typeof value === 'string') return value.includes('\0') ? at || 'body' : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulAt(value[i], `${at}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const found = k.includes('\0') ? at || 'body' : nulAt(v, at ? `${at}.${k}` : k);
      if (found) return found;
    }
  }
  return null;
}

/**
 * No name, path or setting can hold a NUL character (no filesystem or provider stores one, and
 * PostgreSQL text and jsonb refuse it): such a request is a 400 here, before any route sees it.
 */
export function refuseNul(): RequestHandler {
  return (req, _res, next) => {
    let path: string;
    try {
      path = decodeURIComponent(req.path);
    } catch {
      throw new ApiError(400, 'invalid_request', 'the request path is not valid percent-encoding');
    }
    if (path.includes('\0')) throw new ApiError(400, 'invalid_request', 'the request path contains a NUL character');
    const query = nulAt(req.query, '');
    if (query) throw new ApiError(400, 'invalid_request', `query parameter ${query} contains a NUL character`, query);
    const body = nulAt(req.body, '');
    if (body) throw new ApiError(400, 'invalid_request', `${body} contains a NUL character`, body === 'body' ? undefined : body);
    next();
  };
}
