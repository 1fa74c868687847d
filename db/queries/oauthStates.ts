import { and, eq, gt, lt, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { oauthStates } from '../schema.js';

export type OAuthStateRow = typeof oauthStates.$inferSelect;
export type NewOAuthState = Omit<typeof oauthStates.$inferInsert, 'createdAt'>;

/** Stores an authorization in flight; expired ones are swept on the way. */
export async function insertOAuthState(db: Db, row: NewOAuthState): Promise<void> {
  await db.delete(oauthStates).where(lt(oauthStates.expiresAt, sql`now()`));
  await db.insert(oauthStates).values(row);
}

/** Spends a state: it is gone once taken, so a callback replayed (or raced) finds nothing. Undefined when unknown or expired. */
export async function takeOAuthState(db: Db, state: string): Promise<OAuthStateRow | undefined> {
  const [row] = await db.delete(oauthStates).where(and(eq(oauthStates.state, state), gt(oauthStates.expiresAt, sql`now()`))).returning();
  return row;
}
