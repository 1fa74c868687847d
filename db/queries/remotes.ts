import { and, asc, eq, gt, inArray, notInArray, or, sql } from 'drizzle-orm';
import { terminalRunStates } from '../../core/run.js';
import type { RemoteType, RemoteView } from '../../core/remote.js';
import type { Db } from '../client.js';
import { jobs, remotes, runs, schedules } from '../schema.js';

export type RemoteRow = typeof remotes.$inferSelect;

export async function insertRemote(db: Db, values: { id?: string; ownerId: string; name: string; type: RemoteType; config: Record<string, unknown>; credentials: Buffer | null }): Promise<RemoteRow> {
  const [row] = await db.insert(remotes).values(values).returning();
  return row;
}

/** Names are unique per user: the same name under another owner is another remote, and never found here. */
export async function findRemoteByName(db: Db, ownerId: string, name: string): Promise<RemoteRow | undefined> {
  const [row] = await db.select().from(remotes).where(and(eq(remotes.ownerId, ownerId), eq(remotes.name, name)));
  return row;
}

export async function getRemote(db: Db, id: string): Promise<RemoteRow> {
  const [row] = await db.select().from(remotes).where(eq(remotes.id, id));
  if (!row) throw new Error(`remote ${id} does not exist`);
  return row;
}

/** One user's remotes by name, a page after `after` (a name). */
export async function listRemotes(db: Db, ownerId: string, after: string | null, limit: number): Promise<RemoteRow[]> {
  return db.select().from(remotes)
    .where(and(eq(remotes.ownerId, ownerId), after === null ? undefined : gt(remotes.name, after)))
    .orderBy(asc(remotes.name)).limit(limit);
}

/** Deletes a remote that was never used (a failed check right after creating it). */
export async function deleteRemote(db: Db, id: string): Promise<void> {
  await db.delete(remotes).where(eq(remotes.id, id));
}

/**
 * Deletes a remote with the finished runs and jobs that used it (their ledgers go with them), in
 * one transaction; refused while an unfinished run or a schedule uses it.
 */
export async function deleteRemoteAndHistory(db: Db, id: string): Promise<'deleted' | 'running' | 'scheduled'> {
  return db.transaction(async (tx) => {
    await tx.select({ id: remotes.id }).from(remotes).where(eq(remotes.id, id)).for('update');
    const used = or(eq(jobs.sourceRemoteId, id), eq(jobs.destRemoteId, id));
    const jobIds = tx.select({ id: jobs.id }).from(jobs).where(used);
    if ((await tx.select({ id: schedules.id }).from(schedules).where(inArray(schedules.jobId, jobIds)).limit(1)).length > 0) return 'scheduled';
    const busy = await tx.select({ id: runs.id }).from(runs)
      .where(and(inArray(runs.jobId, jobIds), notInArray(runs.state, [...terminalRunStates]))).limit(1);
    if (busy.length > 0) return 'running';
    await tx.delete(runs).where(inArray(runs.jobId, jobIds));
    await tx.delete(jobs).where(used);
    await tx.delete(remotes).where(eq(remotes.id, id));
    return 'deleted';
  });
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

export async function updateRemoteConfig(db: Db, id: string, config: Record<string, unknown>): Promise<RemoteRow> {
  const [row] = await db.update(remotes).set({ config, updatedAt: new Date() }).where(eq(remotes.id, id)).returning();
  return row!;
}
