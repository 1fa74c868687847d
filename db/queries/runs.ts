import { and, desc, eq } from 'drizzle-orm';
import type { JobFilters } from '../../core/filters.js';
import type { JobOptions } from '../../core/job.js';
import { currentSpeed, speedAndEta } from '../../core/progress.js';
import type { RunPhase, RunPlan, RunState, RunView } from '../../core/run.js';
import type { Db } from '../client.js';
import { events, jobs, runs } from '../schema.js';

export type RunRow = typeof runs.$inferSelect;
export type JobRow = typeof jobs.$inferSelect;

/** A job and its first run in one transaction, so a failed start leaves neither behind. */
export async function insertJobAndRun(
  db: Db,
  job: { sourceRemoteId: string; sourcePath: string; destRemoteId: string; destPath: string; mode: string; options: JobOptions; filters: JobFilters },
  workflowIdOf: (runId: string) => string,
): Promise<{ job: JobRow; run: RunRow }> {
  return db.transaction(async (tx) => {
    const [jobRow] = await tx.insert(jobs).values(job).returning();
    const runId = crypto.randomUUID();
    const [runRow] = await tx.insert(runs).values({ id: runId, jobId: jobRow.id, workflowId: workflowIdOf(runId) }).returning();
    return { job: jobRow, run: runRow };
  });
}

/** A new run of an existing job (a retry): same job, fresh counters. */
export async function insertRun(db: Db, jobId: string, workflowIdOf: (runId: string) => string): Promise<RunRow> {
  const runId = crypto.randomUUID();
  const [row] = await db.insert(runs).values({ id: runId, jobId, workflowId: workflowIdOf(runId) }).returning();
  return row;
}

export async function getRun(db: Db, runId: string): Promise<RunRow | undefined> {
  const [row] = await db.select().from(runs).where(eq(runs.id, runId));
  return row;
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

export async function listEvents(db: Db, runId: string, kind?: string, limit = 500): Promise<(typeof events.$inferSelect)[]> {
  const where = kind ? and(eq(events.runId, runId), eq(events.kind, kind)) : eq(events.runId, runId);
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
