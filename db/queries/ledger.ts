import { and, asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Entry, Hashes, HashType } from '../../core/entry.js';
import type { CompareMode, ConflictPolicy } from '../../core/job.js';
import { planGroups, type ItemAction, type ItemState, type PlanGroup } from '../../core/run.js';
import { queryRows, type Db } from '../client.js';
import { items, runs } from '../schema.js';

export type ItemRow = typeof items.$inferSelect;

/**
 * runs.samples with (now, bytes_done) appended when its last sample is 5 s old, keeping the
 * last 12: set in the same UPDATE as the byte counters, so the current speed needs no writer of its own.
 */
const sampled = (bytesDone: SQL) => sql`CASE
  WHEN jsonb_array_length(samples) = 0 OR (extract(epoch FROM now()) * 1000)::bigint - (samples->-1->>0)::bigint >= 5000
  THEN (CASE WHEN jsonb_array_length(samples) >= 12 THEN samples - 0 ELSE samples END)
    || jsonb_build_array(jsonb_build_array((extract(epoch FROM now()) * 1000)::bigint, ${bytesDone}))
  ELSE samples END`;
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

/** Forgets what an attempt of the plan listed (a plan from a change feed starts over from its cursor). */
export async function clearEntries(db: Db, runId: string): Promise<void> {
  await db.execute(sql`DELETE FROM entries WHERE run_id = ${runId}`);
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
  /**
   * `sync` also plans deletes of what only the destination has; `move` hashes files already at
   * the destination before their source is deleted. Default copy.
   */
  mode?: 'copy' | 'sync' | 'move';
  /**
   * Where the destination moves (sync) or copies (copy) files server-side: the destination whose
   * earlier runs' ledgers (of any job writing to the same remote and folder) tell a renamed source
   * file from a new one (same size, mtime and hash at an old destination path), and which of the two.
   */
  renamesAt?: { remoteId: string; path: string; how: 'move' | 'copy' } | null;
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
  /** sync: source renames done as moves on the destination. */
  moves: number;
  /** copy: new source files copied server-side from a destination file the ledger knows to be the same. */
  serverCopies: number;
  /** sync: destination-only files to delete. */
  deletes: number;
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
  // A sync's renames and deletes commit with the copies, so a plan is whole or absent.
  if (!done) await db.transaction((tx) => insertItems(tx, runId, rules));
  return planTotals(db, runId);
}

async function insertItems(db: Db, runId: string, rules: PlanRules): Promise<void> {
  const ci = rules.caseInsensitive;
  const move = rules.mode === 'move';
  const h = rules.listedHash ?? null;
  // Whether the destination's file is a different one, by the job's compare rule; for checksum,
  // `unknown` when the sizes agree but no listing gave both hashes (hashed before copying).
  // A source size of -1 is known only once read (an exported document): its time decides alone.
  const missing = sql`d.path IS NULL OR d.is_dir OR (s.size >= 0 AND d.size <> s.size)`;
  const moved = sql`abs(d.mtime_ms - s.mtime_ms) > ${rules.mtimeToleranceMs}`;
  const verdict = {
    size_mtime: sql`CASE WHEN ${missing} OR ${moved} THEN 'differs' ELSE 'same' END`,
    size_only: sql`CASE WHEN ${missing} OR (s.size < 0 AND ${moved}) THEN 'differs' ELSE 'same' END`,
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
    INSERT INTO items (run_id, path, action, state, size, mtime_ms, src_hashes, large, batch, last_error, check_first, dst_path, replaces)
    WITH joined AS (
      SELECT DISTINCT ON (s.path) s.path, s.size, s.mtime_ms, s.hashes, v.verdict = 'unknown' OR (${move} AND v.verdict = 'same') AS check_first,
        d.path IS NOT NULL AND NOT d.is_dir AS had_dst,
        CASE WHEN v.verdict = 'same' AND NOT ${move} THEN 'skip'
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
      CASE WHEN b.act = 'copy' THEN b.dst_path END,
      b.act = 'copy' AND b.had_dst AND b.dst_path IS NULL
    FROM batched b
    ON CONFLICT (run_id, path) DO NOTHING`);
  if (rules.renamesAt) await planRenames(db, runId, rules.renamesAt, rules.mtimeToleranceMs);
  if (rules.mode === 'sync') await planDeletes(db, runId, rules);
}

/**
 * Renames without re-uploading: a file new at a source path whose size and mtime match a
 * destination-only file that an earlier run into this destination copied and verified (so the
 * ledger holds its hash) is not uploaded. sync makes it a `move` of that file (each file on either
 * side pairs once); copy keeps it a `copy` from that file (`from_path`), done server-side, and the
 * old file stays (so one old file may serve several new ones). The batch confirms the hash first
 * (engine/batch.ts) and uploads if it differs; rclone's --track-renames forgets between runs, the
 * ledger does not.
 */
async function planRenames(db: Db, runId: string, at: NonNullable<PlanRules['renamesAt']>, toleranceMs: number): Promise<void> {
  const moving = at.how === 'move';
  const name = (col: string) => sql.raw(`regexp_replace(${col}, '^.*/', '')`);
  // A new source file that a rename could explain; none (a nightly run with nothing new) costs no lookup.
  const isNew = sql`i.run_id = ${runId} AND i.action = 'copy' AND NOT i.replaces AND i.dst_path IS NULL AND i.from_path IS NULL AND i.state = 'pending'`;
  if ((await queryRows(db, sql`SELECT 1 AS one FROM items i WHERE ${isNew} LIMIT 1`)).length === 0) return;
  // The items were just written: without fresh statistics the ledger lookups below take the wrong index.
  await db.execute(sql`ANALYZE items`);
  // Each pass pairs the files that are each other's best candidate (same name first); files
  // left over, many alike in size and time, pair in the next passes.
  for (let pass = 0; pass < (moving ? 8 : 1); pass++) {
    const paired = await queryRows<{ id: number }>(db, sql`
      WITH known AS MATERIALIZED (
        -- Destination-only files not yet claimed whose hash the ledger holds: looked up once each.
        SELECT q.path, q.size, q.mtime_ms, p.hashes FROM entries q
        CROSS JOIN LATERAL (
          SELECT pi.src_hashes || pi.dst_hashes AS hashes FROM jobs pj
          JOIN runs pr ON pr.job_id = pj.id
          JOIN items pi ON pi.run_id = pr.id AND pi.path = q.path
          WHERE pj.dest_remote_id = ${at.remoteId} AND pj.dest_path = ${at.path} AND pr.id <> ${runId} AND pi.dst_path IS NULL
            AND pi.state IN ('verified', 'moved') AND pi.size = q.size
          ORDER BY pr.started_at DESC LIMIT 1
        ) p
        WHERE q.run_id = ${runId} AND q.side = 'dst' AND NOT q.is_dir AND q.path <> '' AND p.hashes <> '{}'::jsonb
          -- Only files some new file could be (copy never deletes, so destination-only files pile up).
          AND q.size IN (SELECT i.size FROM items i WHERE ${isNew})
          AND NOT EXISTS (SELECT 1 FROM entries s WHERE s.run_id = q.run_id AND s.side = 'src' AND s.path = q.path)
          AND q.path NOT IN (SELECT m.from_path FROM items m WHERE m.run_id = ${runId} AND m.action = 'move')
          -- A hash the destination's listing gives must agree with the ledger's.
          AND NOT EXISTS (SELECT 1 FROM jsonb_each_text(q.hashes) h WHERE p.hashes->>h.key IS NOT NULL AND p.hashes->>h.key <> h.value)
      ), cand AS (
        SELECT i.id, k.path AS from_path, k.hashes,
          row_number() OVER (PARTITION BY i.id ORDER BY ${name('k.path')} = ${name('i.path')} DESC, k.path) AS per_new,
          row_number() OVER (PARTITION BY k.path ORDER BY ${name('k.path')} = ${name('i.path')} DESC, i.path) AS per_old
        FROM items i JOIN known k ON k.size = i.size AND abs(k.mtime_ms - i.mtime_ms) <= ${toleranceMs}
        WHERE ${isNew}
      )
      UPDATE items SET action = ${moving ? 'move' : 'copy'}, from_path = c.from_path, dst_hashes = c.hashes, check_first = false
      FROM cand c WHERE items.id = c.id AND c.per_new = 1 AND (c.per_old = 1 OR NOT ${moving})
      RETURNING items.id`);
    if (paired.length === 0) return;
  }
}

/**
 * sync's deletes: every destination file and folder the source lacks (filters left both sides'
 * excluded files out of `entries`, so an excluded file is never among them) and no rename takes
 * away, in batches after every copy batch. Folders get no batch: they are removed after every
 * file delete, when empty (pendingFolderDeletes).
 */
async function planDeletes(db: Db, runId: string, rules: PlanRules): Promise<void> {
  const same = rules.caseInsensitive ? sql`lower(s.path) = lower(d.path)` : sql`s.path = d.path`;
  await db.execute(sql`
    INSERT INTO items (run_id, path, action, state, size, mtime_ms, dst_hashes, is_dir, batch)
    WITH gone AS (
      SELECT d.path, d.size, d.mtime_ms, d.hashes, d.is_dir FROM entries d
      WHERE d.run_id = ${runId} AND d.side = 'dst' AND d.path <> ''
        AND NOT EXISTS (SELECT 1 FROM entries s WHERE s.run_id = d.run_id AND s.side = 'src' AND s.is_dir = d.is_dir AND ${same})
        AND NOT EXISTS (SELECT 1 FROM items m WHERE m.run_id = d.run_id AND m.action = 'move' AND m.from_path = d.path)
    ), base AS (SELECT coalesce(max(batch), 0) AS n FROM items WHERE run_id = ${runId}),
    numbered AS (
      SELECT g.*, row_number() OVER (ORDER BY g.path) AS rn FROM gone g WHERE NOT g.is_dir
      UNION ALL SELECT g.*, 0 FROM gone g WHERE g.is_dir
    )
    SELECT ${runId}::uuid, n.path, 'delete', 'pending', CASE WHEN n.is_dir THEN 0 ELSE n.size END, n.mtime_ms, n.hashes, n.is_dir,
      CASE WHEN n.is_dir THEN 0 ELSE base.n + 1 + (n.rn - 1) / ${rules.batchFiles} END
    FROM numbered n, base
    ON CONFLICT (run_id, path) DO NOTHING`);
}

/**
 * Whether sync may delete what it planned to: not when the source listed no file (an empty or
 * unmounted source would wipe the destination) unless allowed, nor beyond maxDelete or
 * maxDeleteBytes. A refused delete is marked failed with the reason, so the run reads
 * completed_with_errors and the report says why; returns that reason, or null.
 */
export async function guardDeletes(db: Db, runId: string, g: { allowEmptySource: boolean; maxDelete?: number; maxDeleteBytes?: number; fromChanges?: boolean }): Promise<string | null> {
  const [c] = await queryRows<{ files: number; bytes: number; src: number }>(db, sql`
    SELECT count(*) FILTER (WHERE NOT is_dir)::int AS files, coalesce(sum(size), 0)::bigint AS bytes,
      (SELECT count(*)::int FROM entries WHERE run_id = ${runId} AND side = 'src' AND NOT is_dir) AS src
    FROM items WHERE run_id = ${runId} AND action = 'delete' AND state = 'pending'`);
  const files = Number(c.files);
  const bytes = Number(c.bytes);
  let reason: string | null = null;
  // A plan from the change feed lists only what changed: deletes there come from the provider saying so.
  if (files > 0 && Number(c.src) === 0 && !g.allowEmptySource && !g.fromChanges) {
    reason = `the source listed no file at all, so sync deletes none of the destination's ${files}; if the source really is empty, set options.allowEmptySource`;
  } else if (g.maxDelete !== undefined && files > g.maxDelete) {
    reason = `sync would delete ${files} files, more than maxDelete (${g.maxDelete}): none deleted; raise options.maxDelete to allow it`;
  } else if (g.maxDeleteBytes !== undefined && bytes > g.maxDeleteBytes) {
    reason = `sync would delete ${bytes} bytes, more than maxDeleteBytes (${g.maxDeleteBytes}): none deleted; raise options.maxDeleteBytes to allow it`;
  }
  if (reason) await settleDeletes(db, runId, 'failed', reason);
  return reason;
}

/** Every delete still pending ends in `state` with `reason` (refused by a guard, or not run after copy errors). */
export async function settleDeletes(db: Db, runId: string, state: 'failed' | 'skipped', reason: string): Promise<number> {
  const rows = await queryRows<{ id: number }>(db, sql`
    UPDATE items SET state = ${state}, last_error = ${reason}, updated_at = now()
    WHERE run_id = ${runId} AND action = 'delete' AND state = 'pending' RETURNING id`);
  return rows.length;
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
      SELECT r.*, row_number() OVER w AS rn, sum(greatest(r.size, 0)) OVER w AS cum, count(*) FILTER (WHERE r.class = 1) OVER () AS nlarge
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
    filesTotal: sql<number>`count(*) FILTER (WHERE ${items.action} IN ('copy', 'move'))`.mapWith(Number),
    bytesTotal: sql<number>`coalesce(sum(greatest(${items.size}, 0)) FILTER (WHERE ${items.action} IN ('copy', 'move')), 0)`.mapWith(Number),
    filesSkipped: sql<number>`count(*) FILTER (WHERE ${items.action} = 'skip')`.mapWith(Number),
    filesFailed: sql<number>`count(*) FILTER (WHERE ${items.action} = 'conflict')`.mapWith(Number),
    tooLarge: sql<number>`count(*) FILTER (WHERE ${items.action} = 'skip' AND starts_with(${items.lastError}, ${skipReasons.tooLarge}))`.mapWith(Number),
    conflictsKept: sql<number>`count(*) FILTER (WHERE ${items.action} = 'skip' AND ${items.lastError} IN (${skipReasons.kept}, ${skipReasons.older}))`.mapWith(Number),
    renamed: sql<number>`count(*) FILTER (WHERE ${items.dstPath} IS NOT NULL)`.mapWith(Number),
    moves: sql<number>`count(*) FILTER (WHERE ${items.action} = 'move')`.mapWith(Number),
    serverCopies: sql<number>`count(*) FILTER (WHERE ${items.action} = 'copy' AND ${items.fromPath} IS NOT NULL)`.mapWith(Number),
    deletes: sql<number>`count(*) FILTER (WHERE ${items.action} = 'delete' AND NOT ${items.isDir})`.mapWith(Number),
    batchCount: sql<number>`coalesce(max(${items.batch}), 0)`.mapWith(Number),
  }).from(items).where(eq(items.runId, runId));

  const { tooLarge, conflictsKept, renamed, moves, serverCopies, deletes, ...counters } = t;
  await db.update(runs).set({ ...counters, filesDone: 0, bytesDone: 0, filesDeduplicated: 0, updatedAt: new Date() }).where(eq(runs.id, runId));
  return { filesTotal: t.filesTotal, bytesTotal: t.bytesTotal, filesSkipped: t.filesSkipped, batchCount: t.batchCount, caseCollisions: t.filesFailed, tooLarge, conflictsKept, renamed, moves, serverCopies, deletes };
}

/** Which items a scan works on: their states and actions (all actions when absent). */
export interface ScanSelection {
  states: readonly ItemState[];
  actions?: readonly ItemAction[];
}

function scanWhere(sel: ScanSelection): SQL {
  const st = inArray(items.state, [...sel.states]);
  return sel.actions ? and(st, inArray(items.action, [...sel.actions]))! : st;
}

export async function itemsOfBatch(db: Db, runId: string, batch: number, sel: ScanSelection): Promise<ItemRow[]> {
  return db.select().from(items)
    .where(and(eq(items.runId, runId), eq(items.batch, batch), scanWhere(sel)))
    .orderBy(asc(items.path));
}

/** A delete's outcome: sync's destination file `deleted`, or move mode's source deleted after its verified copy (`moved`). */
export interface DeleteOutcome {
  id: number;
  /** `skipped`: a folder kept because something is still in it. */
  state: 'deleted' | 'moved' | 'skipped' | 'failed';
  error?: string | null;
}

/** Group commit of deletes, counting each once (only items still in the state their scan picked). */
export async function recordDeletes(db: Db, runId: string, outcomes: readonly DeleteOutcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  const rows = outcomes.map((o) => ({ id: o.id, state: o.state, err: o.error ?? null }));
  await db.execute(sql`
    WITH v AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS v(id bigint, state text, err text)
    ), done AS (
      UPDATE items i SET state = v.state,
        last_error = v.err, attempts = i.attempts + CASE WHEN v.state = 'failed' THEN 1 ELSE 0 END, updated_at = now()
      FROM v WHERE i.id = v.id AND i.run_id = ${runId}
        AND ((i.action = 'delete' AND i.state = 'pending') OR (i.action = 'copy' AND i.state = 'verified'))
      RETURNING v.state, i.is_dir
    )
    UPDATE runs SET
      files_deleted = files_deleted + (SELECT count(*) FROM done WHERE state = 'deleted' AND NOT is_dir),
      files_moved = files_moved + (SELECT count(*) FROM done WHERE state = 'moved'),
      files_failed = files_failed + (SELECT count(*) FROM done WHERE state = 'failed'),
      updated_at = now()
    WHERE id = ${runId}`);
}

/** Files a run left part-uploaded (a cancel): their paths and upload states. */
export async function unfinishedUploads(db: Db, runId: string): Promise<Pick<ItemRow, 'id' | 'path' | 'dstPath' | 'uploadState'>[]> {
  return db.select({ id: items.id, path: items.path, dstPath: items.dstPath, uploadState: items.uploadState }).from(items)
    .where(and(eq(items.runId, runId), eq(items.state, 'copying'), sql`${items.uploadState} IS NOT NULL`));
}

/** The partial upload of an item is gone: nothing of it is held any more. */
export async function forgetUpload(db: Db, itemId: number): Promise<void> {
  await db.update(items).set({ uploadState: null, bytesDone: 0, state: 'pending', updatedAt: new Date() }).where(eq(items.id, itemId));
}

/** A page of a run's planned items in path order, with what the plan's digest covers. */
export async function planPage(db: Db, runId: string, after: string, limit: number): Promise<Pick<ItemRow, 'path' | 'action' | 'size' | 'mtimeMs' | 'dstPath' | 'fromPath' | 'state'>[]> {
  return db.select({ path: items.path, action: items.action, size: items.size, mtimeMs: items.mtimeMs, dstPath: items.dstPath, fromPath: items.fromPath, state: items.state })
    .from(items).where(and(eq(items.runId, runId), sql`${items.path} > ${after}`)).orderBy(asc(items.path)).limit(limit);
}

/** The plan's groups as the API shows them: files, bytes and the first paths of each. */
export async function planGroupCounts(db: Db, runId: string, firstN: number): Promise<Record<PlanGroup, { files: number; bytes: number; first: string[] }>> {
  const group = sql`CASE
    WHEN action = 'copy' AND replaces AND NOT check_first THEN 'overwrite'
    WHEN action = 'copy' THEN 'copy'
    WHEN action = 'delete' AND state = 'pending' THEN 'delete'
    WHEN action = 'move' THEN 'move'
    ELSE 'skip' END`;
  const rows = await queryRows<{ g: PlanGroup; files: number; bytes: number; first: string[] | null }>(db, sql`
    WITH g AS (
      SELECT ${group} AS g, path, size, is_dir, row_number() OVER (PARTITION BY ${group} ORDER BY path) AS rn
      FROM items WHERE run_id = ${runId}
    )
    SELECT g, count(*) FILTER (WHERE NOT is_dir)::int AS files, coalesce(sum(size), 0)::bigint AS bytes,
      array_agg(path ORDER BY path) FILTER (WHERE rn <= ${firstN}) AS first
    FROM g GROUP BY g`);
  const out = Object.fromEntries(planGroups.map((g) => [g, { files: 0, bytes: 0, first: [] as string[] }])) as Record<PlanGroup, { files: number; bytes: number; first: string[] }>;
  for (const r of rows) out[r.g] = { files: Number(r.files), bytes: Number(r.bytes), first: r.first ?? [] };
  return out;
}

/** The source's top level as planned (after filters): what a cheap "did the source change?" check compares against. */
export async function sourceTopLevel(db: Db, runId: string): Promise<Entry[]> {
  const rows = await queryRows<{ path: string; is_dir: boolean; size: number; mtime_ms: number }>(db, sql`
    SELECT path, is_dir, size, mtime_ms FROM entries
    WHERE run_id = ${runId} AND side = 'src' AND path <> '' AND strpos(path, '/') = 0 ORDER BY path`);
  return rows.map((r) => ({ path: r.path, isDir: r.is_dir, size: Number(r.size), mtimeMs: Number(r.mtime_ms), hashes: {} }));
}

/** Files of a sync whose copy failed: sync deletes nothing after errors. */
export async function copyFailures(db: Db, runId: string): Promise<number> {
  const [r] = await queryRows<{ n: number }>(db, sql`
    SELECT count(*)::int AS n FROM items WHERE run_id = ${runId} AND action IN ('copy', 'move', 'conflict') AND state = 'failed'`);
  return r?.n ?? 0;
}

/** sync's destination-only folders still to remove, deepest first (they are in no batch: removed after every file delete). */
export async function pendingFolderDeletes(db: Db, runId: string): Promise<ItemRow[]> {
  return db.select().from(items)
    .where(and(eq(items.runId, runId), eq(items.action, 'delete'), eq(items.state, 'pending'), eq(items.isDir, true)))
    .orderBy(sql`length(${items.path}) - length(replace(${items.path}, '/', '')) DESC`, asc(items.path));
}

/** A rename the batch could not confirm by hash was uploaded instead: its old destination file is deleted with the others. */
export async function addDelete(db: Db, runId: string, path: string): Promise<void> {
  await db.execute(sql`
    INSERT INTO items (run_id, path, action, state, size, mtime_ms, batch)
    SELECT ${runId}, ${path}, 'delete', 'pending', 0, 0, coalesce(max(batch), 0) + 1 FROM items WHERE run_id = ${runId}
    ON CONFLICT (run_id, path) DO NOTHING`);
}

/**
 * Records how far an upload got, and moves the run's byte counter by the same amount, in one
 * transaction: after a crash the ledger and the counters agree on what the destination holds.
 */
export async function saveCheckpoint(db: Db, item: Pick<ItemRow, 'id' | 'runId'>, uploadState: Record<string, unknown> & { offset: number }): Promise<void> {
  await db.transaction(async (tx) => {
    const [prev] = await tx.select({ bytesDone: items.bytesDone }).from(items).where(eq(items.id, item.id)).for('update');
    await tx.update(items).set({ uploadState, bytesDone: uploadState.offset, state: 'copying', updatedAt: new Date() }).where(eq(items.id, item.id));
    const delta = uploadState.offset - (prev?.bytesDone ?? 0);
    await tx.update(runs).set({ bytesDone: sql`${runs.bytesDone} + ${delta}`, bytesSent: sql`${runs.bytesSent} + ${Math.max(0, delta)}`, samples: sampled(sql`bytes_done + ${delta}`), updatedAt: new Date() }).where(eq(runs.id, item.runId));
  });
}

/** What became of one file in a batch; written with the others of the batch in one statement. */
export interface ItemOutcome {
  id: number;
  /** `moved`: a rename done on the destination (action=move), nothing sent. */
  state: 'copied' | 'verified' | 'moved' | 'failed';
  srcHashes?: Hashes;
  dstHashes?: Hashes;
  error?: string | null;
  deduplicated?: boolean;
  recopies?: number;
  /** The bytes went through knarr (not a server-side copy or move, nor a deduplicated upload); default true. */
  sent?: boolean;
  /** A planned server-side rename or copy that was uploaded instead: the ledger and report then say a plain copy. */
  uploadedInstead?: boolean;
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
    dedup: o.deduplicated ?? false, recopies: o.recopies ?? null, sent: (o.sent ?? true) && !o.deduplicated && o.state !== 'moved',
    plain: (o.uploadedInstead ?? false) && o.state !== 'failed',
  }));
  await db.execute(sql`
    WITH v AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        AS v(id bigint, state text, src jsonb, dst jsonb, err text, dedup boolean, recopies int, sent boolean, plain boolean)
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
        action = CASE WHEN v.plain THEN 'copy' ELSE i.action END,
        from_path = CASE WHEN v.plain THEN NULL ELSE i.from_path END,
        updated_at = now()
      FROM v, prev WHERE i.id = v.id AND prev.id = v.id
      RETURNING i.id, v.state, v.dedup, v.sent, i.size, prev.bytes_done
    ), added AS (SELECT coalesce(sum(size - bytes_done), 0) AS bytes FROM done WHERE state <> 'failed')
    UPDATE runs SET
      files_done = files_done + (SELECT count(*) FROM done WHERE state <> 'failed'),
      files_moved = files_moved + (SELECT count(*) FROM done WHERE state = 'moved'),
      bytes_sent = bytes_sent + (SELECT coalesce(sum(size - bytes_done), 0) FROM done WHERE state <> 'failed' AND sent),
      files_failed = files_failed + (SELECT count(*) FROM done WHERE state = 'failed'),
      files_deduplicated = files_deduplicated + (SELECT count(*) FROM done WHERE dedup),
      bytes_done = bytes_done + added.bytes,
      samples = ${sampled(sql`bytes_done + added.bytes`)},
      updated_at = now()
    FROM added WHERE id = ${runId}`);
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

/** A file whose size the plan could not know (an exported document), once read: the item and the run's total take it. */
export async function learnSize(db: Db, item: Pick<ItemRow, 'id' | 'runId'>, size: number): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.update(items).set({ size, updatedAt: new Date() }).where(eq(items.id, item.id));
    await tx.update(runs).set({ bytesTotal: sql`${runs.bytesTotal} + ${size}`, updatedAt: new Date() }).where(eq(runs.id, item.runId));
  });
}

/** A source file found changed since the plan: the item takes its new size and mtime, starts over, and the run's total follows. */
export async function replanSource(db: Db, item: Pick<ItemRow, 'id' | 'runId' | 'size' | 'bytesDone'>, size: number, mtimeMs: number): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.update(items).set({ size, mtimeMs: Math.round(mtimeMs), uploadState: null, bytesDone: 0, srcHashes: {}, updatedAt: new Date() }).where(eq(items.id, item.id));
    await tx.update(runs).set({
      bytesTotal: sql`${runs.bytesTotal} + ${size - item.size}`, bytesDone: sql`${runs.bytesDone} - ${item.bytesDone}`, updatedAt: new Date(),
    }).where(eq(runs.id, item.runId));
  });
}

export async function recordAttemptError(db: Db, itemId: number, error: string, throttled = false): Promise<void> {
  await db.update(items).set({
    lastError: error, attempts: sql`${items.attempts} + 1`, throttles: sql`${items.throttles} + ${throttled ? 1 : 0}`, updatedAt: new Date(),
  }).where(eq(items.id, itemId));
}

/** Exact counters from the ledger, written when a run ends so drift from retries cannot survive. */
export async function recountRun(db: Db, runId: string): Promise<{ filesDone: number; filesFailed: number; bytesDone: number; filesMoved: number; filesDeleted: number }> {
  const [c] = await db.select({
    filesDone: sql<number>`count(*) FILTER (WHERE ${items.state} IN ('copied', 'verified', 'checked') OR (${items.state} = 'moved' AND ${items.action} <> 'delete'))`.mapWith(Number),
    filesFailed: sql<number>`count(*) FILTER (WHERE ${items.state} = 'failed')`.mapWith(Number),
    bytesDone: sql<number>`coalesce(sum(${items.size}) FILTER (WHERE ${items.state} IN ('copied', 'verified', 'checked', 'moved') AND ${items.action} <> 'delete'), 0)`.mapWith(Number),
    filesMoved: sql<number>`count(*) FILTER (WHERE ${items.state} = 'moved')`.mapWith(Number),
    filesDeleted: sql<number>`count(*) FILTER (WHERE ${items.state} = 'deleted' AND NOT ${items.isDir})`.mapWith(Number),
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
export async function nextBatches(db: Db, runId: string, sel: ScanSelection, after: number, limit: number): Promise<{ batch: number; files: number }[]> {
  return db.select({ batch: items.batch, files: sql<number>`count(*)`.mapWith(Number) }).from(items)
    .where(and(eq(items.runId, runId), scanWhere(sel), sql`${items.batch} > ${after}`))
    .groupBy(items.batch).orderBy(asc(items.batch)).limit(limit);
}

/** A batch given up on (an internal error outlived its retries): its unfinished files fail with the reason, the run goes on. */
export async function failBatch(db: Db, runId: string, batch: number, sel: ScanSelection, error: string): Promise<number> {
  const failed = await db.update(items).set({ state: 'failed', lastError: error, attempts: sql`${items.attempts} + 1`, updatedAt: new Date() })
    .where(and(eq(items.runId, runId), eq(items.batch, batch), scanWhere(sel)))
    .returning({ id: items.id });
  await db.update(runs).set({ filesFailed: sql`${runs.filesFailed} + ${failed.length}`, updatedAt: new Date() }).where(eq(runs.id, runId));
  return failed.length;
}
