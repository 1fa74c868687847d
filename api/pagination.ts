import type { Request } from 'express';
import { ApiError } from './errors.js';

export interface PageQuery {
  limit: number;
  /** The cursor: the `next` of the page before, or null for the first page. */
  after: string | null;
}

/**
 * `?limit=&after=` of every list: limit 1–1000 (default 100). `validCursor` says what a cursor
 * of this list looks like (an id, a name), so a forged one is a 400 and not a database error.
 */
export function pageQuery(req: Request, defaultLimit = 100, validCursor: (after: string) => boolean = () => true): PageQuery {
  const { limit: rawLimit, after } = req.query;
  let limit = defaultLimit;
  if (rawLimit !== undefined) {
    limit = Number(rawLimit);
    if (typeof rawLimit !== 'string' || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new ApiError(400, 'invalid_request', 'limit must be a whole number from 1 to 1000', 'limit');
    }
  }
  if (after !== undefined && (typeof after !== 'string' || (after !== '' && !validCursor(after)))) {
    throw new ApiError(400, 'invalid_request', 'after must be the "next" cursor of the page before', 'after');
  }
  // An empty cursor is the first page, as no cursor is.
  return { limit, after: after || null };
}

/** `{"data":[…],"next":…}`, with `next` the cursor of the last row when the page is full. */
export function page<Row, View>(rows: Row[], limit: number, cursor: (row: Row) => string, view: (row: Row) => View): { data: View[]; next: string | null } {
  return { data: rows.map(view), next: rows.length === limit ? cursor(rows[rows.length - 1]!) : null };
}
