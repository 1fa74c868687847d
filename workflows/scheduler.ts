import { ActivityFailure, ApplicationFailure, allHandlersFinished, condition, continueAsNew, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import { patches } from './versions.js';
import type { BatchRef, BatchScan, TransferRunInput } from '../core/run.js';
import { failureTypes, ledger } from './activities.js';
import { interrupted, type RunState } from './runState.js';

const pageSize = 200;

/**
 * Runs one scan over the run's batches from a cursor in the ledger: pages of batch numbers come
 * from the database, never a list in workflow state. Batches share the run's `transfers` as
 * lanes, so exactly that many files are in flight while work remains. When Temporal suggests it,
 * the running batches finish and the run continues as new with the cursor.
 *
 * A pause stops the running batches at their next checkpoint and waits; on resume the scan goes
 * on from the earliest stopped batch. New limits stop them the same way and start them again at
 * once with the new lanes and bandwidth limit.
 *
 * Failure policy, per batch: a batch whose own attempts gave up (an internal error) has its
 * files marked failed and the scan goes on; a rejected credential or a full destination stops
 * the scan like a pause until the user acts (RunState.blocked); a job that cannot run as defined
 * stops the run; cancellation passes through.
 */
export async function runScan(
  run: RunState, scan: BatchScan, after: number,
  work: (ref: BatchRef, lanes: number) => Promise<unknown>,
  onFirstBatch: () => Promise<void>,
): Promise<void> {
  run.scan = scan;
  let page: BatchRef[] = [];
  let fetchedAfter = after;
  let exhausted = false;
  let dispatched = after;
  let started = false;
  let running = 0;
  let fatal: unknown;
  /** The earliest batch a pause stopped: its unfinished files are scanned again on resume. */
  let interruptedFrom: number | null = null;

  for (;;) {
    while (!run.paused && !run.limitsChanged && !run.blocked) {
      if (page.length === 0 && !exhausted) {
        page = await ledger.nextBatches(run.runId, scan, fetchedAfter, pageSize);
        exhausted = page.length < pageSize;
        if (page.length > 0) fetchedAfter = page[page.length - 1].batch;
      }
      if (page.length === 0 || fatal !== undefined) break;
      if (workflowInfo().continueAsNewSuggested && !run.paused) {
        await condition(() => running === 0);
        if (fatal !== undefined || run.paused || interruptedFrom !== null) break;
        // New limits not yet recorded: the loop below writes their event first, then comes back here.
        if (run.limitsChanged && patched(patches.limitsBeforeContinue)) break;
        await condition(allHandlersFinished);
        if (run.limitsChanged && patched(patches.limitsBeforeContinue)) break;
        await continueAsNew<(input: TransferRunInput) => Promise<unknown>>({
          runId: run.runId, heartbeatTimeoutMs: run.heartbeatTimeoutMs, settings: run.settings,
          cursor: { scan, after: dispatched, batchesDone: run.batchesDone },
        });
      }
      await condition(() => run.paused || !!run.limitsChanged || !!run.blocked || run.filesInFlight < run.settings.transfers || fatal !== undefined);
      if (fatal !== undefined || run.paused || run.limitsChanged || run.blocked) break;
      if (!started) {
        started = true;
        await onFirstBatch();
      }
      const ref = page.shift()!;
      // Two batches share the lanes while more follow, so one batch's tail never idles the run;
      // the last batch takes every free lane.
      const free = run.settings.transfers - run.filesInFlight;
      const share = page.length > 0 || !exhausted ? Math.max(1, Math.ceil(run.settings.transfers / 2)) : free;
      const lanes = Math.min(ref.files, share, free);
      run.filesInFlight += lanes;
      running++;
      dispatched = ref.batch;
      void run.pausable('batch', () => work(ref, lanes))
        .then((r) => {
          if (r === interrupted) interruptedFrom = Math.min(interruptedFrom ?? ref.batch, ref.batch);
          else run.batchesDone++;
        })
        .catch(async (err: unknown) => {
          run.batchesDone++;
          if (isRunFatal(err)) fatal ??= err;
          else await ledger.failBatch(run.runId, scan, ref.batch, failureMessage(err));
        })
        .catch((err: unknown) => { fatal ??= err; })
        .finally(() => {
          run.filesInFlight -= lanes;
          running--;
        });
    }
    // Running batches finish, or stop at their next checkpoint when paused.
    await condition(() => running === 0);
    if (fatal !== undefined) throw fatal;
    if (run.limitsChanged) {
      const { from, to } = run.limitsChanged;
      run.limitsChanged = null;
      await ledger.noteLimits(run.runId, from, to);
    }
    if (!run.paused && interruptedFrom === null && page.length === 0 && exhausted) return;
    await run.waitWhilePaused();
    if (interruptedFrom !== null) {
      // Batches after the earliest stopped one that did finish hold nothing left to do, so the
      // ledger's cursor skips them.
      fetchedAfter = dispatched = Math.min(dispatched, interruptedFrom - 1);
      page = [];
      exhausted = false;
      interruptedFrom = null;
    }
  }
}

function isRunFatal(err: unknown): boolean {
  if (isCancellation(err)) return true;
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && (cause.type === failureTypes.auth || cause.type === failureTypes.invalidJob);
}

export function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
