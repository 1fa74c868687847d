import type { Response } from 'express';
import type { Hashes } from '../core/entry.js';
import type { Db } from '../db/client.js';
import { listItems, type ItemRow } from '../db/queries/ledger.js';

/** One file of a run's report; a hash is written `type:hex`, the same type on both sides where they share one. */
export interface ReportRow {
  path: string;
  action: string;
  state: string;
  size: number;
  srcHash: string | null;
  dstHash: string | null;
  error: string | null;
  /** Where the file was written when not at `path` (conflict=rename). */
  dstPath: string | null;
  /** A rename done on the destination (action=move): the destination path it was moved from. */
  fromPath: string | null;
  /** Failed attempts at the file, and how many of them a provider's throttle stopped. */
  attempts: number;
  throttles: number;
}

const columns: readonly (keyof ReportRow)[] = ['path', 'action', 'state', 'size', 'srcHash', 'dstHash', 'error', 'dstPath', 'fromPath', 'attempts', 'throttles'];
const pageSize = 1000;

export function reportRow(i: ItemRow): ReportRow {
  const shared = (Object.keys(i.srcHashes) as (keyof Hashes)[]).find((t) => i.dstHashes[t]);
  const pick = (h: Hashes) => {
    const t = shared ?? (Object.keys(h) as (keyof Hashes)[])[0];
    return t && h[t] ? `${t}:${h[t]}` : null;
  };
  return { path: i.path, action: i.action, state: i.state, size: i.size, srcHash: pick(i.srcHashes), dstHash: pick(i.dstHashes), error: i.lastError, dstPath: i.dstPath, fromPath: i.fromPath, attempts: i.attempts, throttles: i.throttles };
}

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
function csvField(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Streams a run's ledger as JSON (`{"runId","rows":[…]}`) or CSV, one page of the database at a
 * time and waiting for the client to take each: memory stays flat on a million-file run. A
 * client that goes away stops the reading.
 */
export async function streamReport(db: Db, runId: string, format: 'json' | 'csv', res: Response): Promise<void> {
  // The response's close, not the request's: a GET's request closes as soon as its empty body
  // is read, which would stop the report after its first page.
  let gone = false;
  res.on('close', () => { gone = true; });
  const write = async (chunk: string) => {
    if (!res.write(chunk)) await new Promise<void>((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
  };
  res.status(200).type(format === 'json' ? 'application/json' : 'text/csv; charset=utf-8');
  if (format === 'csv') res.setHeader('Content-Disposition', `attachment; filename="knarr-run-${runId}.csv"`);
  await write(format === 'json' ? `{"runId":${JSON.stringify(runId)},"rows":[` : `${columns.join(',')}\r\n`);
  let after = '';
  let first = true;
  for (;;) {
    if (gone) return;
    const page = await listItems(db, runId, undefined, after, pageSize);
    let chunk = '';
    for (const item of page) {
      const row = reportRow(item);
      if (format === 'json') {
        chunk += (first ? '' : ',') + JSON.stringify(row);
        first = false;
      } else {
        chunk += columns.map((c) => csvField(row[c])).join(',') + '\r\n';
      }
    }
    if (chunk) await write(chunk);
    if (page.length < pageSize) break;
    after = page[page.length - 1].path;
  }
  res.end(format === 'json' ? ']}' : '');
}
