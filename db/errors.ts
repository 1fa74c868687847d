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

/**
 * The database could not be reached or dropped the connection (restart, failover,
 * pg_terminate_backend, a serialization conflict): the same statement may well pass in a moment,
 * so the caller retries without bound instead of counting it as a bug.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const info = pgErrorOf(err);
  // Class 08: connection exception; 57P01-57P03: admin/crash shutdown, cannot connect now.
  if (info && (info.code.startsWith('08') || ['57P01', '57P02', '57P03', pgErrorCodes.serializationFailure, pgErrorCodes.deadlockDetected].includes(info.code))) return true;
  for (let e = err, depth = 0; e != null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (typeof e !== 'object') return false;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT'].includes(code)) return true;
  }
  return false;
}
