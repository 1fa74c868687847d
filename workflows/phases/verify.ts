import type { BatchScan } from '../../core/run.js';
import { ioActivities } from '../activities.js';
import type { RunState } from '../runState.js';
import { runScan } from '../scheduler.js';

/** Checks the copied files whose hashes were not both known when they were copied (a resumed upload, a provider without a stored hash). */
export async function verifyPhase(run: RunState, scan: Extract<BatchScan, 'verify' | 'reverify'>, after = 0): Promise<void> {
  const io = ioActivities(run.heartbeatTimeoutMs);
  await runScan(run, scan, after,
    (ref, lanes) => io.verifyBatch({ runId: run.runId, batch: ref.batch, lanes, settings: run.settings }),
    async () => {
      run.phase = 'verify';
      await run.mark('verifying', 'verify');
    });
}
