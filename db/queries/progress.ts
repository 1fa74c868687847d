import { sql } from 'drizzle-orm';
import type { RunPhaseProgress } from '../../core/run.js';
import { queryRows, type Db } from '../client.js';
import type { RunRow } from './runs.js';

/**
 * Each phase's files and bytes, done and total, from the counters the run already keeps (and
 * its stored plan): a client polling GET /v1/runs/{id} costs no scan of the ledger. Only while
 * the verify phase runs, the files still to verify are counted, by the (run, state) index.
 */
export async function phaseProgress(db: Db, run: RunRow): Promise<RunPhaseProgress> {
  let toVerify = 0;
  if (run.phase === 'verify') {
    const [r] = await queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM items WHERE run_id = ${run.id} AND state = 'copied'`);
    toVerify = Number(r?.n ?? 0);
  }
  const deletes = run.plan?.groups.delete.files ?? 0;
  return {
    copy: { files: { done: run.filesDone, total: run.filesTotal, failed: run.filesFailed }, bytes: { done: run.bytesDone, total: run.bytesTotal } },
    verify: { files: { done: run.filesDone - toVerify, total: run.filesDone } },
    delete: { files: { done: run.filesDeleted, total: Math.max(deletes, run.filesDeleted) } },
  };
}

/** Large files being copied now (small ones finish between two looks), each with its progress. */
export async function filesInFlight(db: Db, runId: string, limit = 20): Promise<{ path: string; size: number; bytesDone: number }[]> {
  const rows = await queryRows<{ path: string; size: number; bytes_done: number }>(db, sql`
    SELECT path, size, bytes_done FROM items WHERE run_id = ${runId} AND state = 'copying' ORDER BY updated_at DESC LIMIT ${limit}`);
  return rows.map((r) => ({ path: r.path, size: Number(r.size), bytesDone: Number(r.bytes_done) }));
}
