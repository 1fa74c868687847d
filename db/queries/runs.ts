import { and, asc, desc, eq, gt, gte, lt, notInArray, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { JobFilters } from '../../core/filters.js';
import type { JobOptions } from '../../core/job.js';
import { currentSpeed, speedAndEta } from '../../core/progress.js';
import { terminalRunStates, type RunPhase, type RunPlan, type RunState, type RunView } from '../../core/run.js';
import type { Db } from '../client.js';
import { events, jobs, remotes, runs, schedules, users } from '../schema.js';
import type { RunIdentity } from '../../core/searchAttributes.js';

export type RunRow = typeof runs.$inferSelect;
export type JobRow = typeof jobs.$inferSelect;

/** A job and its first run in one transaction, so a failed start leaves neither behind. */
export interface NewJob { ownerId: string; sourceRemoteId: string; sourcePath: string; destRemoteId: string; destPath: string; mode: string; options: JobOptions; filters: JobFilters }

export async function insertJobAndRun(
  db: Db,
  job: NewJob,
  workflowIdOf: (runId: string) => string,
): Promise<{ job: JobRow; run: RunRow }> {
  return db.transaction(async (tx) => {
    const [jobRow] = await tx.insert(jobs).values(job).returning();
    const runId = crypto.randomUUID();
    const [runRow] = await tx.insert(runs).values({ id: runId, ownerId: job.ownerId, jobId: jobRow.id, workflowId: workflowIdOf(runId) }).returning();
    return { job: jobRow, run: runRow };
  });
}

/** The run of a workflow, made if it is not there yet (a schedule's run, whose first activity may run twice). */
export async function openRunOfWorkflow(db: Db, job: Pick<JobRow, 'id' | 'ownerId'>, workflowId: string): Promise<RunRow> {
  await db.insert(runs).values({ ownerId: job.ownerId, jobId: job.id, workflowId }).onConflictDoNothing({ target: runs.workflowId });
  const [row] = await db.select().from(runs).where(eq(runs.workflowId, workflowId));
  return row!;
}

/** A new run of an existing job (a retry): same job, fresh counters. */
export async function insertRun(db: Db, job: Pick<JobRow, 'id' | 'ownerId'>, workflowIdOf: (runId: string) => string): Promise<RunRow> {
  const runId = crypto.randomUUID();
  const [row] = await db.insert(runs).values({ id: runId, ownerId: job.ownerId, jobId: job.id, workflowId: workflowIdOf(runId) }).returning();
  return row;
}

export async function getRun(db: Db, runId: string): Promise<RunRow | undefined> {
  const [row] = await db.select().from(runs).where(eq(runs.id, runId));
  return row;
}

/** A run as its owner sees it: another user's run is not found. */
export async function getOwnRun(db: Db, ownerId: string, runId: string): Promise<RunRow | undefined> {
  const [row] = await db.select().from(runs).where(and(eq(runs.id, runId), eq(runs.ownerId, ownerId)));
  return row;
}

export interface RunFilter {
  jobId?: string;
  state?: string;
  /** Runs started at or after this time. */
  since?: Date;
  until?: Date;
}

/**
 * One user's runs, newest first, a page after the run `after` (the cursor is a run id; its start
 * time is read in SQL, where it has the database's full precision).
 */
export async function listRuns(db: Db, ownerId: string, filter: RunFilter, after: string | null, limit: number): Promise<RunRow[]> {
  return db.select().from(runs).where(and(
    eq(runs.ownerId, ownerId),
    filter.jobId ? eq(runs.jobId, filter.jobId) : undefined,
    filter.state ? eq(runs.state, filter.state) : undefined,
    filter.since ? gte(runs.startedAt, filter.since) : undefined,
    filter.until ? lt(runs.startedAt, filter.until) : undefined,
    after ? sql`(${runs.startedAt}, ${runs.id}) < (SELECT c.started_at, c.id FROM runs c WHERE c.id = ${after} AND c.owner_id = ${ownerId})` : undefined,
  )).orderBy(desc(runs.startedAt), desc(runs.id)).limit(limit);
}

export async function getRunWithJob(db: Db, runId: string): Promise<{ run: RunRow; job: JobRow }> {
  const [row] = await db.select({ run: runs, job: jobs }).from(runs).innerJoin(jobs, eq(runs.jobId, jobs.id)).where(eq(runs.id, runId));
  if (!row) throw new Error(`run ${runId} does not exist`);
  return row;
}

/** Every state change goes through here; `waiting` is kept only when given, so it never outlives the wait it describes. */
export async function setRunState(db: Db, runId: string, state: RunState, phase: RunPhase, extra: Partial<Pick<RunRow, 'error' | 'finishedAt' | 'copyStartedAt' | 'waiting' | 'samples'>> = {}): Promise<void> {
  await db.update(runs).set({ state, phase, waiting: null, ...extra, updatedAt: new Date() }).where(eq(runs.id, runId));
}

/**
 * Where this run's plan leaves the source's change feed. A walk takes the feed's position before
 * it starts, and a walk resumed after a crash keeps that first position (`keepFirst`), so no
 * change made while it listed is ever skipped; a plan from the feed stores the feed's new cursor
 * once every change is in `entries`.
 */
export async function noteChangeCursor(db: Db, runId: string, cursor: string | null, fromChanges: boolean, keepFirst = false): Promise<void> {
  await db.update(runs).set({
    nextChangeCursor: keepFirst ? sql`coalesce(${runs.nextChangeCursor}, ${cursor})` : cursor,
    plannedFromChanges: fromChanges,
    updatedAt: new Date(),
  }).where(eq(runs.id, runId));
}

/** A run that completed without a failed file hands its change-feed position to its job: the next run starts there. */
export async function adoptChangeCursor(db: Db, runId: string): Promise<void> {
  await db.execute(sql`
    UPDATE jobs SET change_cursor = r.next_change_cursor
    FROM runs r WHERE r.id = ${runId} AND jobs.id = r.job_id AND r.next_change_cursor IS NOT NULL`);
}

export async function setRunPlan(db: Db, runId: string, plan: RunPlan): Promise<void> {
  await db.update(runs).set({ plan, updatedAt: new Date() }).where(eq(runs.id, runId));
}

export async function addEvent(db: Db, runId: string, kind: string, message: string, data: Record<string, unknown> = {}): Promise<void> {
  await db.insert(events).values({ runId, kind, message, data });
}

export interface NewEvent {
  kind: string;
  message: string;
  data?: Record<string, unknown>;
}

/** Many events in one insert: a batch's events are written with its outcomes, not one by one. */
export async function addEvents(db: Db, runId: string, list: readonly NewEvent[]): Promise<void> {
  if (list.length === 0) return;
  await db.insert(events).values(list.map((e) => ({ runId, kind: e.kind, message: e.message, data: e.data ?? {} })));
}

/** A run's events, newest first, older than the event `before` when given. */
export async function listEvents(db: Db, runId: string, kind?: string, before: number | null = null, limit = 500): Promise<(typeof events.$inferSelect)[]> {
  const where = and(eq(events.runId, runId), kind ? eq(events.kind, kind) : undefined, before === null ? undefined : lt(events.id, before));
  return db.select().from(events).where(where).orderBy(desc(events.id)).limit(limit);
}

function speeds(row: RunRow, elapsedMs: number, now: number): Pick<RunView, 'speedBytesPerSec' | 'speed' | 'etaSeconds'> {
  const avg = speedAndEta(row.bytesDone, row.bytesTotal, elapsedMs);
  const moving = row.finishedAt ? null : currentSpeed(row.samples, row.bytesDone, now);
  const left = Math.max(row.bytesTotal - row.bytesDone, 0);
  const eta = row.finishedAt ? 0 : moving ? Math.ceil(left / moving) : moving === 0 ? null : avg.etaSeconds;
  return { speedBytesPerSec: avg.speedBytesPerSec, speed: { current: moving, average: avg.speedBytesPerSec }, etaSeconds: eta };
}

export function runView(row: RunRow, now = Date.now()): RunView {
  const elapsed = row.copyStartedAt ? (row.finishedAt ?? new Date(now)).getTime() - row.copyStartedAt.getTime() : 0;
  return {
    id: row.id,
    jobId: row.jobId,
    workflowId: row.workflowId,
    state: row.state as RunState,
    phase: row.phase as RunPhase,
    files: { done: row.filesDone, total: row.filesTotal, failed: row.filesFailed, skipped: row.filesSkipped, deduplicated: row.filesDeduplicated, moved: row.filesMoved, deleted: row.filesDeleted },
    bytes: { done: row.bytesDone, total: row.bytesTotal, sent: row.bytesSent },
    waiting: row.waiting ?? null,
    plan: row.plan ?? null,
    ...speeds(row, elapsed, now),
    error: row.error,
    startedAt: row.startedAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

/** A job as its owner sees it, with its remotes by name (another user's job is not found). */
export interface JobView {
  id: string;
  source: string;
  destination: string;
  mode: string;
  options: JobOptions;
  filters: JobFilters;
  createdAt: string;
}

const srcRemote = alias(remotes, 'src_remote');
const dstRemote = alias(remotes, 'dst_remote');

function jobViews(db: Db) {
  return db.select({ job: jobs, src: srcRemote.name, dst: dstRemote.name }).from(jobs)
    .innerJoin(srcRemote, eq(srcRemote.id, jobs.sourceRemoteId))
    .innerJoin(dstRemote, eq(dstRemote.id, jobs.destRemoteId));
}

function toJobView(r: { job: JobRow; src: string; dst: string }): JobView {
  const loc = (remote: string, path: string) => `${remote}:${path}`;
  return { id: r.job.id, source: loc(r.src, r.job.sourcePath), destination: loc(r.dst, r.job.destPath), mode: r.job.mode, options: r.job.options, filters: r.job.filters, createdAt: r.job.createdAt.toISOString() };
}

export async function getOwnJob(db: Db, ownerId: string, jobId: string): Promise<JobView | undefined> {
  const [row] = await jobViews(db).where(and(eq(jobs.id, jobId), eq(jobs.ownerId, ownerId)));
  return row ? toJobView(row) : undefined;
}

export async function getJobRow(db: Db, jobId: string): Promise<JobRow> {
  const [row] = await db.select().from(jobs).where(eq(jobs.id, jobId));
  if (!row) throw new Error(`job ${jobId} does not exist`);
  return row;
}

export async function listJobs(db: Db, ownerId: string, after: string | null, limit: number): Promise<JobView[]> {
  const rows = await jobViews(db).where(and(eq(jobs.ownerId, ownerId), after ? gt(jobs.id, after) : undefined)).orderBy(asc(jobs.id)).limit(limit);
  return rows.map(toJobView);
}

/** Deletes a job and its runs (their ledgers cascade), unless one of them has not ended or a schedule runs it. */
export async function deleteJobAndRuns(db: Db, jobId: string): Promise<'deleted' | 'running' | 'scheduled'> {
  return db.transaction(async (tx) => {
    await tx.select({ id: jobs.id }).from(jobs).where(eq(jobs.id, jobId)).for('update');
    if ((await tx.select({ id: schedules.id }).from(schedules).where(eq(schedules.jobId, jobId)).limit(1)).length > 0) return 'scheduled';
    const busy = await tx.select({ id: runs.id }).from(runs).where(and(eq(runs.jobId, jobId), notInArray(runs.state, [...terminalRunStates]))).limit(1);
    if (busy.length > 0) return 'running';
    await tx.delete(runs).where(eq(runs.jobId, jobId));
    await tx.delete(jobs).where(eq(jobs.id, jobId));
    return 'deleted';
  });
}

/** How many runs are in each state, over every user (the metrics' runs by state). */
export async function runCountsByState(db: Db): Promise<Record<string, number>> {
  const rows = await db.select({ state: runs.state, n: sql<number>`count(*)`.mapWith(Number) }).from(runs).groupBy(runs.state);
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

/** Who and what a job's runs are, for Temporal Web (core/searchAttributes.ts): names and types, never secrets. */
export async function runIdentity(db: Db, jobId: string): Promise<RunIdentity> {
  const [row] = await db.select({ owner: users.name, mode: jobs.mode, sourcePath: jobs.sourcePath, destPath: jobs.destPath, srcName: srcRemote.name, srcType: srcRemote.type, dstName: dstRemote.name, dstType: dstRemote.type })
    .from(jobs)
    .innerJoin(users, eq(users.id, jobs.ownerId))
    .innerJoin(srcRemote, eq(srcRemote.id, jobs.sourceRemoteId))
    .innerJoin(dstRemote, eq(dstRemote.id, jobs.destRemoteId))
    .where(eq(jobs.id, jobId));
  if (!row) throw new Error(`job ${jobId} does not exist`);
  return {
    owner: row.owner, jobId, mode: row.mode, sourceType: row.srcType, destinationType: row.dstType,
    source: `${row.srcName}:${row.sourcePath}`, destination: `${row.dstName}:${row.destPath}`,
  };
}

/** Replaces a job's definition, unless one of its runs has not ended (it reads the job as it goes). */
export async function updateJob(db: Db, jobId: string, job: Omit<NewJob, 'ownerId'>): Promise<boolean> {
  return db.transaction(async (tx) => {
    await tx.select({ id: jobs.id }).from(jobs).where(eq(jobs.id, jobId)).for('update');
    const busy = await tx.select({ id: runs.id }).from(runs).where(and(eq(runs.jobId, jobId), notInArray(runs.state, [...terminalRunStates]))).limit(1);
    if (busy.length > 0) return false;
    await tx.update(jobs).set(job).where(eq(jobs.id, jobId));
    return true;
  });
}
