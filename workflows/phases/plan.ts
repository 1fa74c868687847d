import { ioActivities, ledger } from '../activities.js';
import type { RunState } from '../runState.js';

/** Lists both sides into the ledger and diffs them (activities/plan.ts); only totals come back. */
export async function planPhase(run: RunState): Promise<void> {
  run.phase = 'plan';
  await ledger.markRunState(run.runId, 'planning', 'plan');
  await ioActivities(run.heartbeatTimeoutMs).planRun(run.runId);
}
