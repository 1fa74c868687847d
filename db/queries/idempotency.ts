import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { idempotencyKeys } from '../schema.js';

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;

/** How long a key's first answer is kept. */
export const idempotencyWindowMs = 24 * 3_600_000;
const abandonedAfterMs = 5 * 60_000;

/**
 * Claims `key` for this request, or answers the row already there (from an earlier request with
 * the key). A row past the window is dropped first, so an old key works as a new one.
 */
export async function claimIdempotencyKey(db: Db, ownerId: string, key: string, request: string): Promise<IdempotencyRow | null> {
  const since = new Date(Date.now() - idempotencyWindowMs);
  // A claim never answered for minutes belonged to a knarr that stopped mid-request.
  const abandoned = and(isNull(idempotencyKeys.status), lt(idempotencyKeys.createdAt, new Date(Date.now() - abandonedAfterMs)));
  await db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.ownerId, ownerId), eq(idempotencyKeys.key, key), or(lt(idempotencyKeys.createdAt, since), abandoned)));
  const claimed = await db.insert(idempotencyKeys).values({ ownerId, key, request }).onConflictDoNothing().returning();
  if (claimed.length > 0) return null;
  const [row] = await db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.ownerId, ownerId), eq(idempotencyKeys.key, key)));
  return row ?? null;
}

export async function saveIdempotentAnswer(db: Db, ownerId: string, key: string, status: number, body: unknown): Promise<void> {
  await db.update(idempotencyKeys).set({ status, body: sql`${JSON.stringify(body ?? null)}::jsonb` })
    .where(and(eq(idempotencyKeys.ownerId, ownerId), eq(idempotencyKeys.key, key)));
}

/** The first request failed on the server's side: the key is free again, so the client's retry is a new try. */
export async function releaseIdempotencyKey(db: Db, ownerId: string, key: string): Promise<void> {
  await db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.ownerId, ownerId), eq(idempotencyKeys.key, key)));
}
