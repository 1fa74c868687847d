import { joinPath } from '../core/paths.js';
import { forEachLimited } from '../core/limit.js';
import { isConnectorError } from '../connectors/errors.js';
import { recordDeletes, type DeleteOutcome, type ItemRow } from '../db/queries/ledger.js';
import { addEvents } from '../db/queries/runs.js';
import { keepInBackup, type BatchEnv, type BatchResult } from './batch.js';
import { errorMessage, ignoringNotFound, isPerFileError } from './errors.js';
import { isAsPlanned } from './copy.js';
import { Ledger } from './groupCommit.js';

/**
 * The delete scan's batch. sync: each destination-only file goes to the provider's trash (where
 * it has one), or to backupDir when the job names one. move: each source file whose copy
 * verified is deleted, unless it changed since it was copied (then it stays, and says so).
 * Deleting what is already gone counts as done, so a cut batch can run again.
 */
export async function deleteBatch(env: BatchEnv, todo: readonly ItemRow[], mode: string): Promise<BatchResult> {
  const result: BatchResult = { copied: 0, verified: 0, failed: 0, bytes: 0 };
  const ledger = new Ledger<DeleteOutcome>(async (outcomes, events) => {
    await recordDeletes(env.db, env.runId, outcomes);
    await addEvents(env.db, env.runId, events);
  });
  try {
    await forEachLimited(todo, env.lanes, async (item) => {
      try {
        const outcome = mode === 'move' ? await deleteSource(env, item) : await deleteOnDestination(env, item);
        if (outcome.state === 'failed') result.failed++;
        else result.copied++;
        await ledger.add(outcome);
      } catch (err) {
        if (!isPerFileError(err)) throw err;
        result.failed++;
        await ledger.add({ id: item.id, state: 'failed', error: `delete: ${errorMessage(err)}` },
          { kind: 'file_failed', message: `${item.path}: not deleted: ${errorMessage(err)}`, data: { path: item.path } });
      }
    });
  } finally {
    await ledger.flush();
  }
  return result;
}

async function deleteOnDestination(env: BatchEnv, item: ItemRow): Promise<DeleteOutcome> {
  if (env.backupDir) await keepInBackup(env, item.path);
  else await ignoringNotFound(() => env.dst.delete(joinPath(env.destRoot, item.path)));
  return { id: item.id, state: 'deleted' };
}

/** move: the source goes only if it is still the file that was copied and verified. */
async function deleteSource(env: BatchEnv, item: ItemRow): Promise<DeleteOutcome> {
  const path = joinPath(env.sourceRoot, item.path);
  const now = await env.src.stat(path, { signal: env.signal }).catch((err: unknown) => {
    if (isConnectorError(err, 'not_found')) return null;
    throw err;
  });
  if (now === null) return { id: item.id, state: 'moved' };
  if (!isAsPlanned(env.src, now, item)) {
    return { id: item.id, state: 'failed', error: 'the source file changed after it was copied, so it was not deleted; run the move again to copy the new version' };
  }
  await ignoringNotFound(() => env.src.delete(path));
  return { id: item.id, state: 'moved' };
}

/**
 * sync's destination-only folders, once their files are deleted: deepest first, each removed
 * only if nothing is left in it (files the filters left out, or ones a failed delete kept).
 */
export async function removeEmptyFolders(env: Pick<BatchEnv, 'db' | 'runId' | 'dst' | 'destRoot' | 'signal'>, folders: readonly ItemRow[]): Promise<{ removed: number; kept: number }> {
  let removed = 0;
  let kept = 0;
  const outcomes: DeleteOutcome[] = [];
  for (const f of folders) {
    const path = joinPath(env.destRoot, f.path);
    let empty = true;
    try {
      for await (const page of env.dst.list(path, { signal: env.signal })) if (page.length > 0) empty = false;
    } catch (err) {
      if (!isConnectorError(err, 'not_found')) throw err;
      outcomes.push({ id: f.id, state: 'deleted' });
      removed++;
      continue;
    }
    if (!empty) {
      kept++;
      outcomes.push({ id: f.id, state: 'skipped', error: 'kept: the folder still holds files the sync does not cover (filtered out, or not deleted)' });
      continue;
    }
    await ignoringNotFound(() => env.dst.delete(path));
    outcomes.push({ id: f.id, state: 'deleted' });
    removed++;
  }
  await recordDeletes(env.db, env.runId, outcomes);
  return { removed, kept };
}
