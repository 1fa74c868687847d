import { sql } from 'drizzle-orm';
import type { RunPhaseProgress } from '../../core/run.js';
import { queryRows, type Db } from '../client.js';

/**
 * Each phase's files and bytes, done and total, from the ledger in one grouped scan of the
 * run's items (by its run_id index): what GET /v1/runs/{id} shows beside the run's counters.
 */
export async function phaseProgress(db: Db, runId: string): Promise<RunPhaseProgress> {
  const rows = await queryRows<{ action: string; state: string; is_dir: boolean; n: number; bytes: number; partial: number }>(db, sql`
    SELECT action, state, is_dir, count(*)::int AS n, coalesce(sum(size), 0)::bigint AS bytes, coalesce(sum(bytes_done), 0)::bigint AS partial
    FROM items WHERE run_id = ${runId} GROUP BY action, state, is_dir`);
  const p: RunPhaseProgress = {
    copy: { files: { done: 0, total: 0, failed: 0 }, bytes: { done: 0, total: 0 } },
    verify: { files: { done: 0, total: 0, failed: 0 } },
    delete: { files: { done: 0, total: 0, failed: 0 } },
  };
  for (const r of rows) {
    const n = Number(r.n);
    const bytes = Number(r.bytes);
    if (r.action === 'copy' || r.action === 'move' || r.action === 'check') {
      p.copy.files.total += n;
      p.copy.bytes.total += bytes;
      if (['copied', 'verified', 'moved', 'checked'].includes(r.state)) {
        p.copy.files.done += n;
        p.copy.bytes.done += bytes;
      } else if (r.state === 'failed') p.copy.files.failed += n;
      else p.copy.bytes.done += Number(r.partial);
      if (['copied', 'verified', 'moved'].includes(r.state)) p.verify.files.total += n;
      if (r.state === 'verified' || r.state === 'moved') p.verify.files.done += n;
    } else if (r.action === 'delete' && !r.is_dir) {
      p.delete.files.total += n;
      if (r.state === 'deleted') p.delete.files.done += n;
      if (r.state === 'failed') p.delete.files.failed += n;
    }
  }
  return p;
}

/** Large files being copied now (small ones finish between two looks), each with its progress. */
export async function filesInFlight(db: Db, runId: string, limit = 20): Promise<{ path: string; size: number; bytesDone: number }[]> {
  const rows = await queryRows<{ path: string; size: number; bytes_done: number }>(db, sql`
    SELECT path, size, bytes_done FROM items WHERE run_id = ${runId} AND state = 'copying' ORDER BY updated_at DESC LIMIT ${limit}`);
  return rows.map((r) => ({ path: r.path, size: Number(r.size), bytesDone: Number(r.bytes_done) }));
}
