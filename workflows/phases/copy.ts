import type { BatchScan } from '../../core/run.js';
import { ioActivities } from '../activities.js';
import type { RunState } from '../runState.js';
import { runScan } from '../scheduler.js';

/**
 * Copies the batches that hold unfinished files. Most files are verified as they are copied
 * (both sides' hashes known); the rest wait for the verify phase. `recopy` is the second pass over
 * files a verify mismatch sent back.
 */
export async function copyPhase(run: RunState, scan: Extract<BatchScan, 'copy' | 'recopy'>, after = 0): Promise<void> {
  const io = ioActivities(run.heartbeatTimeoutMs);
  await runScan(run, scan, after,
    (ref, lanes) => io.copyBatch({ runId: run.runId, batch: ref.batch, lanes, settings: run.settings }),
    async () => {
      run.phase = 'copy';
      await run.mark('copying', 'copy');
    });
}
