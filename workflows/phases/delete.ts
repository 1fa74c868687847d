import { ioActivities, ledger } from '../activities.js';
import type { RunState } from '../runState.js';
import { runScan } from '../scheduler.js';

/**
 * sync: deletes the destination-only files (after approval, never after copy errors), then the
 * folders left empty. move: deletes each source whose copy verified. Nothing for copy and check.
 */
export async function deletePhase(run: RunState, after = 0): Promise<void> {
  if (!(await ledger.prepareDeletes(run.runId))) return;
  const io = ioActivities(run.heartbeatTimeoutMs);
  await runScan(run, 'delete', after,
    (ref, lanes) => io.deleteBatch({ runId: run.runId, batch: ref.batch, lanes, settings: run.settings }),
    async () => {
      run.phase = 'delete';
      await run.mark('deleting', 'delete');
    });
  await io.removeFolders(run.runId);
}
