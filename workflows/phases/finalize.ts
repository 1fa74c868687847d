import { ledger } from '../activities.js';
import type { RunState } from '../runState.js';

/** Exact totals from the ledger and the final state. */
export async function finalizePhase(run: RunState): Promise<void> {
  run.phase = 'finalize';
  await ledger.finalizeRun(run.runId);
  run.phase = 'done';
}
