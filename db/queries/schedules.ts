import { and, asc, desc, eq, gt } from 'drizzle-orm';
import type { Db } from '../client.js';
import { jobs, runs, schedules } from '../schema.js';
import type { NewJob, RunRow } from './runs.js';

export type ScheduleRow = typeof schedules.$inferSelect;

/** The job a schedule runs and the schedule, in one transaction. */
export async function insertSchedule(db: Db, job: NewJob, schedule: Omit<typeof schedules.$inferInsert, 'jobId' | 'ownerId' | 'temporalId'>, temporalIdOf: (id: string) => string): Promise<ScheduleRow> {
  return db.transaction(async (tx) => {
    const [jobRow] = await tx.insert(jobs).values(job).returning();
    const id = crypto.randomUUID();
    const [row] = await tx.insert(schedules).values({ ...schedule, id, ownerId: job.ownerId, jobId: jobRow!.id, temporalId: temporalIdOf(id) }).returning();
    return row!;
  });
}

export async function getOwnSchedule(db: Db, ownerId: string, id: string): Promise<ScheduleRow | undefined> {
  const [row] = await db.select().from(schedules).where(and(eq(schedules.id, id), eq(schedules.ownerId, ownerId)));
  return row;
}

export async function findScheduleByName(db: Db, ownerId: string, name: string): Promise<ScheduleRow | undefined> {
  const [row] = await db.select().from(schedules).where(and(eq(schedules.ownerId, ownerId), eq(schedules.name, name)));
  return row;
}

export async function listSchedules(db: Db, ownerId: string, after: string | null, limit: number): Promise<ScheduleRow[]> {
  return db.select().from(schedules).where(and(eq(schedules.ownerId, ownerId), after === null ? undefined : gt(schedules.name, after)))
    .orderBy(asc(schedules.name)).limit(limit);
}

/** The latest runs of the schedule's job, newest first. */
export async function recentRunsOf(db: Db, schedule: ScheduleRow, limit = 10): Promise<RunRow[]> {
  return db.select().from(runs).where(eq(runs.jobId, schedule.jobId)).orderBy(desc(runs.startedAt), desc(runs.id)).limit(limit);
}

/** The schedule row goes; its job and the runs it made stay, as any job's do. */
export async function deleteScheduleRow(db: Db, id: string): Promise<void> {
  await db.delete(schedules).where(eq(schedules.id, id));
}
