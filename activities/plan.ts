import { cancellationDetails } from '@temporalio/activity';
import { ConnectorError } from '../connectors/errors.js';
import type { HashType } from '../core/entry.js';
import { jobOptionsSchema, type JobOptions } from '../core/job.js';
import { checkSummary, insertCheckItems } from '../db/queries/check.js';
import { clearEntries, diffIntoItems, insertRetryItems, type PlanRules, type PlanTotals } from '../db/queries/ledger.js';
import type { Capabilities } from '../connectors/types.js';
import { compileFilter } from '../engine/filter.js';
import { planFromChanges } from '../engine/changes.js';
import { listSide } from '../engine/plan.js';
import { noticeCounter } from '../engine/notices.js';
import { addEvent, getRunWithJob, noteChangeCursor } from '../db/queries/runs.js';
import type { WorkerState } from './copy.js';
import type { ActivityDeps } from './deps.js';
import { startHeartbeat } from './heartbeat.js';
import { toActivityFailure } from './failures.js';
import { throttleWatch } from './waiting.js';

export function planActivities(deps: ActivityDeps, worker: WorkerState) {
  return {
    /** A retry's plan: the failed files of `fromRunId`, batched; nothing is listed. */
    async planRetry(runId: string, fromRunId: string): Promise<PlanTotals> {
      try {
        const { job } = await getRunWithJob(deps.db, runId);
        const options = jobOptionsSchema.parse(job.options);
        const totals = await insertRetryItems(deps.db, runId, fromRunId, options);
        await addEvent(deps.db, runId, 'plan', `retry of run ${fromRunId}: ${totals.filesTotal} files (${totals.bytesTotal} bytes) that failed there are copied again`, { ...totals, retryOf: fromRunId });
        return totals;
      } catch (err) {
        throw toActivityFailure(err, 'planning the retry');
      }
    },

    /**
     * Enumerates both sides into `entries`, page by page, then diffs them into the ledger in SQL.
     * A retry resumes the listing from its cursor in `entries` (engine/plan.ts).
     */
    async planRun(runId: string): Promise<PlanTotals> {
      const { job, run } = await getRunWithJob(deps.db, runId);
      const options = jobOptionsSchema.parse(job.options);
      const filter = compileFilter(job.filters, run.startedAt.getTime());
      let listed = 0;
      let filtered = 0;
      const hb = startHeartbeat(() => ({ listed }));
      const throttle = throttleWatch(deps, runId, () => 'planning');
      try {
        return await worker.connectors.with([job.sourceRemoteId, job.destRemoteId], async ([src, dst]) => {
          const root = await src.stat(job.sourcePath, { signal: hb.signal }).catch((err) => {
            throw toActivityFailure(err, `source "${job.sourcePath || '/'}"`);
          });
          if (!root.isDir) throw toActivityFailure(new ConnectorError('unsupported', 'the source must be a folder'), `source "${job.sourcePath}"`);
          const onRows = (n: number) => { listed += n; void throttle.progressed(); };
          const base = { db: deps.db, runId, filter, signal: hb.signal, onRows };
          const notices = noticeCounter();
          // A sync deletes what the source no longer has: from the feed only where it names every old path.
          const feedServes = job.mode === 'copy' || job.mode === 'move' || (job.mode === 'sync' && src.capabilities.changeFeedDeletes === true);
          const feed = feedServes && options.changeFeed && src.changes && src.changeCursor ? src : null;
          let fromChanges = run.plannedFromChanges && run.nextChangeCursor !== null;
          // A walk already under way (this is a retry of its plan) goes on walking.
          const walking = !run.plannedFromChanges && run.nextChangeCursor !== null;
          if (feed && job.changeCursor && !fromChanges && !walking) {
            await clearEntries(deps.db, runId);
            await noteChangeCursor(deps.db, runId, null, true);
            const out = await planFromChanges({
              ...base, src, dst, srcRoot: job.sourcePath, dstRoot: job.destPath, cursor: job.changeCursor,
              deletions: job.mode === 'sync', onNotice: notices.add,
            }).catch((err) => { throw toActivityFailure(err, `reading the changes of source "${job.sourcePath || '/'}"`); });
            if (out.resync) {
              await clearEntries(deps.db, runId);
              await addEvent(deps.db, runId, 'changes_resync', `the source's change feed no longer answers from where the last run left it: both trees are walked this time`, {});
            } else {
              await noteChangeCursor(deps.db, runId, out.cursor, true);
              fromChanges = true;
              await addEvent(deps.db, runId, 'plan_from_changes', `planned from the source's change feed: ${out.changed} entries changed${job.mode === 'sync' ? ` and ${out.deleted} deleted` : ''} since the last completed run; nothing else was listed`, { changed: out.changed, deleted: out.deleted });
            }
          }
          if (!fromChanges) {
            if (feed) {
              // Taken before the walk, so what changes while it lists is in the next run's feed.
              const cursor = await feed.changeCursor!({ signal: hb.signal }).catch((err) => { throw toActivityFailure(err, `reading the change feed position of source "${job.sourcePath || '/'}"`); });
              await noteChangeCursor(deps.db, runId, cursor, false, true);
            }
            const srcList = await listSide({ ...base, onFiltered: (n) => { filtered += n; }, onNotice: notices.add, side: 'src', connector: src, root: job.sourcePath, missingIsEmpty: false })
              .catch((err) => { throw toActivityFailure(err, `listing source "${job.sourcePath || '/'}"`); });
            const dstList = await listSide({ ...base, side: 'dst', connector: dst, root: job.destPath, missingIsEmpty: true })
              .catch((err) => { throw toActivityFailure(err, `listing destination "${job.destPath || '/'}"`); });
            if (srcList.resumed || dstList.resumed) {
              await addEvent(deps.db, runId, 'plan_resumed', `planning resumed after an interruption: the listing went on from the folders not yet listed (${listed} entries this attempt)`, { listed });
            }
          }
          await notices.report(deps.db, runId);
          const listedHash = src.capabilities.hashes.find((h) => dst.capabilities.hashes.includes(h)) ?? null;
          if (job.mode === 'check') return await planCheck(deps, runId, options, listedHash, dst.capabilities.caseInsensitive);
          const totals = await diffIntoItems(deps.db, runId, {
            mtimeToleranceMs: Math.max(src.capabilities.mtimePrecisionMs, dst.capabilities.mtimePrecisionMs),
            largeFileThreshold: options.largeFileThreshold,
            batchFiles: options.batchFiles,
            batchBytes: options.batchBytes,
            caseInsensitive: dst.capabilities.caseInsensitive,
            maxFileSize: dst.capabilities.maxFileSize,
            compare: options.compare,
            conflict: options.conflict,
            listedHash,
            mode: job.mode === 'sync' || job.mode === 'move' ? job.mode : 'copy',
            renamesAt: renamesAt(job, dst.capabilities),
          });
          if (filtered > 0) {
            await addEvent(deps.db, runId, 'filtered', `the job's filters left out ${filtered} source files (counted in this attempt of the plan)`, { files: filtered });
          }
          if (totals.conflictsKept > 0) {
            await addEvent(deps.db, runId, 'conflicts_kept', `${totals.conflictsKept} files differ from the destination's and are left as the destination has them (conflict=${options.conflict})`, { files: totals.conflictsKept });
          }
          if (totals.renamed > 0) {
            await addEvent(deps.db, runId, 'conflicts_renamed', `${totals.renamed} files differ from the destination's; both are kept, the source's copy under a .conflict-<time> name beside it`, { files: totals.renamed });
          }
          if (totals.tooLarge > 0) {
            await addEvent(deps.db, runId, 'too_large', `${totals.tooLarge} source files are larger than the destination's largest file (${dst.capabilities.maxFileSize} bytes) and are skipped; the run report names them`, { files: totals.tooLarge, maxFileSize: dst.capabilities.maxFileSize });
          }
          if (totals.caseCollisions > 0) {
            await addEvent(deps.db, runId, 'case_collision', `${totals.caseCollisions} source files have names that differ only in case; the destination would keep only one of each, so none of them is copied (see the failed files)`, { files: totals.caseCollisions });
          }
          const needed = dst.capabilities.hashBeforeUpload;
          if (needed && !src.capabilities.hashes.includes(needed) && totals.filesTotal > 0) {
            await addEvent(deps.db, runId, 'hash_prepass', `the destination needs each file's ${needed.toUpperCase()} before upload and the source does not store one: every file is read once to hash it, then again to send it`, { hash: needed });
          }
          await addEvent(deps.db, runId, 'plan', `planned ${totals.filesTotal} files (${totals.bytesTotal} bytes) to copy${totals.moves ? ` (${totals.moves} of them renames, moved on the destination)` : ''}${totals.serverCopies ? ` (${totals.serverCopies} of them copied on the destination from a file already there)` : ''}, ${totals.filesSkipped} already there${job.mode === 'sync' ? `, ${totals.deletes} only on the destination to delete` : ''}`, { ...totals });
          await throttle.progressed();
          return totals;
        });
      } catch (err) {
        // Paused or cancelled: the listing's cursor is saved; say so, or Temporal would retry it.
        if (hb.signal.aborted && cancellationDetails()?.cancelRequested) throw hb.signal.reason;
        throw await throttle.failed(toActivityFailure(err, 'planning'));
      } finally {
        hb.stop();
      }
    },
  };
}

/** A check run's plan: verdicts from the listings where they suffice, the rest batched for hashing. */
async function planCheck(deps: ActivityDeps, runId: string, options: JobOptions, listedHash: HashType | null, caseInsensitive: boolean): Promise<PlanTotals> {
  const totals = await insertCheckItems(deps.db, runId, {
    largeFileThreshold: options.largeFileThreshold, batchFiles: options.batchFiles, batchBytes: options.batchBytes,
    caseInsensitive, listedHash, download: options.download, sizeOnly: options.compare === 'size_only',
  });
  if (options.compare === 'size_only') {
    await addEvent(deps.db, runId, 'check_size_only', 'compare=size_only: files of equal size count as matching', {});
  } else if (!options.download && listedHash === null) {
    await addEvent(deps.db, runId, 'check_size_only', 'the two sides\' listings share no hash: files of equal size count as matching; set options.download to read and compare their bytes', {});
  }
  const summary = await checkSummary(deps.db, runId);
  const decided = Object.values(summary).reduce((a, n) => a + n, 0);
  await addEvent(deps.db, runId, 'plan', `comparing ${totals.filesTotal} files: ${decided} decided from the listings, ${totals.filesTotal - decided} to read and hash on both sides`, { ...totals, ...summary });
  return totals;
}

/**
 * Whether this run looks in the destination's ledger for renamed source files: sync moves them on
 * the destination where it can move server-side, copy copies them there where it can copy.
 */
function renamesAt(job: { mode: string; destRemoteId: string; destPath: string }, caps: Capabilities): PlanRules['renamesAt'] {
  const how = job.mode === 'sync' && caps.serverSideMove ? 'move' : job.mode === 'copy' && caps.serverSideCopy ? 'copy' : null;
  return how && { remoteId: job.destRemoteId, path: job.destPath, how };
}
