import { CancellationScope, ContinueAsNew, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import { batchScans, type BatchScan, type RunStatus, type ScheduledRunInput, type TransferRunInput } from '../core/run.js';
import { ioActivities, ledger } from './activities.js';
import { PlanApproval } from './phases/approve.js';
import { copyPhase } from './phases/copy.js';
import { deletePhase } from './phases/delete.js';
import { finalizePhase } from './phases/finalize.js';
import { planPhase } from './phases/plan.js';
import { verifyPhase } from './phases/verify.js';
import { RunState } from './runState.js';
import { failureMessage } from './scheduler.js';
import { patches } from './versions.js';

export { statusQuery } from './runState.js';
export { approveUpdate } from './phases/approve.js';

/**
 * One run of a job: plan, copy, verify, finalize. Only ids, cursors and counters pass through
 * here; the ledger in PostgreSQL holds the files. Throttles are absorbed by activity retries
 * (unlimited, with the provider's Retry-After), so a run never fails because a provider slowed it.
 */
export async function transferRun(start: TransferRunInput | ScheduledRunInput): Promise<RunStatus> {
  const input = 'runId' in start ? start : { ...start, ...(await ledger.openScheduledRun(start.jobId, workflowInfo().workflowId)) };
  const run = new RunState(input);
  const approval = new PlanApproval(run);
  try {
    if (!input.cursor) {
      await planPhase(run);
      // A stored plan, approved where it must be, before anything is written (retries take failed files, not a plan).
      if (!run.retryOf && patched(patches.storedPlan) && !(await approval.approve())) return run.status();
    }
    // A continued run picks up its scan where the cursor says and goes on with the later ones.
    const from = input.cursor ? batchScans.indexOf(input.cursor.scan) : 0;
    for (const scan of batchScans.slice(from)) {
      const after = input.cursor?.scan === scan ? input.cursor.after : 0;
      if (isVerifyScan(scan) && !run.settings.verify) continue;
      if (scan === 'copy' || scan === 'recopy') await copyPhase(run, scan, after);
      else if (scan === 'delete') {
        if (patched(patches.deleteScan)) await deletePhase(run, after);
      } else await verifyPhase(run, scan, after);
    }
    await finalizePhase(run);
    return run.status();
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    const [state, why] = isCancellation(err) ? (['cancelled', 'cancelled by request'] as const) : (['failed', failureMessage(err)] as const);
    run.showState(state);
    await CancellationScope.nonCancellable(async () => {
      if (state === 'cancelled' && patched(patches.discardOnCancel)) await ioActivities(run.heartbeatTimeoutMs).discardUnfinished(run.runId);
      await ledger.endRun(run.runId, state, why);
    });
    throw err;
  }
}

function isVerifyScan(scan: BatchScan): boolean {
  return scan === 'verify' || scan === 'reverify';
}
