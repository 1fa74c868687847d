import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Entry, Hashes } from '../../core/entry.js';
import type { ItemState } from '../../core/run.js';
import { queryRows, type Db } from '../client.js';
import { entries, items, runs } from '../schema.js';

export type ItemRow = typeof items.$inferSelect;
export type Side = 'src' | 'dst';

/** Throws away an earlier, interrupted plan of the same run, so planning can simply start over. */
export async function resetPlan(db: Db, runId: string): Promise<void> {
  await db.delete(items).where(eq(items.runId, runId));
  await db.delete(entries).where(eq(entries.runId, runId));
}

/** One multi-row insert per listing page; a page is at most a few thousand rows. */
export async function insertEntries(db: Db, runId: string, side: Side, page: readonly Entry[]): Promise<void> {
  if (page.length === 0) return;
  const rows = page.map((e) => ({ runId, side, path: e.path, isDir: e.isDir, size: e.size, mtimeMs: Math.round(e.mtimeMs), hashes: e.hashes }));
  for (let i = 0; i < rows.length; i += 1000) {
    await db.insert(entries).values(rows.slice(i, i + 1000)).onConflictDoNothing();
  }
}

export interface PlanRules {
  /** Modification times closer than this count as equal: the coarser precision of the two sides. */
  mtimeToleranceMs: number;
  largeFileThreshold: number;
  batchFiles: number;
  batchBytes: number;
  /** The destination treats names differing only in case as one file (Jottacloud). */
  caseInsensitive: boolean;
}

export interface PlanTotals {
  filesTotal: number;
  bytesTotal: number;
  filesSkipped: number;
  batchCount: number;
  /** Source files that would land on the same destination file; none of them is copied. */
  caseCollisions: number;
}

/**
 * The diff, set-based: a source file is copied when the destination lacks it or its size or
 * modification time differ (rclone's default rule), skipped otherwise. Small files are then
 * grouped into batches of at most `batchFiles` files and about `batchBytes` bytes; every large
 * file gets a batch of its own so it is copied (and resumed) alone. Large files come first: they
 * take longest, so starting them early keeps the end of a run from waiting on one big file.
 */
export async function diffIntoItems(db: Db, runId: string, rules: PlanRules): Promise<PlanTotals> {
  await db.execute(sql`
    INSERT INTO items (run_id, path, action, state, size, mtime_ms, src_hashes, large)
    SELECT s.run_id, s.path, c.action, CASE c.action WHEN 'copy' THEN 'pending' ELSE 'skipped' END,
           s.size, s.mtime_ms, s.hashes, s.size >= ${rules.largeFileThreshold}
    FROM entries s
    LEFT JOIN entries d ON d.run_id = s.run_id AND d.side = 'dst'
      AND (CASE WHEN ${rules.caseInsensitive} THEN lower(d.path) = lower(s.path) ELSE d.path = s.path END)
    CROSS JOIN LATERAL (SELECT CASE
        WHEN d.path IS NULL OR d.is_dir OR d.size <> s.size OR abs(d.mtime_ms - s.mtime_ms) > ${rules.mtimeToleranceMs}
        THEN 'copy' ELSE 'skip' END AS action) c
    WHERE s.run_id = ${runId} AND s.side = 'src' AND NOT s.is_dir
    ON CONFLICT (run_id, path) DO NOTHING`);

  // Two source files whose names differ only in case would be one file on a case-insensitive
  // destination, and one would silently replace the other: copy neither, and say why.
  const caseCollisions = !rules.caseInsensitive ? 0 : (await queryRows<{ n: number }>(db, sql`
    WITH clash AS (
      SELECT id, path, string_agg(path, '", "') OVER (PARTITION BY lower(path)) AS names, count(*) OVER (PARTITION BY lower(path)) AS n
      FROM items WHERE run_id = ${runId}
    ), marked AS (
      UPDATE items SET action = 'conflict', state = 'failed',
        last_error = 'names differ only in case and the destination does not tell them apart: "' || clash.names || '"; rename one of them'
      FROM clash WHERE items.id = clash.id AND clash.n > 1
      RETURNING items.id
    )
    SELECT count(*)::int AS n FROM marked`))[0]?.n ?? 0;

  await db.execute(sql`
    WITH large_batches AS (
      SELECT id, row_number() OVER (ORDER BY path) AS batch
      FROM items WHERE run_id = ${runId} AND action = 'copy' AND large
    ), small AS (
      SELECT id,
             (row_number() OVER w - 1) / ${rules.batchFiles} AS by_count,
             floor((sum(size) OVER w - size) / ${rules.batchBytes}) AS by_bytes
      FROM items WHERE run_id = ${runId} AND action = 'copy' AND NOT large
      WINDOW w AS (ORDER BY path)
    ), small_batches AS (
      SELECT id, (SELECT count(*) FROM large_batches) + dense_rank() OVER (ORDER BY by_count, by_bytes) AS batch FROM small
    )
    UPDATE items SET batch = b.batch
    FROM (SELECT * FROM large_batches UNION ALL SELECT * FROM small_batches) b
    WHERE items.id = b.id`);

  const [t] = await db.select({
    filesTotal: sql<number>`count(*) FILTER (WHERE ${items.action} = 'copy')`.mapWith(Number),
    bytesTotal: sql<number>`coalesce(sum(${items.size}) FILTER (WHERE ${items.action} = 'copy'), 0)`.mapWith(Number),
    filesSkipped: sql<number>`count(*) FILTER (WHERE ${items.action} = 'skip')`.mapWith(Number),
    filesFailed: sql<number>`count(*) FILTER (WHERE ${items.action} = 'conflict')`.mapWith(Number),
    batchCount: sql<number>`coalesce(max(${items.batch}), 0)`.mapWith(Number),
  }).from(items).where(eq(items.runId, runId));

  await db.update(runs).set({ ...t, filesDone: 0, bytesDone: 0, filesDeduplicated: 0, updatedAt: new Date() }).where(eq(runs.id, runId));
  return { filesTotal: t.filesTotal, bytesTotal: t.bytesTotal, filesSkipped: t.filesSkipped, batchCount: t.batchCount, caseCollisions };
}

export async function itemsOfBatch(db: Db, runId: string, batch: number, states: readonly ItemState[]): Promise<ItemRow[]> {
  return db.select().from(items)
    .where(and(eq(items.runId, runId), eq(items.batch, batch), inArray(items.state, [...states])))
    .orderBy(asc(items.path));
}

/** Batches that still hold items in one of `states`, in order. */
export async function batchesWith(db: Db, runId: string, states: readonly ItemState[]): Promise<number[]> {
  const rows = await db.selectDistinct({ batch: items.batch }).from(items)
    .where(and(eq(items.runId, runId), inArray(items.state, [...states])))
    .orderBy(asc(items.batch));
  return rows.map((r) => r.batch);
}

/**
 * Records how far an upload got, and moves the run's byte counter by the same amount, in one
 * transaction: after a crash the ledger and the counters agree on what the destination holds.
 */
export async function saveCheckpoint(db: Db, item: Pick<ItemRow, 'id' | 'runId'>, uploadState: Record<string, unknown> & { offset: number }): Promise<void> {
  await db.transaction(async (tx) => {
    const [prev] = await tx.select({ bytesDone: items.bytesDone }).from(items).where(eq(items.id, item.id)).for('update');
    await tx.update(items).set({ uploadState, bytesDone: uploadState.offset, state: 'copying', updatedAt: new Date() }).where(eq(items.id, item.id));
    await tx.update(runs).set({ bytesDone: sql`${runs.bytesDone} + ${uploadState.offset - (prev?.bytesDone ?? 0)}`, updatedAt: new Date() }).where(eq(runs.id, item.runId));
  });
}

/**
 * One statement per finished file (it runs once per file, so round trips matter): the item
 * becomes copied and the run's counters move by what the item had not yet counted. The CTE reads
 * the item as it was before the update; an item has one writer at a time, so nothing races it.
 */
export async function markCopied(db: Db, item: Pick<ItemRow, 'id' | 'runId' | 'size'>, hashes: { src: Hashes; dst: Hashes }, deduplicated = false): Promise<void> {
  await db.execute(sql`
    WITH prev AS (SELECT bytes_done FROM items WHERE id = ${item.id}),
    done AS (
      UPDATE items SET state = 'copied', bytes_done = ${item.size}, upload_state = NULL, last_error = NULL,
        src_hashes = items.src_hashes || ${JSON.stringify(hashes.src)}::jsonb, dst_hashes = ${JSON.stringify(hashes.dst)}::jsonb, updated_at = now()
      WHERE id = ${item.id}
    )
    UPDATE runs SET files_done = files_done + 1, files_deduplicated = files_deduplicated + ${deduplicated ? 1 : 0},
      bytes_done = bytes_done + ${item.size} - (SELECT bytes_done FROM prev), updated_at = now()
    WHERE id = ${item.runId}`);
}

export async function markFailed(db: Db, item: Pick<ItemRow, 'id' | 'runId'>, error: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.update(items).set({ state: 'failed', lastError: error, attempts: sql`${items.attempts} + 1`, updatedAt: new Date() }).where(eq(items.id, item.id));
    await tx.update(runs).set({ filesFailed: sql`${runs.filesFailed} + 1`, updatedAt: new Date() }).where(eq(runs.id, item.runId));
  });
}

export async function recordAttemptError(db: Db, itemId: number, error: string): Promise<void> {
  await db.update(items).set({ lastError: error, attempts: sql`${items.attempts} + 1`, updatedAt: new Date() }).where(eq(items.id, itemId));
}

export async function markVerified(db: Db, itemId: number, hashes: { src: Hashes; dst: Hashes }): Promise<void> {
  await db.update(items).set({ state: 'verified', srcHashes: hashes.src, dstHashes: hashes.dst, updatedAt: new Date() }).where(eq(items.id, itemId));
}

/** A verify mismatch: the file goes back to the queue from zero, once. */
export async function requeueForRecopy(db: Db, item: Pick<ItemRow, 'id' | 'runId' | 'size'>, error: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.update(items).set({
      state: 'pending', bytesDone: 0, uploadState: null, dstHashes: {}, lastError: error,
      recopies: sql`${items.recopies} + 1`, updatedAt: new Date(),
    }).where(eq(items.id, item.id));
    await tx.update(runs).set({ filesDone: sql`${runs.filesDone} - 1`, bytesDone: sql`${runs.bytesDone} - ${item.size}`, updatedAt: new Date() }).where(eq(runs.id, item.runId));
  });
}

/** Exact counters from the ledger, written when a run ends so drift from retries cannot survive. */
export async function recountRun(db: Db, runId: string): Promise<{ filesDone: number; filesFailed: number; bytesDone: number }> {
  const [c] = await db.select({
    filesDone: sql<number>`count(*) FILTER (WHERE ${items.state} IN ('copied', 'verified'))`.mapWith(Number),
    filesFailed: sql<number>`count(*) FILTER (WHERE ${items.state} = 'failed')`.mapWith(Number),
    bytesDone: sql<number>`coalesce(sum(${items.size}) FILTER (WHERE ${items.state} IN ('copied', 'verified')), 0)`.mapWith(Number),
  }).from(items).where(eq(items.runId, runId));
  await db.update(runs).set({ ...c, updatedAt: new Date() }).where(eq(runs.id, runId));
  return c;
}

/** A page of a run's files in one state, in path order, for the API. */
export async function listItems(db: Db, runId: string, state: ItemState | undefined, after: string, limit: number): Promise<ItemRow[]> {
  const conds = [eq(items.runId, runId), sql`${items.path} > ${after}`];
  if (state) conds.push(eq(items.state, state));
  return db.select().from(items).where(and(...conds)).orderBy(asc(items.path)).limit(limit);
}
