import type { BatchRef, BatchScan, RunPhase, RunSettings, RunState } from '../core/run.js';
import type { ItemAction } from '../core/run.js';
import { failBatch, nextBatches, recountRun, type ScanSelection } from '../db/queries/ledger.js';
import { checkSummary } from '../db/queries/check.js';
import { ApplicationFailure } from '@temporalio/common';
import { jobOptionsSchema } from '../core/job.js';
import { addEvent, adoptChangeCursor, getJobRow, getRun, getRunWithJob, openRunOfWorkflow, setRunState } from '../db/queries/runs.js';
import { failureTypes } from './failures.js';
import type { ActivityDeps } from './deps.js';

export function runActivities(deps: ActivityDeps) {
  return {
    /**
     * The run row of a workflow a schedule started, made once however often this runs (it is
     * keyed by the workflow id), with the job's settings of now.
     */
    async openScheduledRun(jobId: string, workflowId: string): Promise<{ runId: string; settings: RunSettings }> {
      const job = await getJobRow(deps.db, jobId).catch(() => null);
      if (!job) throw ApplicationFailure.create({ type: failureTypes.invalidJob, nonRetryable: true, message: `job ${jobId} no longer exists: delete the schedule that runs it` });
      const run = await openRunOfWorkflow(deps.db, job, workflowId);
      const options = jobOptionsSchema.parse(job.options);
      return { runId: run.id, settings: { transfers: options.transfers, verify: options.verify, bandwidthLimit: options.bwlimit ?? null } };
    },

    /** Mirrors the workflow's state into `runs`, where the API reads it. */
    async markRunState(runId: string, state: RunState, phase: RunPhase): Promise<void> {
      const { run, job } = await getRunWithJob(deps.db, runId);
      // The workflow runs one copy scan for every mode; a check run's copy is reading both sides.
      const shown: RunState = state === 'copying' && job.mode === 'check' ? 'checking' : state;
      // The first speed sample is the start of copying, so the current speed never starts from a later, fuller ledger.
      const started = new Date();
      await setRunState(deps.db, runId, shown, phase, state === 'copying' && !run.copyStartedAt ? { copyStartedAt: started, samples: [[started.getTime(), run.bytesDone]] } : {});
      if (shown === 'paused' && run.state !== 'paused') {
        await addEvent(deps.db, runId, 'paused', `paused by request: the files in flight stopped at their last checkpoint, and nothing runs until the run is resumed (POST /v1/runs/${runId}/resume)`);
      } else if (run.state === 'paused' && shown !== 'paused') {
        await addEvent(deps.db, runId, 'resumed', `resumed: ${shown} goes on from where it stopped`);
      } else if (run.state === 'needs_reconnect' || run.state === 'needs_attention') {
        const why = run.state === 'needs_reconnect' ? 'new credentials arrived' : 'resumed after the destination was full';
        await addEvent(deps.db, runId, run.state === 'needs_reconnect' ? 'reconnected' : 'resumed', `${why}: ${shown} goes on from where it stopped`);
      }
    },

    /** The stored plan was approved: the run goes on with exactly its files. */
    async noteApproved(runId: string, digest: string): Promise<void> {
      await addEvent(deps.db, runId, 'approved', `plan ${digest} approved: the run goes on with exactly the planned files, nothing listed again`, { digest });
    },

    /** Records new limits of a running run, as they take effect. */
    async noteLimits(runId: string, from: RunSettings, to: RunSettings): Promise<void> {
      const bw = (b: number | null) => (b ? `${b} bytes/s` : 'unlimited');
      await addEvent(deps.db, runId, 'limits', `limits changed by request: transfers ${from.transfers} → ${to.transfers}, bandwidth ${bw(from.bandwidthLimit)} → ${bw(to.bandwidthLimit)}; the files in flight went on from their checkpoints with them`, { from, to });
    },

    /** The scheduler's next page of batches after `after` for a scan, from the ledger. */
    async nextBatches(runId: string, scan: BatchScan, after: number, limit: number): Promise<BatchRef[]> {
      const { job } = await getRunWithJob(deps.db, runId);
      return nextBatches(deps.db, runId, scanSelection(scan, job.mode), after, limit);
    },

    /** Gives up on one batch: its unfinished files are marked failed with `reason`, and the run goes on. */
    async failBatch(runId: string, scan: BatchScan, batch: number, reason: string): Promise<void> {
      const { job } = await getRunWithJob(deps.db, runId);
      const files = await failBatch(deps.db, runId, batch, scanSelection(scan, job.mode), reason);
      const what = scan === 'delete' ? 'deleted' : scan.endsWith('verify') ? 'verified' : 'copied';
      await addEvent(deps.db, runId, 'batch_failed', `batch ${batch}: ${files} files not ${what}: ${reason}`, { batch, files });
    },

    /** Exact totals from the ledger, then the final state. */
    async finalizeRun(runId: string): Promise<{ state: RunState; filesDone: number; filesFailed: number; bytesDone: number }> {
      const counts = await recountRun(deps.db, runId);
      const state: RunState = counts.filesFailed > 0 ? 'completed_with_errors' : 'completed';
      const { job } = await getRunWithJob(deps.db, runId);
      const c = job.mode === 'check' ? await checkSummary(deps.db, runId) : null;
      // One transaction: whoever reads the run ended also finds its `finished` event (and the job its cursor).
      await deps.db.transaction(async (tx) => {
        await setRunState(tx, runId, state, 'done', { finishedAt: new Date() });
        if (state === 'completed') await adoptChangeCursor(tx, runId);
        if (c) await addEvent(tx, runId, 'finished', `${state}: ${c.match} match, ${c.differ} differ, ${c.missing_on_dst} missing on the destination, ${c.missing_on_src} missing on the source, ${counts.filesFailed} could not be read`, { ...counts, ...c });
        else await addEvent(tx, runId, 'finished', `${state}: ${counts.filesDone} files, ${counts.bytesDone} bytes copied, ${counts.filesFailed} failed`, { ...counts });
      });
      return { state, ...counts };
    },

    /** The run ended without finishing: cancelled by the user, or stopped by an error that retrying cannot fix. */
    async endRun(runId: string, state: 'failed' | 'cancelled', message: string): Promise<void> {
      await recountRun(deps.db, runId);
      const run = await getRun(deps.db, runId);
      await deps.db.transaction(async (tx) => {
        await setRunState(tx, runId, state, (run?.phase ?? 'plan') as RunPhase, { error: message, finishedAt: new Date() });
        await addEvent(tx, runId, state, message);
      });
    },
  };
}

/** The items each scan works on; a copy scan leaves a sync's deletes for the delete scan. */
export function scanSelection(scan: BatchScan, mode: string): ScanSelection {
  const transfers: ItemAction[] = ['copy', 'move', 'skip', 'conflict', 'check'];
  switch (scan) {
    case 'copy':
    case 'recopy':
      return { states: ['pending', 'copying'], actions: transfers };
    case 'verify':
    case 'reverify':
      return { states: ['copied'], actions: transfers };
    case 'delete':
      return mode === 'move' ? { states: ['verified'], actions: ['copy'] } : { states: ['pending'], actions: ['delete'] };
  }
}
