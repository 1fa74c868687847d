import { eq, sql } from 'drizzle-orm';
import type { RemoteType, RemoteView } from '../../core/remote.js';
import type { Db } from '../client.js';
import { remotes } from '../schema.js';

export type RemoteRow = typeof remotes.$inferSelect;

export async function insertRemote(db: Db, values: { id?: string; name: string; type: RemoteType; config: Record<string, unknown>; credentials: Buffer | null }): Promise<RemoteRow> {
  const [row] = await db.insert(remotes).values(values).returning();
  return row;
}

export async function findRemoteByName(db: Db, name: string): Promise<RemoteRow | undefined> {
  const [row] = await db.select().from(remotes).where(eq(remotes.name, name));
  return row;
}

export async function getRemote(db: Db, id: string): Promise<RemoteRow> {
  const [row] = await db.select().from(remotes).where(eq(remotes.id, id));
  if (!row) throw new Error(`remote ${id} does not exist`);
  return row;
}

export async function listRemotes(db: Db): Promise<RemoteRow[]> {
  return db.select().from(remotes).orderBy(remotes.name);
}

export async function deleteRemote(db: Db, id: string): Promise<void> {
  await db.delete(remotes).where(eq(remotes.id, id));
}

export function remoteView(row: RemoteRow): RemoteView {
  return { id: row.id, name: row.name, type: row.type as RemoteType, config: row.config, createdAt: row.createdAt.toISOString() };
}

/** Replaces a remote's sealed credentials; returns what was there before, to put back if the new ones fail. */
export async function replaceCredentials(db: Db, id: string, credentials: Buffer | null): Promise<Buffer | null> {
  return db.transaction(async (tx) => {
    const [prev] = await tx.select({ credentials: remotes.credentials }).from(remotes).where(eq(remotes.id, id)).for('update');
    await tx.update(remotes).set({ credentials, credentialsVersion: sql`${remotes.credentialsVersion} + 1`, updatedAt: new Date() }).where(eq(remotes.id, id));
    return prev?.credentials ?? null;
  });
}
