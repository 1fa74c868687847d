import { ConnectorError } from '../connectors/errors.js';
import type { Connector } from '../connectors/types.js';
import type { Entry } from '../core/entry.js';
import { jobOptionsSchema } from '../core/job.js';
import { relativeTo } from '../core/paths.js';
import { diffIntoItems, insertEntries, resetPlan, type PlanTotals, type Side } from '../db/queries/ledger.js';
import { addEvent, getRunWithJob } from '../db/queries/runs.js';
import type { WorkerState } from './copy.js';
import type { ActivityDeps } from './deps.js';
import { startHeartbeat } from './heartbeat.js';
import { toActivityFailure } from './failures.js';

export function planActivities(deps: ActivityDeps, worker: WorkerState) {
  return {
    /**
     * Enumerates both sides into `entries`, page by page, then diffs them into the ledger in SQL.
     * Starts over on retry: a half-written listing is thrown away first.
     */
    async planRun(runId: string): Promise<PlanTotals> {
      const { job } = await getRunWithJob(deps.db, runId);
      const options = jobOptionsSchema.parse(job.options);
      await resetPlan(deps.db, runId);
      let listed = 0;
      const hb = startHeartbeat(() => ({ listed }));
      try {
        return await worker.connectors.with([job.sourceRemoteId, job.destRemoteId], async ([src, dst]) => {
          const root = await src.stat(job.sourcePath, { signal: hb.signal }).catch((err) => {
            throw toActivityFailure(err, `source "${job.sourcePath || '/'}"`);
          });
          if (!root.isDir) throw toActivityFailure(new ConnectorError('unsupported', 'the source must be a folder'), `source "${job.sourcePath}"`);
          await enumerate(deps, runId, 'src', src, job.sourcePath, hb.signal, (n) => { listed += n; });
          await enumerate(deps, runId, 'dst', dst, job.destPath, hb.signal, (n) => { listed += n; }, true);
          const totals = await diffIntoItems(deps.db, runId, {
            mtimeToleranceMs: Math.max(src.capabilities.mtimePrecisionMs, dst.capabilities.mtimePrecisionMs),
            largeFileThreshold: options.largeFileThreshold,
            batchFiles: options.batchFiles,
            batchBytes: options.batchBytes,
            caseInsensitive: dst.capabilities.caseInsensitive,
          });
          if (totals.caseCollisions > 0) {
            await addEvent(deps.db, runId, 'case_collision', `${totals.caseCollisions} source files have names that differ only in case; the destination would keep only one of each, so none of them is copied (see the failed files)`, { files: totals.caseCollisions });
          }
          const needed = dst.capabilities.hashBeforeUpload;
          if (needed && !src.capabilities.hashes.includes(needed) && totals.filesTotal > 0) {
            await addEvent(deps.db, runId, 'hash_prepass', `the destination needs each file's ${needed.toUpperCase()} before upload and the source does not store one: every file is read once to hash it, then again to send it`, { hash: needed });
          }
          await addEvent(deps.db, runId, 'plan', `planned ${totals.filesTotal} files (${totals.bytesTotal} bytes) to copy, ${totals.filesSkipped} already there`, { ...totals });
          return totals;
        });
      } catch (err) {
        throw toActivityFailure(err, 'planning');
      } finally {
        hb.stop();
      }
    },
  };
}

/** Streams one side's listing into `entries`; paths are stored relative to the job's location. */
async function enumerate(
  deps: ActivityDeps, runId: string, side: Side, connector: Connector, root: string,
  signal: AbortSignal, onPage: (n: number) => void, missingIsEmpty = false,
): Promise<void> {
  try {
    for await (const page of connector.walk(root, { signal })) {
      const rows: Entry[] = [];
      for (const e of page) {
        const rel = relativeTo(root, e.path);
        if (rel) rows.push({ ...e, path: rel });
      }
      await insertEntries(deps.db, runId, side, rows);
      onPage(rows.length);
    }
  } catch (err) {
    if (missingIsEmpty && err instanceof ConnectorError && err.kind === 'not_found') return;
    throw toActivityFailure(err, `listing ${side === 'src' ? 'source' : 'destination'} "${root || '/'}"`);
  }
}
