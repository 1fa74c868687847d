/**
 * Recognizing PostgreSQL errors the same way under both drivers.
 *
 * drizzle (0.44+) wraps every failed query in a `DrizzleQueryError` whose `cause` is the driver's
 * error, so the SQLSTATE is one level down, and inside a transaction it can be deeper. The driver
 * errors differ too: postgres.js's `PostgresError` names the constraint `constraint_name`,
 * PGlite's `DatabaseError` names it `constraint`. Both carry `code`.
 */

/** SQLSTATE codes callers branch on. */
export const pgErrorCodes = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  lockNotAvailable: '55P03',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
} as const;

export interface PgErrorInfo {
  code: string;
  constraint?: string;
  detail?: string;
}

/** The first PostgreSQL error in `err`'s cause chain, or undefined when it isn't one. */
export function pgErrorOf(err: unknown): PgErrorInfo | undefined {
  // Bounded: a cause cycle must not hang error handling.
  for (let e = err, depth = 0; e != null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (typeof e !== 'object') return undefined;
    const code = (e as { code?: unknown }).code;
    // Node system errors also have `code` (ECONNREFUSED...): a SQLSTATE is exactly 5 characters of [0-9A-Z].
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
      const c = e as { constraint_name?: unknown; constraint?: unknown; detail?: unknown };
      const constraint = typeof c.constraint_name === 'string' ? c.constraint_name : typeof c.constraint === 'string' ? c.constraint : undefined;
      return { code, constraint, detail: typeof c.detail === 'string' ? c.detail : undefined };
    }
  }
  return undefined;
}

/**
 * Whether `err` is a unique-constraint violation, optionally of one named constraint or unique
 * index (e.g. `remotes_name_key`), so a caller can turn a duplicate name into a 409 without a
 * racy check-then-insert.
 */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const info = pgErrorOf(err);
  if (info?.code !== pgErrorCodes.uniqueViolation) return false;
  return constraint === undefined || info.constraint === constraint;
}
