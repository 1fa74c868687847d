import { and, eq, gt, isNull, lt, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { apiKeys, uiSessions, users } from '../schema.js';

export type UserRow = typeof users.$inferSelect;

/** The live key of that hash and its user (a revoked key has neither). */
export async function keyByHash(db: Db, hash: Buffer): Promise<{ keyId: string; user: UserRow } | undefined> {
  const [row] = await db.select({ keyId: apiKeys.id, user: users }).from(apiKeys).innerJoin(users, eq(users.id, apiKeys.userId))
    .where(and(eq(apiKeys.hash, hash), isNull(apiKeys.revokedAt)));
  return row;
}

/** Stores a signed-in browser; expired sessions are swept on the way. */
export async function insertSession(db: Db, s: { tokenHash: Buffer; apiKeyId: string; csrf: string; expiresAt: Date }): Promise<void> {
  await db.delete(uiSessions).where(lt(uiSessions.expiresAt, sql`now()`));
  await db.insert(uiSessions).values(s);
}

/** The session of that token, while it lasts and its key is not revoked. */
export async function sessionByHash(db: Db, tokenHash: Buffer): Promise<{ csrf: string; user: UserRow } | undefined> {
  const [row] = await db.select({ csrf: uiSessions.csrf, user: users }).from(uiSessions)
    .innerJoin(apiKeys, eq(apiKeys.id, uiSessions.apiKeyId)).innerJoin(users, eq(users.id, apiKeys.userId))
    .where(and(eq(uiSessions.tokenHash, tokenHash), gt(uiSessions.expiresAt, sql`now()`), isNull(apiKeys.revokedAt)));
  return row;
}

export async function deleteSession(db: Db, tokenHash: Buffer): Promise<void> {
  await db.delete(uiSessions).where(eq(uiSessions.tokenHash, tokenHash));
}
