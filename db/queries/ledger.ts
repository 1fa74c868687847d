import { and, asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Entry, Hashes, HashType } from '../../core/entry.js';
import type { CompareMode, ConflictPolicy } from '../../core/job.js';
import type { ItemState } from '../../core/run.js';
import { queryRows, type Db } from '../client.js';
import { items, runs } from '../schema.js';

export type ItemRow = typeof items.$inferSelect;
export type Side = 'src' | 'dst';

/**
 * One listing page into `entries`, as one statement with one parameter: a JSON array unpacked in
 * SQL, which costs far less per row than binding seven parameters a row. A row listed twice (a
 * listing resumed after a cut) is kept once.
 */
export async function insertEntries(db: Db, runId: string, side: Side, page: readonly Entry[], listedDir?: string): Promise<void> {
  for (let i = 0; i < page.length || (i === 0 && listedDir !== undefined); i += 5000) {
    const rows = page.slice(i, i + 5000).map((e) => ({ p: e.path, d: e.isDir, s: e.size, m: Math.round(e.mtimeMs), h: e.hashes }));
    const last = i + 5000 >= page.length;
    // The folder's last page and its mark as listed are one statement, so one commit: the cursor
    // never says listed without its children, and PGlite pays its per-statement cost once.
    await db.execute(sql`
      WITH ins AS (
        INSERT INTO entries (run_id, side, path, is_dir, size, mtime_ms, hashes)
        SELECT ${runId}, ${side}, r.p, r.d, r.s, r.m, coalesce(r.h, '{}'::jsonb)
        FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(p text, d boolean, s bigint, m bigint, h jsonb)
        ON CONFLICT DO NOTHING
      )
      UPDATE entries SET listed = true
      WHERE ${last && listedDir !== undefined} AND run_id = ${runId} AND side = ${side} AND path = ${listedDir ?? ''}`);
  }
}

/** Fresh statistics for `entries`, whose size jumps by orders of magnitude while a plan lists. */
export async function analyzeEntries(db: Db): Promise<void> {
  await db.execute(sql`ANALYZE entries`);
}

/** The side's root as a directory still to list, so the first listing is part of the cursor too. */
export async function seedListing(db: Db, runId: string, side: Side): Promise<void> {
  await db.execute(sql`
    INSERT INTO entries (run_id, side, path, is_dir, size, mtime_ms) VALUES (${runId}, ${side}, '', true, 0, 0)
    ON CONFLICT DO NOTHING`);
}

/** Directories of one side not listed yet: the planning cursor. Empty once the side is complete. */
export async function unlistedDirs(db: Db, runId: string, side: Side, limit: number): Promise<string[]> {
  const rows = await queryRows<{ path: string }>(db, sql`
    SELECT path FROM entries WHERE run_id = ${runId} AND side = ${side} AND is_dir AND NOT listed ORDER BY path LIMIT ${limit}`);
  return rows.map((r) => r.path);
}

/** Whether a side's listing was seeded, and how many rows it has: what a resumed plan reports. */
export async function listingState(db: Db, runId: string, side: Side): Promise<{ seeded: boolean; rows: number }> {
  const [r] = await queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM entries WHERE run_id = ${runId} AND side = ${side}`);
  return { seeded: (r?.n ?? 0) > 0, rows: r?.n ?? 0 };
}

/** Entries listed so far on each side (roots excluded): a planning run's progress. */
export async function listedSoFar(db: Db, runId: string): Promise<{ source: number; destination: number }> {
  const rows = await queryRows<{ side: Side; n: number }>(db, sql`
    SELECT side, count(*)::int AS n FROM entries WHERE run_id = ${runId} AND path <> '' GROUP BY side`);
  return { source: rows.find((r) => r.side === 'src')?.n ?? 0, destination: rows.find((r) => r.side === 'dst')?.n ?? 0 };
}

export interface PlanRules {
  /** Modification times closer than this count as equal: the coarser precision of the two sides. */
  mtimeToleranceMs: number;
  largeFileThreshold: number;
  batchFiles: number;
  batchBytes: number;
  /** The destination treats names differing only in case as one file (Jottacloud). */
  caseInsensitive: boolean;
  /** The destination's largest file in bytes (null: no limit); a larger source file is skipped with the reason. */
  maxFileSize?: number | null;
  /** When a destination file is the same (JobOptions.compare). */
  compare?: CompareMode;
  /** A hash both sides' listings report, for compare=checksum; null when they share none. */
  listedHash?: HashType | null;
  /** What to do with a file on both sides that differs (JobOptions.conflict). */
  conflict?: ConflictPolicy;
}

/** Why a planned file is skipped, where it is not simply the same on both sides (items.last_error). */
export const skipReasons = {
  tooLarge: 'larger than the destination allows',
  kept: 'differs from the destination\'s file, which conflict=skip keeps',
  older: 'the destination\'s file is as new or newer (conflict=newer)',
} as const;

export interface PlanTotals {
  filesTotal: number;
  bytesTotal: number;
  filesSkipped: number;
  batchCount: number;
  /** Source files that would land on the same destination file; none of them is copied. */
  caseCollisions: number;
  /** Source files larger than the destination takes, skipped. */
  tooLarge: number;
  /** Files on both sides that differ, left as the destination has them (conflict=skip or newer). */
  conflictsKept: number;
  /** Files copied beside the destination's under a conflict name (conflict=rename). */
  renamed: number;
}

/**
 * The diff, set-based: a source file is copied when the destination lacks it or its size or
 * modification time differ (rclone's default rule), skipped otherwise. Small files are then
 * grouped into batches of at most `batchFiles` files and about `batchBytes` bytes; every large
 * file gets a batch of its own so it is copied (and resumed) alone. Large files come first: they
 * take longest, so starting them early keeps the end of a run from waiting on one big file.
 */
export async function diffIntoItems(db: Db, runId: string, rules: PlanRules): Promise<PlanTotals> {
  // The insert below is one statement, so items exist only once it has committed: an attempt
  // that finds them (its predecessor was timed out while embedded PGlite held the event loop in
  // this statement, 31 s at a million files) does not pay for the diff again.
  const [done] = await queryRows<{ one: number }>(db, sql`SELECT 1 AS one FROM items WHERE run_id = ${runId} LIMIT 1`);
  if (!done) await insertItems(db, runId, rules);
  return planTotals(db, runId);
}

async function insertItems(db: Db, runId: string, rules: PlanRules): Promise<void> {
  const ci = rules.caseInsensitive;
  const h = rules.listedHash ?? null;
  // Whether the destination's file is a different one, by the job's compare rule; for checksum,
  // `unknown` when the sizes agree but no listing gave both hashes (hashed before copying).
  const missing = sql`d.path IS NULL OR d.is_dir OR d.size <> s.size`;
  const verdict = {
    size_mtime: sql`CASE WHEN ${missing} OR abs(d.mtime_ms - s.mtime_ms) > ${rules.mtimeToleranceMs} THEN 'differs' ELSE 'same' END`,
    size_only: sql`CASE WHEN ${missing} THEN 'differs' ELSE 'same' END`,
    checksum: h === null ? sql`CASE WHEN ${missing} THEN 'differs' ELSE 'unknown' END` : sql`
      CASE WHEN ${missing} THEN 'differs'
        WHEN s.hashes->>${h} IS NULL OR d.hashes->>${h} IS NULL THEN 'unknown'
        WHEN s.hashes->>${h} = d.hashes->>${h} THEN 'same' ELSE 'differs' END`,
  }[rules.compare ?? 'size_mtime'];
  const conflict = rules.conflict ?? 'overwrite';
  // conflict=rename: the source's copy lands beside the destination's, named by the source's
  // mtime, so a later run finds it there (same size and mtime) and does not make another.
  const stamp = sql`'.conflict-' || to_char(to_timestamp(s.mtime_ms / 1000.0) AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"')`;
  // A name with an extension keeps it last ("a.jpg" becomes "a.conflict-….jpg"); the regexes go as parameters, unescaped.
  const renamed = sql`CASE WHEN s.path ~ ${String.raw`[^/]\.[^./]*$`} THEN regexp_replace(s.path, ${String.raw`(\.[^./]*)$`}, ${stamp} || ${String.raw`\1`}) ELSE s.path || ${stamp} END`;
  const conflictArms = {
    overwrite: sql``,
    skip: sql`WHEN true THEN 'kept'`,
    newer: sql`WHEN s.mtime_ms <= d.mtime_ms + ${rules.mtimeToleranceMs} THEN 'older'`,
    rename: sql`WHEN kept.path IS NOT NULL AND NOT kept.is_dir AND kept.size = s.size AND abs(kept.mtime_ms - s.mtime_ms) <= ${rules.mtimeToleranceMs} THEN 'skip'`,
  }[conflict];
  // A freshly filled table has no statistics (PGlite never autovacuums): without them PostgreSQL
  // picks a nested loop over a million rows for the join below.
  await analyzeEntries(db);
  // One statement writes every item once, with its batch: a million-file plan is one pass of
  // sorts and window functions, not an insert followed by updates of every row.
  await db.execute(sql`
    INSERT INTO items (run_id, path, action, state, size, mtime_ms, src_hashes, large, batch, last_error, check_first, dst_path)
    WITH joined AS (
      SELECT DISTINCT ON (s.path) s.path, s.size, s.mtime_ms, s.hashes, v.verdict = 'unknown' AS check_first,
        CASE WHEN v.verdict = 'same' THEN 'skip'
          WHEN s.size > ${rules.maxFileSize ?? null}::bigint THEN 'too_large'
          WHEN d.path IS NULL OR d.is_dir THEN 'copy'
          ${conflictArms}
          ELSE 'copy' END AS action,
        ${conflict === 'rename' ? sql`CASE WHEN d.path IS NOT NULL AND NOT d.is_dir THEN r.path END` : sql`NULL::text`} AS dst_path
      FROM entries s
      LEFT JOIN entries d ON d.run_id = s.run_id AND d.side = 'dst' AND ${ci ? sql`lower(d.path) = lower(s.path)` : sql`d.path = s.path`}
      CROSS JOIN LATERAL (SELECT ${verdict} AS verdict) v
      ${conflict === 'rename' ? sql`
      CROSS JOIN LATERAL (SELECT ${renamed} AS path) r
      LEFT JOIN entries kept ON kept.run_id = s.run_id AND kept.side = 'dst' AND kept.path = r.path` : sql``}
      WHERE s.run_id = ${runId} AND s.side = 'src' AND NOT s.is_dir AND s.path <> ''
      ORDER BY s.path
    ), classed AS (
      -- Two source files whose names differ only in case would be one file on a case-insensitive
      -- destination, and one would silently replace the other: copy neither, and say why.
      SELECT j.*, ${ci ? sql`count(*) OVER (PARTITION BY lower(j.path))` : sql`1`} AS twins,
        ${ci ? sql`string_agg(j.path, '", "') OVER (PARTITION BY lower(j.path))` : sql`NULL::text`} AS names
      FROM joined j
    ), ranked AS (
      SELECT c.*, CASE WHEN c.twins > 1 THEN 'conflict' ELSE c.action END AS act,
        CASE WHEN c.twins > 1 OR c.action <> 'copy' THEN 0 WHEN c.size >= ${rules.largeFileThreshold} THEN 1 ELSE 2 END AS class
      FROM classed c
    )${batchCtes(rules)}
    SELECT ${runId}, b.path, CASE WHEN b.act IN ('too_large', 'kept', 'older') THEN 'skip' ELSE b.act END,
      CASE b.act WHEN 'copy' THEN 'pending' WHEN 'conflict' THEN 'failed' ELSE 'skipped' END,
      b.size, b.mtime_ms, b.hashes, b.class = 1, b.batch,
      CASE b.act
        WHEN 'conflict' THEN 'names differ only in case and the destination does not tell them apart: "' || b.names || '"; rename one of them'
        WHEN 'too_large' THEN ${skipReasons.tooLarge} || ' (' || ${rules.maxFileSize ?? 0}::bigint || ' bytes): skipped'
        WHEN 'kept' THEN ${skipReasons.kept}
        WHEN 'older' THEN ${skipReasons.older}
      END,
      b.check_first AND b.act = 'copy',
      CASE WHEN b.act = 'copy' THEN b.dst_path END
    FROM batched b
    ON CONFLICT (run_id, path) DO NOTHING`);
}

/**
 * A retry's plan: the files an earlier run of the same job failed to copy, nothing listed again.
 * They are batched as a fresh plan would batch them and start from zero (the retry is for files
 * whose cause was fixed: a source file restored, a permission given back).
 */
export async function insertRetryItems(db: Db, runId: string, fromRunId: string, rules: Pick<PlanRules, 'largeFileThreshold' | 'batchFiles' | 'batchBytes'>): Promise<PlanTotals> {
  const [done] = await queryRows<{ one: number }>(db, sql`SELECT 1 AS one FROM items WHERE run_id = ${runId} LIMIT 1`);
  if (!done) {
    await db.execute(sql`
      INSERT INTO items (run_id, path, action, state, size, mtime_ms, src_hashes, large, batch, check_first, dst_path)
      WITH ranked AS (
        SELECT i.path, i.size, i.mtime_ms, i.src_hashes, i.check_first, i.dst_path,
          CASE WHEN i.size >= ${rules.largeFileThreshold} THEN 1 ELSE 2 END AS class
        FROM items i WHERE i.run_id = ${fromRunId} AND i.action = 'copy' AND i.state = 'failed'
      )${batchCtes(rules)}
      SELECT ${runId}::uuid, b.path, 'copy', 'pending', b.size, b.mtime_ms, b.src_hashes, b.class = 1, b.batch, b.check_first, b.dst_path
      FROM batched b
      ON CONFLICT (run_id, path) DO NOTHING`);
  }
  return planTotals(db, runId);
}

/** Files of a copy run that failed and a retry would copy again. */
export async function retryableFiles(db: Db, runId: string): Promise<number> {
  const [r] = await queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM items WHERE run_id = ${runId} AND action = 'copy' AND state = 'failed'`);
  return r?.n ?? 0;
}

/**
 * The batching shared by every plan statement: from a CTE `ranked` with `path`, `size` and
 * `class` (0: no batch, 1: large, 2: small), the CTE `batched` adds each file's `batch`. Every
 * large file is a batch of its own, first (they take longest); small files share batches of at
 * most batchFiles files and about batchBytes bytes.
 */
export function batchCtes(rules: Pick<PlanRules, 'batchFiles' | 'batchBytes'>): SQL {
  return sql`, numbered AS (
      SELECT r.*, row_number() OVER w AS rn, sum(r.size) OVER w AS cum, count(*) FILTER (WHERE r.class = 1) OVER () AS nlarge
      FROM ranked r WINDOW w AS (PARTITION BY r.class ORDER BY r.path)
    ), batched AS (
      SELECT n.*, CASE n.class WHEN 1 THEN n.rn
        WHEN 2 THEN n.nlarge + dense_rank() OVER (PARTITION BY n.class ORDER BY (n.rn - 1) / ${rules.batchFiles}, floor((n.cum - n.size) / ${rules.batchBytes}))
        ELSE 0 END AS batch
      FROM numbered n
    )`;
}

/** The plan's totals from the ledger, written to the run as the base of its progress. */
async function planTotals(db: Db, runId: string): Promise<PlanTotals> {
  const [t] = await db.select({
    filesTotal: sql<number>`count(*) FILTER (WHERE ${items.action} = 'copy')`.mapWith(Number),
    bytesTotal: sql<number>`coalesce(sum(${items.size}) FILTER (WHERE ${items.action} = 'copy'), 0)`.mapWith(Number),
    filesSkipped: sql<number>`count(*) FILTER (WHERE ${items.action} = 'skip')`.mapWith(Number),
    filesFailed: sql<number>`count(*) FILTER (WHERE ${items.action} = 'conflict')`.mapWith(Number),
    tooLarge: sql<number>`count(*) FILTER (WHERE ${items.action} = 'skip' AND starts_with(${items.lastError}, ${skipReasons.tooLarge}))`.mapWith(Number),
    conflictsKept: sql<number>`count(*) FILTER (WHERE ${items.action} = 'skip' AND ${items.lastError} IN (${skipReasons.kept}, ${skipReasons.older}))`.mapWith(Number),
    renamed: sql<number>`count(*) FILTER (WHERE ${items.dstPath} IS NOT NULL)`.mapWith(Number),
    batchCount: sql<number>`coalesce(max(${items.batch}), 0)`.mapWith(Number),
  }).from(items).where(eq(items.runId, runId));

  const { tooLarge, conflictsKept, renamed, ...counters } = t;
  await db.update(runs).set({ ...counters, filesDone: 0, bytesDone: 0, filesDeduplicated: 0, updatedAt: new Date() }).where(eq(runs.id, runId));
  return { filesTotal: t.filesTotal, bytesTotal: t.bytesTotal, filesSkipped: t.filesSkipped, batchCount: t.batchCount, caseCollisions: t.filesFailed, tooLarge, conflictsKept, renamed };
}

export async function itemsOfBatch(db: Db, runId: string, batch: number, states: readonly ItemState[]): Promise<ItemRow[]> {
  return db.select().from(items)
    .where(and(eq(items.runId, runId), eq(items.batch, batch), inArray(items.state, [...states])))
    .orderBy(asc(items.path));
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

/** What became of one file in a batch; written with the others of the batch in one statement. */
export interface ItemOutcome {
  id: number;
  state: 'copied' | 'verified' | 'failed';
  srcHashes?: Hashes;
  dstHashes?: Hashes;
  error?: string | null;
  deduplicated?: boolean;
  recopies?: number;
}

/**
 * Group commit of a batch's files: every outcome and the run's counters in one statement, so the
 * ledger costs one round trip per flush instead of one per file. Only items still pending or
 * copying change: a second attempt at the same batch (a worker presumed dead that was only slow)
 * can never count a file twice.
 */
export async function recordOutcomes(db: Db, runId: string, outcomes: readonly ItemOutcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  const rows = outcomes.map((o) => ({
    id: o.id, state: o.state, src: o.srcHashes ?? {}, dst: o.dstHashes ?? null, err: o.error ?? null,
    dedup: o.deduplicated ?? false, recopies: o.recopies ?? null,
  }));
  await db.execute(sql`
    WITH v AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        AS v(id bigint, state text, src jsonb, dst jsonb, err text, dedup boolean, recopies int)
    ), prev AS (
      SELECT i.id, i.bytes_done, i.size FROM items i JOIN v ON v.id = i.id
      WHERE i.run_id = ${runId} AND i.state IN ('pending', 'copying')
    ), done AS (
      UPDATE items i SET
        state = v.state,
        bytes_done = CASE WHEN v.state = 'failed' THEN i.bytes_done ELSE i.size END,
        upload_state = CASE WHEN v.state = 'failed' THEN i.upload_state END,
        last_error = v.err,
        src_hashes = i.src_hashes || v.src,
        dst_hashes = coalesce(v.dst, i.dst_hashes),
        recopies = coalesce(v.recopies, i.recopies),
        attempts = i.attempts + CASE WHEN v.state = 'failed' THEN 1 ELSE 0 END,
        updated_at = now()
      FROM v, prev WHERE i.id = v.id AND prev.id = v.id
      RETURNING i.id, v.state, v.dedup, i.size, prev.bytes_done
    )
    UPDATE runs SET
      files_done = files_done + (SELECT count(*) FROM done WHERE state <> 'failed'),
      files_failed = files_failed + (SELECT count(*) FROM done WHERE state = 'failed'),
      files_deduplicated = files_deduplicated + (SELECT count(*) FROM done WHERE dedup),
      bytes_done = bytes_done + (SELECT coalesce(sum(size - bytes_done), 0) FROM done WHERE state <> 'failed'),
      updated_at = now()
    WHERE id = ${runId}`);
}

/** A verify pass over copied files: verified, failed, or sent back to be copied again. */
export interface VerifyOutcome {
  id: number;
  state: 'verified' | 'failed' | 'pending';
  srcHashes: Hashes;
  dstHashes: Hashes;
  error?: string | null;
}

/** The verify pass's group commit; a file sent back leaves the done counters until it is copied again. */
export async function recordVerifications(db: Db, runId: string, outcomes: readonly VerifyOutcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  const rows = outcomes.map((o) => ({ id: o.id, state: o.state, src: o.srcHashes, dst: o.dstHashes, err: o.error ?? null }));
  await db.execute(sql`
    WITH v AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS v(id bigint, state text, src jsonb, dst jsonb, err text)
    ), done AS (
      UPDATE items i SET
        state = v.state,
        bytes_done = CASE WHEN v.state = 'pending' THEN 0 ELSE i.bytes_done END,
        upload_state = NULL,
        last_error = v.err,
        src_hashes = i.src_hashes || v.src,
        dst_hashes = CASE WHEN v.state = 'pending' THEN '{}'::jsonb ELSE i.dst_hashes || v.dst END,
        recopies = i.recopies + CASE WHEN v.state = 'pending' THEN 1 ELSE 0 END,
        updated_at = now()
      FROM v WHERE i.id = v.id AND i.run_id = ${runId} AND i.state = 'copied'
      RETURNING v.state, i.size
    )
    UPDATE runs SET
      files_done = files_done - (SELECT count(*) FROM done WHERE state <> 'verified'),
      files_failed = files_failed + (SELECT count(*) FROM done WHERE state = 'failed'),
      bytes_done = bytes_done - (SELECT coalesce(sum(size), 0) FROM done WHERE state <> 'verified'),
      updated_at = now()
    WHERE id = ${runId}`);
}

export async function recordAttemptError(db: Db, itemId: number, error: string): Promise<void> {
  await db.update(items).set({ lastError: error, attempts: sql`${items.attempts} + 1`, updatedAt: new Date() }).where(eq(items.id, itemId));
}

/** Exact counters from the ledger, written when a run ends so drift from retries cannot survive. */
export async function recountRun(db: Db, runId: string): Promise<{ filesDone: number; filesFailed: number; bytesDone: number }> {
  const [c] = await db.select({
    filesDone: sql<number>`count(*) FILTER (WHERE ${items.state} IN ('copied', 'verified', 'checked'))`.mapWith(Number),
    filesFailed: sql<number>`count(*) FILTER (WHERE ${items.state} = 'failed')`.mapWith(Number),
    bytesDone: sql<number>`coalesce(sum(${items.size}) FILTER (WHERE ${items.state} IN ('copied', 'verified', 'checked')), 0)`.mapWith(Number),
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

/**
 * The next batches after `after` that hold items in one of `states`, with how many: the
 * scheduler's cursor into the ledger, so no list of batches ever passes through Temporal.
 */
export async function nextBatches(db: Db, runId: string, states: readonly ItemState[], after: number, limit: number): Promise<{ batch: number; files: number }[]> {
  return db.select({ batch: items.batch, files: sql<number>`count(*)`.mapWith(Number) }).from(items)
    .where(and(eq(items.runId, runId), inArray(items.state, [...states]), sql`${items.batch} > ${after}`))
    .groupBy(items.batch).orderBy(asc(items.batch)).limit(limit);
}

/** A batch given up on (an internal error outlived its retries): its unfinished files fail with the reason, the run goes on. */
export async function failBatch(db: Db, runId: string, batch: number, states: readonly ItemState[], error: string): Promise<number> {
  const failed = await db.update(items).set({ state: 'failed', lastError: error, attempts: sql`${items.attempts} + 1`, updatedAt: new Date() })
    .where(and(eq(items.runId, runId), eq(items.batch, batch), inArray(items.state, [...states])))
    .returning({ id: items.id });
  await db.update(runs).set({ filesFailed: sql`${runs.filesFailed} + ${failed.length}`, updatedAt: new Date() }).where(eq(runs.id, runId));
  return failed.length;
}
