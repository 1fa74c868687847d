import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalConnector } from '../../connectors/local/index.js';
import { openDatabase, queryRows, type OpenedDatabase } from '../../db/client.js';
import { diffIntoItems } from '../../db/queries/ledger.js';
import { keepEverything } from '../../engine/filter.js';
import { insertRemote } from '../../db/queries/remotes.js';
import { insertJobAndRun } from '../../db/queries/runs.js';
import { listSide } from '../../engine/plan.js';
import { jobOptionsSchema } from '../../core/job.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { adminUserId } from '../../db/queries/users.js';

const dirs = 40;
const perDir = 25;

describe.each(['postgres', 'pglite'] as const)('planning a listing that is cut (%s)', (kind) => {
  let dir: string;
  let pg: TestDatabase | undefined;
  let db: OpenedDatabase;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knarr-plan-resume-'));
    for (let d = 0; d < dirs; d++) {
      await mkdir(join(dir, 'src', `d${d}`, 'inner'), { recursive: true });
      for (let f = 0; f < perDir; f++) await writeFile(join(dir, 'src', `d${d}`, f % 5 === 0 ? 'inner' : '', `f${f}`), `${d}/${f}`);
    }
    await mkdir(join(dir, 'dst'));
    if (kind === 'postgres') {
      pg = await createTestDatabase('knarr_plan');
      db = await openDatabase({ url: pg.url });
    } else {
      db = await openDatabase({ dataDir: join(dir, 'data') });
    }
  });
  afterAll(async () => {
    await db?.close();
    await pg?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('goes on with the folders not yet listed, and the plan holds every file exactly once', async () => {
    const r = await insertRemote(db.db, { ownerId: adminUserId, name: `local-${kind}`, type: 'local', config: { root: dir }, credentials: null });
    const { run } = await insertJobAndRun(db.db, {
      ownerId: adminUserId, sourceRemoteId: r.id, sourcePath: 'src', destRemoteId: r.id, destPath: 'dst', mode: 'copy', options: jobOptionsSchema.parse({}), filters: {},
    }, (id) => `run-${id}`);
    const connector = createLocalConnector({ root: dir });
    const side = { db: db.db, runId: run.id, side: 'src' as const, connector, root: 'src', missingIsEmpty: false, filter: keepEverything };

    // The worker "dies" once a few hundred rows are in: the listing is abandoned half-way.
    const cut = new AbortController();
    let first = 0;
    await expect(listSide({ ...side, signal: cut.signal, onRows: (n) => { first += n; if (first >= 300) cut.abort(new Error('killed')); } })).rejects.toThrow();
    const all = dirs * 2 + dirs * perDir;
    expect(first).toBeLessThan(all);

    let second = 0;
    const again = await listSide({ ...side, signal: new AbortController().signal, onRows: (n) => { second += n; } });
    expect(again.resumed).toBe(true);
    // Only what was not listed yet is listed again (a folder cut mid-page may be listed twice).
    expect(first + second).toBeLessThan(all + 2 * perDir);
    const [{ n, files }] = await queryRows<{ n: number; files: number }>(db.db, sql`
      SELECT count(*)::int AS n, count(*) FILTER (WHERE NOT is_dir)::int AS files FROM entries WHERE run_id = ${run.id} AND side = 'src' AND path <> ''`);
    expect({ n, files }).toEqual({ n: all, files: dirs * perDir });

    await listSide({ ...side, side: 'dst', root: 'dst', missingIsEmpty: true, signal: new AbortController().signal, onRows: () => {} });
    const totals = await diffIntoItems(db.db, run.id, { mtimeToleranceMs: 1, largeFileThreshold: 1 << 30, batchFiles: 100, batchBytes: 1 << 30, caseInsensitive: false });
    expect(totals.filesTotal).toBe(dirs * perDir);
    await connector.close();
  });
});
