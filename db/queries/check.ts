import { sql } from 'drizzle-orm';
import type { Hashes, HashType } from '../../core/entry.js';
import { checkVerdicts, type CheckVerdict } from '../../core/run.js';
import { queryRows, type Db } from '../client.js';
import { analyzeEntries, batchCtes, type PlanRules, type PlanTotals } from './ledger.js';

export interface CheckRules extends Pick<PlanRules, 'largeFileThreshold' | 'batchFiles' | 'batchBytes' | 'caseInsensitive'> {
  /** A hash both listings report; files that both list it with are decided without reading. */
  listedHash: HashType | null;
  /** Read and hash both sides where the listings cannot decide (otherwise: size only). */
  download: boolean;
  /** Compare sizes only, even where hashes are known. */
  sizeOnly: boolean;
}

/**
 * A check run's plan, set-based like the copy diff: every file of either side gets its verdict
 * from the listings where they can give one (missing on a side, sizes differ, listed hashes), and
 * the rest become `check` items, batched, for the copy scan to hash (engine/check.ts).
 */
export async function insertCheckItems(db: Db, runId: string, rules: CheckRules): Promise<PlanTotals> {
  const [done] = await queryRows<{ one: number }>(db, sql`SELECT 1 AS one FROM items WHERE run_id = ${runId} LIMIT 1`);
  if (!done) {
    await analyzeEntries(db);
    const h = rules.sizeOnly ? null : rules.listedHash;
    const same = (a: string, b: string) => rules.caseInsensitive ? sql.raw(`lower(${a}.path) = lower(${b}.path)`) : sql.raw(`${a}.path = ${b}.path`);
    await db.execute(sql`
      INSERT INTO items (run_id, path, action, state, size, mtime_ms, src_hashes, dst_hashes, large, batch, last_error)
      WITH joined AS (
        SELECT DISTINCT ON (s.path) s.path, s.size, s.mtime_ms, s.hashes AS sh, coalesce(d.hashes, '{}'::jsonb) AS dh, d.size AS dsize,
          CASE WHEN d.path IS NULL OR d.is_dir THEN 'missing_on_dst'
            WHEN d.size <> s.size THEN 'differ'
            ${h ? sql`WHEN s.hashes->>${h} IS NOT NULL AND d.hashes->>${h} IS NOT NULL THEN CASE WHEN s.hashes->>${h} = d.hashes->>${h} THEN 'match' ELSE 'differ' END` : sql``}
            WHEN ${rules.download && !rules.sizeOnly} THEN 'check'
            ELSE 'match' END AS act
        FROM entries s
        LEFT JOIN entries d ON d.run_id = s.run_id AND d.side = 'dst' AND ${same('d', 's')}
        WHERE s.run_id = ${runId} AND s.side = 'src' AND NOT s.is_dir AND s.path <> ''
        ORDER BY s.path
      ), ranked AS (
        SELECT j.*, CASE WHEN j.act <> 'check' THEN 0 WHEN j.size >= ${rules.largeFileThreshold} THEN 1 ELSE 2 END AS class FROM joined j
      )${batchCtes(rules)}
      SELECT ${runId}::uuid, b.path, b.act, CASE b.act WHEN 'check' THEN 'pending' ELSE 'checked' END, b.size, b.mtime_ms, b.sh, b.dh, b.class = 1, b.batch,
        CASE WHEN b.act = 'differ' AND b.dsize <> b.size THEN 'sizes differ: source ' || b.size || ' bytes, destination ' || b.dsize || ' bytes'
          WHEN b.act = 'differ' THEN ${h ?? ''} || ' differs' END
      FROM batched b
      UNION ALL
      SELECT ${runId}::uuid, d.path, 'missing_on_src', 'checked', d.size, d.mtime_ms, '{}'::jsonb, d.hashes, false, 0, NULL
      FROM entries d
      WHERE d.run_id = ${runId} AND d.side = 'dst' AND NOT d.is_dir AND d.path <> ''
        AND NOT EXISTS (SELECT 1 FROM entries s WHERE s.run_id = d.run_id AND s.side = 'src' AND NOT s.is_dir AND ${same('s', 'd')})
      ON CONFLICT (run_id, path) DO NOTHING`);
  }
  // Progress counts compared files: the ones the listings decided are done already.
  const [t] = await queryRows<{ total: number; bytes: number; done: number; done_bytes: number; batches: number }>(db, sql`
    UPDATE runs r SET files_total = c.total, bytes_total = c.bytes, files_done = c.done, bytes_done = c.done_bytes,
      files_skipped = 0, files_failed = 0, files_deduplicated = 0, updated_at = now()
    FROM (SELECT count(*)::int AS total, coalesce(sum(size), 0)::bigint AS bytes,
        count(*) FILTER (WHERE state = 'checked')::int AS done, coalesce(sum(size) FILTER (WHERE state = 'checked'), 0)::bigint AS done_bytes,
        coalesce(max(batch), 0)::int AS batches
      FROM items WHERE run_id = ${runId}) c
    WHERE r.id = ${runId}
    RETURNING c.total, c.bytes, c.done, c.done_bytes, c.batches`);
  return { filesTotal: Number(t.total), bytesTotal: Number(t.bytes), filesSkipped: 0, batchCount: Number(t.batches), caseCollisions: 0, tooLarge: 0, conflictsKept: 0, renamed: 0, moves: 0, serverCopies: 0, deletes: 0 };
}

export interface CheckOutcome {
  id: number;
  verdict: CheckVerdict | 'failed';
  srcHashes: Hashes;
  dstHashes: Hashes;
  error: string | null;
}

/** A check batch's verdicts and the run's progress, in one statement. */
export async function recordChecks(db: Db, runId: string, outcomes: readonly CheckOutcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  const rows = outcomes.map((o) => ({ id: o.id, v: o.verdict, src: o.srcHashes, dst: o.dstHashes, err: o.error }));
  await db.execute(sql`
    WITH v AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS v(id bigint, v text, src jsonb, dst jsonb, err text)
    ), done AS (
      UPDATE items i SET
        action = CASE WHEN v.v = 'failed' THEN i.action ELSE v.v END,
        state = CASE WHEN v.v = 'failed' THEN 'failed' ELSE 'checked' END,
        src_hashes = i.src_hashes || v.src, dst_hashes = i.dst_hashes || v.dst, last_error = v.err,
        attempts = i.attempts + CASE WHEN v.v = 'failed' THEN 1 ELSE 0 END, updated_at = now()
      FROM v WHERE i.id = v.id AND i.run_id = ${runId} AND i.state = 'pending'
      RETURNING v.v, i.size
    )
    UPDATE runs SET
      files_done = files_done + (SELECT count(*) FROM done WHERE v <> 'failed'),
      files_failed = files_failed + (SELECT count(*) FROM done WHERE v = 'failed'),
      bytes_done = bytes_done + (SELECT coalesce(sum(size), 0) FROM done WHERE v <> 'failed'),
      updated_at = now()
    WHERE id = ${runId}`);
}

/** How a check run came out: files per verdict. */
export async function checkSummary(db: Db, runId: string): Promise<Record<CheckVerdict, number>> {
  const rows = await queryRows<{ action: CheckVerdict; n: number }>(db, sql`
    SELECT action, count(*)::int AS n FROM items WHERE run_id = ${runId} AND state = 'checked' GROUP BY action`);
  return Object.fromEntries(checkVerdicts.map((v) => [v, rows.find((r) => r.action === v)?.n ?? 0])) as Record<CheckVerdict, number>;
}
