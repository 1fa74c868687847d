import type { Client } from '@temporalio/client';
import type { JobOptions } from '../core/job.js';
import type { TransferRunInput } from '../core/run.js';
import type { Db } from '../db/client.js';
import type { RunRow } from '../db/queries/runs.js';
import { runIdentity, setRunState } from '../db/queries/runs.js';
import { runSummary, startAttributes } from '../core/searchAttributes.js';
import type { transferRun } from '../workflows/transferRun.js';

export interface StartRunDeps {
  db: Db;
  client: Client;
  taskQueue: string;
  heartbeatTimeoutMs: number;
}

/**
 * Starts the workflow of a run already in the database, with the job's settings. A run whose
 * workflow could not be started is marked failed, so it never sits `queued` for ever.
 */
export async function startRun(deps: StartRunDeps, run: RunRow, options: JobOptions, extra: Pick<TransferRunInput, 'retryOf'> = {}): Promise<void> {
  const input: TransferRunInput = {
    runId: run.id,
    heartbeatTimeoutMs: deps.heartbeatTimeoutMs,
    settings: { transfers: options.transfers, verify: options.verify, bandwidthLimit: options.bwlimit ?? null },
    ...extra,
  };
  try {
    const who = await runIdentity(deps.db, run.jobId);
    await deps.client.workflow.start<typeof transferRun>('transferRun', {
      taskQueue: deps.taskQueue, workflowId: run.workflowId, args: [input],
      typedSearchAttributes: startAttributes(who), staticSummary: runSummary(who),
    });
  } catch (err) {
    await setRunState(deps.db, run.id, 'failed', 'plan', { error: 'could not start the run workflow', finishedAt: new Date() });
    throw err;
  }
}
