import { ioActivities } from '../activities.js';
import { interrupted, type RunState } from '../runState.js';

/** Lists both sides into the ledger and diffs them (activities/plan.ts), or for a retry takes the earlier run's failed files; only totals come back. */
export async function planPhase(run: RunState): Promise<void> {
  run.phase = 'plan';
  await run.mark('planning', 'plan');
  const io = ioActivities(run.heartbeatTimeoutMs);
  // A paused plan stops its listing; resumed, it goes on from the listing's cursor.
  for (;;) {
    await run.waitWhilePaused();
    const plan = run.retryOf ? () => io.planRetry(run.runId, run.retryOf!) : () => io.planRun(run.runId);
    if ((await run.pausable('plan', plan)) !== interrupted) return;
  }
}
