import type { RunPhase, RunState } from '../core/run.js';
import { batchesWith, recountRun } from '../db/queries/ledger.js';
import { addEvent, getRun, setRunState } from '../db/queries/runs.js';
import type { ActivityDeps } from './deps.js';

export function runActivities(deps: ActivityDeps) {
  return {
    /** Mirrors the workflow's state into `runs`, where the API reads it. */
    async markRunState(runId: string, state: RunState, phase: RunPhase): Promise<void> {
      const run = await getRun(deps.db, runId);
      await setRunState(deps.db, runId, state, phase, state === 'copying' && !run?.copyStartedAt ? { copyStartedAt: new Date() } : {});
    },

    /** Batches that still have files to copy (after a verify mismatch sent some back). */
    async batchesToCopy(runId: string): Promise<number[]> {
      return batchesWith(deps.db, runId, ['pending', 'copying']);
    },

    /** Exact totals from the ledger, then the final state. */
    async finalizeRun(runId: string): Promise<{ state: RunState; filesDone: number; filesFailed: number; bytesDone: number }> {
      const counts = await recountRun(deps.db, runId);
      const state: RunState = counts.filesFailed > 0 ? 'completed_with_errors' : 'completed';
      await setRunState(deps.db, runId, state, 'done', { finishedAt: new Date() });
      await addEvent(deps.db, runId, 'finished', `${state}: ${counts.filesDone} files, ${counts.bytesDone} bytes copied, ${counts.filesFailed} failed`, { ...counts });
      return { state, ...counts };
    },

    /** The run ended without finishing: cancelled by the user, or stopped by an error that retrying cannot fix. */
    async endRun(runId: string, state: 'failed' | 'cancelled', message: string): Promise<void> {
      await recountRun(deps.db, runId);
      const run = await getRun(deps.db, runId);
      await setRunState(deps.db, runId, state, (run?.phase ?? 'plan') as RunPhase, { error: message, finishedAt: new Date() });
      await addEvent(deps.db, runId, state, message);
    },
  };
}
