import { ledger } from '../activities.js';
import type { RunState } from '../runState.js';

/** Exact totals from the ledger and the final state. */
export async function finalizePhase(run: RunState): Promise<void> {
  run.phase = 'finalize';
  const { state } = await ledger.finalizeRun(run.runId);
  run.showState(state);
  run.phase = 'done';
}
