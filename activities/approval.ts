import { createHash } from 'node:crypto';
import { relativeTo } from '../core/paths.js';
import type { Entry } from '../core/entry.js';
import { jobOptionsSchema } from '../core/job.js';
import type { RunPlan } from '../core/run.js';
import { copyFailures, guardDeletes, pendingFolderDeletes, planGroupCounts, planPage, settleDeletes, sourceTopLevel } from '../db/queries/ledger.js';
import { addEvent, getRunWithJob, setRunPlan } from '../db/queries/runs.js';
import { compileFilter } from '../engine/filter.js';
import { removeEmptyFolders } from '../engine/delete.js';
import type { WorkerState } from './copy.js';
import type { ActivityDeps } from './deps.js';
import { toActivityFailure } from './failures.js';
import { startHeartbeat } from './heartbeat.js';

/** Paths shown per plan group. */
const firstPaths = 20;

/** What the workflow needs to know of a stored plan: whether to wait, and for how long at most. */
export interface StoredPlan {
  digest: string;
  plannedAtMs: number;
  maxAgeMs: number;
  /** A dry run, or a sync that would delete without approve=auto. */
  needsApproval: boolean;
}

export function approvalActivities(deps: ActivityDeps, worker: WorkerState) {
  return {
    /**
     * The plan as the user approves it: counts, bytes and first paths of each group, and a
     * digest over every planned file (path, action, size, mtime, where it goes), so an approval
     * names exactly this plan. sync's delete guards run first, so the plan shows what they refused.
     */
    async storePlan(runId: string): Promise<StoredPlan> {
      const { job, run } = await getRunWithJob(deps.db, runId);
      const options = jobOptionsSchema.parse(job.options);
      if (job.mode === 'sync') {
        const refused = await guardDeletes(deps.db, runId, { ...options, fromChanges: run.plannedFromChanges });
        if (refused) await addEvent(deps.db, runId, 'deletes_refused', refused);
      }
      const hash = createHash('sha256');
      for (let after = ''; ;) {
        const page = await planPage(deps.db, runId, after, 5000);
        for (const i of page) hash.update(`${i.action}\t${i.path}\t${i.size}\t${i.mtimeMs}\t${i.dstPath ?? ''}\t${i.fromPath ?? ''}\n`);
        if (page.length < 5000) break;
        after = page[page.length - 1].path;
      }
      const plan: RunPlan = {
        digest: `sha256:${hash.digest('hex')}`,
        plannedAt: new Date().toISOString(),
        groups: await planGroupCounts(deps.db, runId, firstPaths),
        sourceStamp: stampOf(await sourceTopLevel(deps.db, runId)),
      };
      await setRunPlan(deps.db, runId, plan);
      const needsApproval = options.dryRun || (job.mode === 'sync' && plan.groups.delete.files > 0 && options.approve === 'manual');
      const g = plan.groups;
      await addEvent(deps.db, runId, 'plan_stored',
        `plan ${plan.digest.slice(0, 19)}…: copy ${g.copy.files}, overwrite ${g.overwrite.files}, move ${g.move.files}, delete ${g.delete.files}, skip ${g.skip.files}` +
        (needsApproval ? `; waiting for approval (POST /v1/runs/${runId}/approve with this digest)` : ''), { digest: plan.digest, dryRun: options.dryRun });
      return { digest: plan.digest, plannedAtMs: Date.parse(plan.plannedAt), maxAgeMs: options.planMaxAge, needsApproval };
    },

    /**
     * At approval: whether the source still looks as planned, checked cheaply by listing its top
     * level again (names, sizes and times of files and folders, after the job's filters). A
     * change deeper down that leaves every top-level folder's time alone is not seen here.
     */
    async sourceChangedSincePlan(runId: string): Promise<string | null> {
      const { run, job } = await getRunWithJob(deps.db, runId);
      if (!run.plan) return 'the run has no stored plan';
      const filter = compileFilter(job.filters, run.startedAt.getTime());
      const hb = startHeartbeat(() => ({}));
      try {
        return await worker.connectors.with([job.sourceRemoteId], async ([src]) => {
          const now: Entry[] = [];
          for await (const page of src.list(job.sourcePath, { signal: hb.signal })) {
            for (const e of page) {
              const rel = relativeTo(job.sourcePath, e.path);
              if (rel && (e.isDir ? filter.dir(rel) : filter.file(rel, e.size, e.mtimeMs))) now.push({ ...e, path: rel });
            }
          }
          now.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
          return stampOf(now) === run.plan!.sourceStamp ? null
            : `the source's top level changed since the plan was made (${run.plan!.plannedAt}): files or folders were added, removed or modified`;
        });
      } catch (err) {
        throw toActivityFailure(err, 'checking the source against the plan');
      } finally {
        hb.stop();
      }
    },

    /**
     * Before the delete scan: whether it runs. sync deletes nothing when any file failed to copy
     * (rclone's rule: a failed copy may be a sign the source is not what it seems); move deletes
     * each source whose copy verified, whatever happened to the others.
     */
    async prepareDeletes(runId: string): Promise<boolean> {
      const { job } = await getRunWithJob(deps.db, runId);
      if (job.mode === 'move') return true;
      if (job.mode !== 'sync') return false;
      const failures = await copyFailures(deps.db, runId);
      if (failures > 0) {
        const n = await settleDeletes(deps.db, runId, 'skipped', `not deleted: ${failures} files failed to copy, and sync deletes nothing after errors; run it again once they copy`);
        if (n > 0) await addEvent(deps.db, runId, 'deletes_skipped', `${n} destination files and folders not deleted: ${failures} files failed to copy, and sync deletes nothing after errors`, { files: n, failures });
        return false;
      }
      return true;
    },

    /** sync, after its file deletes: the destination-only folders, deepest first, each if empty. */
    async removeFolders(runId: string): Promise<{ removed: number; kept: number }> {
      const { job } = await getRunWithJob(deps.db, runId);
      const folders = await pendingFolderDeletes(deps.db, runId);
      if (folders.length === 0) return { removed: 0, kept: 0 };
      const hb = startHeartbeat(() => ({}));
      try {
        return await worker.connectors.with([job.destRemoteId], async ([dst]) => {
          const r = await removeEmptyFolders({ db: deps.db, runId, dst, destRoot: job.destPath, signal: hb.signal }, folders);
          await addEvent(deps.db, runId, 'folders_removed', `${r.removed} destination-only folders removed${r.kept ? `, ${r.kept} kept because files the sync does not cover are still in them` : ''}`, r);
          return r;
        });
      } catch (err) {
        throw toActivityFailure(err, 'removing folders');
      } finally {
        hb.stop();
      }
    },
  };
}

function stampOf(top: readonly Entry[]): string {
  const h = createHash('sha256');
  for (const e of top) h.update(`${e.isDir ? 'd' : 'f'}\t${e.path}\t${e.isDir ? '' : e.size}\t${Math.round(e.mtimeMs)}\n`);
  return h.digest('hex');
}
