import { and, eq, notInArray, or } from 'drizzle-orm';
import { terminalRunStates, type RunState, type RunWaiting } from '../../core/run.js';
import type { Db } from '../client.js';
import { jobs, runs } from '../schema.js';

/** The states an activity's throttle may replace: the working ones, never paused, a wait for the user or an end. */
const throttleable: RunState[] = ['planning', 'copying', 'checking', 'verifying', 'throttled'];

/**
 * The run reads `throttled` with why and until when; answers whether this starts a throttle
 * period (the run was working), so each period is one event however many batches meet it.
 * Null when the run is in a state a throttle must not replace.
 */
export async function enterThrottled(db: Db, runId: string, waiting: RunWaiting): Promise<{ newPeriod: boolean } | null> {
  return db.transaction(async (tx) => {
    const [row] = await tx.select({ state: runs.state }).from(runs).where(eq(runs.id, runId)).for('update');
    if (!row || !throttleable.includes(row.state as RunState)) return null;
    await tx.update(runs).set({ state: 'throttled', waiting, updatedAt: new Date() }).where(eq(runs.id, runId));
    return { newPeriod: row.state !== 'throttled' };
  });
}

/** Work goes on: a throttled run reads its working state again. Answers whether it was throttled. */
export async function leaveThrottled(db: Db, runId: string, working: RunState): Promise<boolean> {
  const done = await db.update(runs).set({ state: working, waiting: null, updatedAt: new Date() })
    .where(and(eq(runs.id, runId), eq(runs.state, 'throttled'))).returning({ id: runs.id });
  return done.length > 0;
}

/** Workflow ids of the unfinished runs whose job reads or writes a remote: the ones new credentials may unblock. */
export async function unfinishedRunsOfRemote(db: Db, remoteId: string): Promise<string[]> {
  const rows = await db.select({ workflowId: runs.workflowId }).from(runs).innerJoin(jobs, eq(runs.jobId, jobs.id))
    .where(and(notInArray(runs.state, [...terminalRunStates]), or(eq(jobs.sourceRemoteId, remoteId), eq(jobs.destRemoteId, remoteId))));
  return rows.map((r) => r.workflowId);
}
