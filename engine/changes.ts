import type { Entry } from '../core/entry.js';
import { joinPath, relativeTo } from '../core/paths.js';
import { forEachLimited } from '../core/limit.js';
import { isConnectorError } from '../connectors/errors.js';
import type { Connector, ListNotice } from '../connectors/types.js';
import type { Db } from '../db/client.js';
import { insertEntries } from '../db/queries/ledger.js';
import type { FileFilter } from './filter.js';

/** Destination lookups at once: each is one round trip (rclone's --checkers). */
const statConcurrency = 8;

export interface ChangesPlan {
  db: Db;
  runId: string;
  src: Connector;
  dst: Connector;
  srcRoot: string;
  dstRoot: string;
  /** The job's cursor: changes since then are planned. */
  cursor: string;
  filter: FileFilter;
  /** Whether deletions matter (sync): the destination's side of a deleted path is listed, so the diff deletes it. */
  deletions: boolean;
  signal: AbortSignal;
  onRows: (n: number) => void;
  onNotice?: (n: ListNotice) => void;
}

export type ChangesOutcome =
  | { resync: true }
  | { resync: false; cursor: string; changed: number; deleted: number };

/**
 * Plans from the source's change feed instead of walking both trees: the source side of
 * `entries` holds what changed since the job's cursor (the last state of each path), and the
 * destination side holds only what is at those paths, found by one `stat` each (a deleted folder's
 * subtree by a walk, for sync). The set-based diff then works on these as on full listings: a
 * changed file the destination lacks or has differently is copied, one it has the same is skipped,
 * and for sync what the source deleted and the destination holds is deleted.
 *
 * Returns `resync` when the provider cannot answer from the cursor any more; nothing is stored
 * then and the caller walks. An attempt starts from the cursor again, so it must begin with an
 * empty `entries` for the run (the caller clears it).
 */
export async function planFromChanges(o: ChangesPlan): Promise<ChangesOutcome> {
  if (!o.src.changes) throw new Error('planFromChanges needs a source with a change feed');
  // The last word on each path wins: a file changed then deleted is deleted, and the reverse.
  const latest = new Map<string, Entry | null>();
  let cursor: string | undefined;
  for await (const batch of o.src.changes(o.cursor, { signal: o.signal, onNotice: o.onNotice })) {
    if (batch.resync) return { resync: true };
    for (const path of batch.deleted) {
      const rel = relativeTo(o.srcRoot, path);
      if (rel) latest.set(rel, null);
    }
    for (const e of batch.changed) {
      const rel = relativeTo(o.srcRoot, e.path);
      if (rel) latest.set(rel, { ...e, path: rel });
    }
    if (batch.cursor !== undefined) cursor = batch.cursor;
  }
  if (cursor === undefined) throw new Error(`the ${o.src.type} change feed ended without a cursor`);

  const changed: Entry[] = [];
  const deleted: string[] = [];
  for (const [path, e] of latest) {
    if (e === null) {
      if (o.deletions) deleted.push(path);
    } else if (kept(o.filter, e)) {
      changed.push(e);
    }
  }
  const gone = new Set(deleted);
  await insertEntries(o.db, o.runId, 'src', changed);
  o.onRows(changed.length);

  await forEachLimited([...changed.filter((e) => !e.isDir).map((e) => e.path), ...deleted], statConcurrency, async (rel) => {
    const at = await statOrNull(o.dst, joinPath(o.dstRoot, rel), o.signal);
    if (!at) return;
    // The destination's side goes through the filters as a walk's would: what they leave out is never deleted.
    const found: Entry[] = [{ ...at, path: rel }];
    if (at.isDir && gone.has(rel)) {
      for await (const page of o.dst.walk(joinPath(o.dstRoot, rel), { signal: o.signal })) {
        for (const e of page) {
          const below = relativeTo(o.dstRoot, e.path);
          if (below) found.push({ ...e, path: below });
        }
      }
    }
    const keep = found.filter((e) => kept(o.filter, e));
    await insertEntries(o.db, o.runId, 'dst', keep);
    o.onRows(keep.length);
  });
  return { resync: false, cursor, changed: changed.length, deleted: deleted.length };
}

function kept(filter: FileFilter, e: Entry): boolean {
  return e.isDir ? filter.dir(e.path) : filter.file(e.path, e.size, e.mtimeMs);
}

async function statOrNull(c: Connector, path: string, signal: AbortSignal): Promise<Entry | null> {
  try {
    return await c.stat(path, { signal });
  } catch (err) {
    if (isConnectorError(err, 'not_found')) return null;
    throw err;
  }
}
