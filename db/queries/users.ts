import { and, asc, eq, gt, isNull } from 'drizzle-orm';
import type { Db } from '../client.js';
import { apiKeys, users } from '../schema.js';

export type UserRow = typeof users.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;

/** Made by migration 0005, so everything from before users existed has an owner. */
export const adminUserId = '00000000-0000-4000-8000-000000000001';

export async function insertUser(db: Db, name: string): Promise<UserRow> {
  const [row] = await db.insert(users).values({ name }).returning();
  return row;
}

export async function getUser(db: Db, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id));
  return row;
}

export async function listUsers(db: Db, after: string | null, limit: number): Promise<UserRow[]> {
  return db.select().from(users).where(after ? gt(users.id, after) : undefined).orderBy(asc(users.id)).limit(limit);
}

/** The user a live key belongs to; a revoked or unknown key finds nobody. */
export async function userByKeyHash(db: Db, hash: Buffer): Promise<UserRow | undefined> {
  const [row] = await db.select({ user: users }).from(apiKeys).innerJoin(users, eq(users.id, apiKeys.userId))
    .where(and(eq(apiKeys.hash, hash), isNull(apiKeys.revokedAt)));
  return row?.user;
}

/** Stores a key's hash; a hash already stored (the same KNARR_ADMIN_KEY at every start) is left as it is. */
export async function insertKey(db: Db, userId: string, hash: Buffer, prefix: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db.insert(apiKeys).values({ userId, hash, prefix }).onConflictDoNothing().returning();
  return row;
}

export async function listKeys(db: Db, userId: string): Promise<ApiKeyRow[]> {
  return db.select().from(apiKeys).where(eq(apiKeys.userId, userId)).orderBy(asc(apiKeys.createdAt));
}

/** True when a live key of this user was revoked now. */
export async function revokeKey(db: Db, userId: string, keyId: string): Promise<boolean> {
  const rows = await db.update(apiKeys).set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt))).returning({ id: apiKeys.id });
  return rows.length > 0;
}

/** Whether the admin has a key that works: on first start it has none, and one is made. */
export async function adminHasLiveKey(db: Db): Promise<boolean> {
  const rows = await db.select({ id: apiKeys.id }).from(apiKeys).where(and(eq(apiKeys.userId, adminUserId), isNull(apiKeys.revokedAt))).limit(1);
  return rows.length > 0;
}

export function userView(row: UserRow): { id: string; name: string; admin: boolean; createdAt: string } {
  return { id: row.id, name: row.name, admin: row.isAdmin, createdAt: row.createdAt.toISOString() };
}

export function keyView(row: ApiKeyRow): { id: string; prefix: string; createdAt: string; revokedAt: string | null } {
  return { id: row.id, prefix: row.prefix, createdAt: row.createdAt.toISOString(), revokedAt: row.revokedAt?.toISOString() ?? null };
}
