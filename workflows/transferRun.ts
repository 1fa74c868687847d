import {
  ActivityFailure, ApplicationFailure, CancellationScope, ContinueAsNew, condition, continueAsNew, allHandlersFinished,
  defineQuery, isCancellation, proxyActivities, setHandler, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { RunPhase, RunStatus, TransferRunInput } from '../core/run.js';

export const statusQuery = defineQuery<RunStatus>('status');

// Kept in step with activities/failures.ts (workflows may not import activity code).
const nonRetryableErrorTypes = ['AuthFailed', 'InvalidJob'];

/**
 * One run of a job: plan, copy, verify, finalize. Only ids and counters pass through here; the
 * ledger in PostgreSQL holds the files. Throttles are absorbed by activity retries (unlimited,
 * with the provider's Retry-After), so a run never fails because a provider slowed it down.
 */
export async function transferRun(input: TransferRunInput): Promise<RunStatus> {
  const { runId } = input;
  const status: RunStatus = { runId, phase: input.from?.phase ?? 'plan', batchesDone: 0, batchesTotal: input.from?.batches.length ?? 0 };
  setHandler(statusQuery, () => status);

  const io = proxyActivities<Activities>({
    startToCloseTimeout: '7 days',
    heartbeatTimeout: input.heartbeatTimeoutMs,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '2 minutes', nonRetryableErrorTypes },
  });
  const db = proxyActivities<Activities>({
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });
  const enter = async (phase: RunPhase, state: 'planning' | 'copying' | 'verifying') => {
    status.phase = phase;
    await db.markRunState(runId, state, phase);
  };

  /** Runs `fn` over `batches` from `start`, `window` at a time, continuing as new when history grows. */
  const overBatches = async (phase: 'copy' | 'verify', batches: number[], start: number, fn: (batch: number) => Promise<unknown>) => {
    status.batchesTotal = batches.length;
    status.batchesDone = start;
    let next = start;
    let running = 0;
    let failure: unknown;
    while (next < batches.length || running > 0) {
      await condition(() => running < input.window || failure !== undefined);
      if (failure !== undefined) break;
      if (next < batches.length && !workflowInfo().continueAsNewSuggested) {
        const batch = batches[next++];
        running++;
        void fn(batch).then(
          () => { running--; status.batchesDone++; },
          (err) => { running--; failure ??= err; },
        );
        continue;
      }
      await condition(() => running === 0);
      if (failure !== undefined) break;
      if (next < batches.length) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof transferRun>({ ...input, from: { phase, batches, next } });
      }
    }
    if (failure !== undefined) {
      await condition(() => running === 0);
      throw failure;
    }
  };

  const copy = (batches: number[], start = 0) => overBatches('copy', batches, start, (batch) => io.copyBatch({ runId, batch }));
  const verify = (batches: number[], start = 0) => overBatches('verify', batches, start, (batch) => io.verifyBatch({ runId, batch }));

  try {
    let batches: number[];
    if (!input.from) {
      await enter('plan', 'planning');
      const plan = await io.planRun(runId);
      batches = Array.from({ length: plan.batchCount }, (_, i) => i + 1);
      await enter('copy', 'copying');
      await copy(batches);
    } else {
      batches = input.from.batches;
      if (input.from.phase === 'copy') {
        await copy(batches, input.from.next);
      }
    }
    if (input.verify) {
      await enter('verify', 'verifying');
      await verify(batches, input.from?.phase === 'verify' ? input.from.next : 0);
      // Files that failed their checksum were sent back once; copy and check just those again.
      const again = await db.batchesToCopy(runId);
      if (again.length > 0) {
        await enter('copy', 'copying');
        await copy(again);
        await enter('verify', 'verifying');
        await verify(again);
      }
    }
    status.phase = 'finalize';
    await db.finalizeRun(runId);
    status.phase = 'done';
    return status;
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => db.endRun(runId, 'cancelled', 'cancelled by request'));
    } else {
      await CancellationScope.nonCancellable(() => db.endRun(runId, 'failed', failureMessage(err)));
    }
    throw err;
  }
}

function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return err.cause.message;
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
