import type { Entry } from '../core/entry.js';
import { joinPath, relativeTo } from '../core/paths.js';
import { isConnectorError } from '../connectors/errors.js';
import type { Connector, ListNotice } from '../connectors/types.js';
import type { Db } from '../db/client.js';
import { analyzeEntries, insertEntries, listingState, seedListing, unlistedDirs, type Side } from '../db/queries/ledger.js';
import { forEachLimited } from '../core/limit.js';
import type { FileFilter } from './filter.js';

/** Folders listed at once: listing is round-trip bound on remote providers (rclone's --checkers). */
const listConcurrency = 4;

export interface ListSide {
  db: Db;
  runId: string;
  side: Side;
  connector: Connector;
  /** The job's location on this side; entries are stored relative to it. */
  root: string;
  /** The destination may not exist yet: then it is empty. */
  missingIsEmpty: boolean;
  /** The job's filters: what they leave out never reaches `entries`, on either side. */
  filter: FileFilter;
  signal: AbortSignal;
  onRows: (n: number) => void;
  /** Files the filters left out, this attempt. */
  onFiltered?: (n: number) => void;
  /** What the provider reports about items it lists differently or not at all. */
  onNotice?: (n: ListNotice) => void;
}

/**
 * Lists one side into `entries` with its cursor in the same table: every folder found is a row
 * still to list until its children are in, so a listing cut by a crash or a throttle resumes
 * with the folders not yet listed instead of from zero. Providers with one recursive listing
 * (Jottacloud's liststream) are read in one go and start over if cut.
 * Returns the rows this call added, for the plan event.
 */
export async function listSide(o: ListSide): Promise<{ resumed: boolean }> {
  const before = await listingState(o.db, o.runId, o.side);
  if (!before.seeded) await seedListing(o.db, o.runId, o.side);
  if (o.connector.capabilities.recursiveList) {
    if ((await unlistedDirs(o.db, o.runId, o.side, 1)).length === 0) return { resumed: before.seeded };
    await store(o, '', o.connector.walk(o.root, { signal: o.signal, onNotice: o.onNotice }));
    return { resumed: before.seeded };
  }
  let rows = 0;
  let analyzedAt = 0;
  const counting = { ...o, onRows: (n: number) => { rows += n; o.onRows(n); } };
  for (;;) {
    // The cursor's lookups stay index scans only if PostgreSQL knows the table grew.
    if (rows - analyzedAt >= 100_000 || (analyzedAt === 0 && rows >= 10_000)) {
      analyzedAt = rows;
      await analyzeEntries(o.db);
    }
    const dirs = await unlistedDirs(o.db, o.runId, o.side, 64);
    if (dirs.length === 0) return { resumed: before.seeded };
    await forEachLimited(dirs, listConcurrency, (dir) => store(counting, dir, o.connector.list(joinPath(o.root, dir), { signal: o.signal, onNotice: o.onNotice })));
  }
}

/** Stores a folder's pages (one behind, so the last goes in with the folder's listed mark). */
async function store(o: ListSide, dir: string, pages: AsyncIterable<Entry[]>): Promise<void> {
  let held: Entry[] | null = null;
  try {
    for await (const page of pages) {
      if (held) await insertEntries(o.db, o.runId, o.side, held);
      held = [];
      let filtered = 0;
      for (const e of page) {
        const rel = relativeTo(o.root, e.path);
        if (!rel) continue;
        if (e.isDir ? o.filter.dir(rel) : o.filter.file(rel, e.size, e.mtimeMs)) held.push({ ...e, path: rel });
        else if (!e.isDir) filtered++;
      }
      o.onRows(held.length);
      if (filtered > 0) o.onFiltered?.(filtered);
    }
  } catch (err) {
    // The root must exist (or count as empty, for a destination not made yet); a folder deleted
    // since its parent was listed has simply left the tree.
    if (!isConnectorError(err, 'not_found') || (dir === '' && !o.missingIsEmpty)) throw err;
    held = [];
  }
  await insertEntries(o.db, o.runId, o.side, held ?? [], dir);
}
