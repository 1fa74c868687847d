import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUniqueViolation, openDatabase, queryRows, type Db, type OpenedDatabase } from '../../db/client.js';
import { CredentialCipher } from '../../db/credentials.js';
import { pgErrorCodes, pgErrorOf } from '../../db/errors.js';
import { items, jobs, remotes, runs } from '../../db/schema.js';
import { jobOptionsSchema } from '../../core/job.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { adminUserId } from '../../db/queries/users.js';

const migrationFiles = readdirSync(new URL('../../db/migrations', import.meta.url)).filter((f) => f.endsWith('.sql'));
const BIG = 2 ** 40 + 12_345; // past 2^32: would wrap or truncate in any 32-bit path
const NEAR_MAX = Number.MAX_SAFE_INTEGER;

/** One place a database lives: reopening it must find the same data. */
interface Target {
  open(): Promise<OpenedDatabase>;
  cleanup(): Promise<void>;
  dataDir?: string;
}

const drivers: { kind: 'postgres' | 'pglite'; make(): Promise<Target> }[] = [
  {
    kind: 'postgres',
    async make() {
      const t: TestDatabase = await createTestDatabase();
      return { open: () => openDatabase({ url: t.url }), cleanup: () => t.drop() };
    },
  },
  {
    kind: 'pglite',
    async make() {
      const dataDir = mkdtempSync(join(tmpdir(), 'knarr-db-'));
      return { dataDir, open: () => openDatabase({ dataDir }), cleanup: async () => rmSync(dataDir, { recursive: true, force: true }) };
    },
  },
];

async function tableNames(db: Db): Promise<string[]> {
  const rows = await queryRows<{ t: string }>(db, sql`select table_name as t from information_schema.tables where table_schema = 'public' order by 1`);
  return rows.map((r) => r.t);
}

async function migrationRows(db: Db): Promise<number> {
  const [row] = await queryRows<{ n: number }>(db, sql`select count(*) as n from drizzle.__drizzle_migrations`);
  return row.n;
}

/** A remote, a job and a run: what an item needs to exist. */
async function seedRun(db: Db, name: string): Promise<{ remoteId: string; runId: string }> {
  const [remote] = await db.insert(remotes).values({ ownerId: adminUserId, name, type: 'local', config: { root: '/srv' } }).returning();
  const [job] = await db.insert(jobs).values({
    ownerId: adminUserId, sourceRemoteId: remote.id, sourcePath: '', destRemoteId: remote.id, destPath: 'copy', mode: 'copy',
    options: jobOptionsSchema.parse({ largeFileThreshold: 1, chunkSize: 65536, batchFiles: 1, batchBytes: 1 }),
  }).returning();
  const [run] = await db.insert(runs).values({ ownerId: adminUserId, jobId: job.id, workflowId: `wf-${name}` }).returning();
  return { remoteId: remote.id, runId: run.id };
}

describe.each(drivers)('database on $kind', ({ kind, make }) => {
  // Creating a PGlite database (its initdb) takes seconds; reopening one is fast. So the tests share
  // one database and use their own rows, and only the concurrency test makes another.
  let target: Target;
  let main: OpenedDatabase;
  const extra: OpenedDatabase[] = [];
  const db = () => main.db;
  async function reopen(): Promise<OpenedDatabase> {
    await main.close();
    main = await target.open();
    return main;
  }

  beforeAll(async () => {
    target = await make();
    main = await target.open();
  });
  afterAll(async () => {
    await Promise.all(extra.map((o) => o.close()));
    await main?.close();
    await target?.cleanup();
  });

  it('applies the migrations on first open', async () => {
    expect(main.kind).toBe(kind);
    expect(main.migrationsApplied).toBe(migrationFiles.length);
    expect(await tableNames(db())).toEqual(['api_keys', 'entries', 'events', 'idempotency_keys', 'items', 'jobs', 'oauth_states', 'remotes', 'runs', 'schedules', 'ui_sessions', 'users']);
    expect(await migrationRows(db())).toBe(migrationFiles.length);
  });

  it('reopening runs no migration and keeps the data', async () => {
    await db().insert(remotes).values({ ownerId: adminUserId, name: 'keep-me', type: 'local', config: { root: '/a' } });
    const second = await reopen();
    expect(second.migrationsApplied).toBe(0);
    expect(await migrationRows(second.db)).toBe(migrationFiles.length);
    const rows = await second.db.select().from(remotes).where(eq(remotes.name, 'keep-me'));
    expect(rows).toHaveLength(1);
    expect(rows[0].config).toEqual({ root: '/a' });
    expect(rows[0].createdAt).toBeInstanceOf(Date);
  });

  it('round-trips byte counts above 2^32 as numbers', async () => {
    const { runId } = await seedRun(db(), 'big');
    await db().update(runs).set({ bytesTotal: BIG, bytesDone: NEAR_MAX }).where(eq(runs.id, runId));
    const [item] = await db().insert(items).values({ runId, path: 'huge.bin', action: 'copy', size: BIG, mtimeMs: 1_700_000_000_123, bytesDone: 2 ** 33 }).returning();
    expect(typeof item.id).toBe('number');

    // Read back after a reopen too, so the values come from disk and not from anything cached.
    await reopen();
    const [run] = await db().select().from(runs).where(eq(runs.id, runId));
    expect(run.bytesTotal).toBe(BIG);
    expect(run.bytesDone).toBe(NEAR_MAX);
    const [back] = await db().select().from(items).where(eq(items.id, item.id));
    expect(back.size).toBe(BIG);
    expect(back.bytesDone).toBe(2 ** 33);
    expect(back.mtimeMs).toBe(1_700_000_000_123);

    // Raw SQL: int8 is a number on both drivers; numeric (an uncast sum) a string on both.
    await db().insert(items).values({ runId, path: 'huge2.bin', action: 'copy', size: BIG, mtimeMs: 0 });
    const [agg] = await queryRows<{ n: unknown; total: unknown; raw: unknown }>(
      db(),
      sql`select count(*) as n, sum(size)::bigint as total, sum(size) as raw from ${items} where run_id = ${runId}`,
    );
    expect(agg).toEqual({ n: 2, total: 2 * BIG, raw: String(2 * BIG) });
    const [viaBuilder] = await db().select({ total: sql<number>`sum(${items.size})::bigint`.mapWith(Number) }).from(items).where(eq(items.runId, runId));
    expect(viaBuilder.total).toBe(2 * BIG);
  });

  it('rejects a duplicate remote name, recognizably', async () => {
    await db().insert(remotes).values({ ownerId: adminUserId, name: 'dup', type: 'local' });
    const err = await db().insert(remotes).values({ ownerId: adminUserId, name: 'dup', type: 'local' }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeDefined();
    expect(isUniqueViolation(err)).toBe(true);
    expect(isUniqueViolation(err, 'remotes_owner_name_key')).toBe(true);
    expect(isUniqueViolation(err, 'items_run_path_key')).toBe(false);
    expect(pgErrorOf(err)).toMatchObject({ code: pgErrorCodes.uniqueViolation, constraint: 'remotes_owner_name_key' });

    // Inside a transaction the driver error sits under the same wrapper.
    const inTx = await db().transaction(async (tx) => {
      await tx.insert(remotes).values({ ownerId: adminUserId, name: 'dup', type: 'local' });
    }).then(() => undefined, (e: unknown) => e);
    expect(isUniqueViolation(inTx, 'remotes_owner_name_key')).toBe(true);

    // Other failures are not mistaken for it.
    const fk = await db().insert(runs).values({ ownerId: adminUserId, jobId: '00000000-0000-0000-0000-000000000000', workflowId: 'x' }).then(() => undefined, (e: unknown) => e);
    expect(pgErrorOf(fk)?.code).toBe(pgErrorCodes.foreignKeyViolation);
    expect(isUniqueViolation(fk)).toBe(false);
    expect(isUniqueViolation(new Error('duplicate key'))).toBe(false);
    expect(isUniqueViolation(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isUniqueViolation(undefined)).toBe(false);
    expect(await db().select().from(remotes).where(eq(remotes.name, 'dup'))).toHaveLength(1);
  });

  it('locks a row with SELECT ... FOR UPDATE inside a transaction, and rolls back on throw', async () => {
    const [r] = await db().insert(remotes).values({ ownerId: adminUserId, name: 'locked', type: 'local' }).returning();

    const version = await db().transaction(async (tx) => {
      const [row] = await tx.select().from(remotes).where(eq(remotes.id, r.id)).for('update');
      await tx.update(remotes).set({ credentialsVersion: row.credentialsVersion + 1 }).where(eq(remotes.id, r.id));
      const [after] = await tx.select({ v: remotes.credentialsVersion }).from(remotes).where(eq(remotes.id, r.id));
      return after.v;
    });
    expect(version).toBe(1);

    await expect(db().transaction(async (tx) => {
      await tx.select().from(remotes).where(eq(remotes.id, r.id)).for('update');
      await tx.update(remotes).set({ credentialsVersion: 99 }).where(eq(remotes.id, r.id));
      throw new Error('refresh failed');
    })).rejects.toThrow('refresh failed');
    const [row] = await db().select().from(remotes).where(eq(remotes.id, r.id));
    expect(row.credentialsVersion).toBe(1);
  });

  it('stores sealed credentials as bytea and hands back a Buffer', async () => {
    const cipher = new CredentialCipher(Buffer.alloc(32, 7));
    const sealed = cipher.seal({ loginToken: 'sekret', nested: { n: 1 } });
    const [r] = await db().insert(remotes).values({ ownerId: adminUserId, name: 'jotta', type: 'jottacloud', credentials: sealed }).returning();
    const [row] = await db().select().from(remotes).where(eq(remotes.id, r.id));
    expect(Buffer.isBuffer(row.credentials)).toBe(true);
    expect(row.credentials!.equals(sealed)).toBe(true);
    expect(cipher.open(row.credentials!)).toEqual({ loginToken: 'sekret', nested: { n: 1 } });
  });

  if (kind === 'postgres') {
    it('blocks a second locker of the same row until the first commits', async () => {
      const [r] = await db().insert(remotes).values({ ownerId: adminUserId, name: 'contended', type: 'local' }).returning();
      let release!: () => void;
      const held = new Promise<void>((res) => (release = res));
      let locked!: () => void;
      const isLocked = new Promise<void>((res) => (locked = res));
      const first = db().transaction(async (tx) => {
        await tx.select().from(remotes).where(eq(remotes.id, r.id)).for('update');
        locked();
        await held;
        await tx.update(remotes).set({ credentialsVersion: 1 }).where(eq(remotes.id, r.id));
      });
      await isLocked;
      const noWait = await db().transaction(async (tx) => {
        await tx.select().from(remotes).where(eq(remotes.id, r.id)).for('update', { noWait: true });
      }).then(() => undefined, (e: unknown) => e);
      expect(pgErrorOf(noWait)?.code).toBe(pgErrorCodes.lockNotAvailable);

      // A waiting locker sees the first writer's committed value, never the one before it.
      const second = db().transaction(async (tx) => {
        const [row] = await tx.select().from(remotes).where(eq(remotes.id, r.id)).for('update');
        return row.credentialsVersion;
      });
      release();
      await first;
      expect(await second).toBe(1);
    });

    it('survives four openers migrating one fresh database at once', { timeout: 60_000 }, async () => {
      const t = await make();
      try {
        const all = await Promise.all([t.open(), t.open(), t.open(), t.open()]);
        extra.push(...all);
        expect(all.map((o) => o.migrationsApplied).sort()).toEqual([0, 0, 0, migrationFiles.length]);
        expect(await migrationRows(all[0].db)).toBe(migrationFiles.length);
        expect(await tableNames(all[3].db)).toContain('remotes');
      } finally {
        await Promise.all(extra.splice(0).map((o) => o.close()));
        await t.cleanup();
      }
    });
  }

  if (kind === 'pglite') {
    const lockFile = () => join(target.dataDir!, 'pglite.lock');

    it('refuses a second open of the same data dir while the first is open', async () => {
      await expect(target.open()).rejects.toThrow(/already open by this process.*DATABASE_URL/s);
      expect((await reopen()).migrationsApplied).toBe(0);
    });

    it('refuses a lock held by another live process', async () => {
      await main.close();
      // The parent of this test process is alive and is not us.
      writeFileSync(lockFile(), `${process.ppid}\n`);
      await expect(target.open()).rejects.toThrow(`already open by process ${process.ppid}`);
      rmSync(lockFile());
      main = await target.open();
    });

    it('keeps what another process committed, whether it closed or was killed', { timeout: 240_000 }, async () => {
      await main.close();
      const script = `
        const { openDatabase } = await import(${JSON.stringify(new URL('../../db/client.ts', import.meta.url).href)});
        const { remotes } = await import(${JSON.stringify(new URL('../../db/schema.ts', import.meta.url).href)});
        const [dataDir, name, how] = process.argv.slice(1);
        const o = await openDatabase({ dataDir });
        await o.db.insert(remotes).values({ ownerId: ${JSON.stringify(adminUserId)}, name, type: 'local' });
        if (how === 'kill') process.kill(process.pid, 'SIGKILL');
        await o.close();
      `;
      for (const how of ['close', 'kill']) {
        const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, target.dataDir!, `from-${how}`, how], { encoding: 'utf8', timeout: 120_000 });
        expect(child.signal ?? child.status, child.stderr).toBe(how === 'kill' ? 'SIGKILL' : 0);
      }
      // The killed child left its lock file behind: the pid is dead, so it is taken over.
      main = await target.open();
      const names = (await db().select({ name: remotes.name }).from(remotes)).map((r) => r.name);
      expect(names).toEqual(expect.arrayContaining(['from-close', 'from-kill']));
    });

    it('takes over a lock left by a process that died', async () => {
      await main.close();
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
      writeFileSync(lockFile(), `${dead.stdout}\n`);
      main = await target.open();
      expect(await db().select().from(remotes).where(eq(remotes.name, 'keep-me'))).toHaveLength(1);
    });
  }
});

describe('openDatabase', () => {
  it('needs a url or a data dir', async () => {
    await expect(openDatabase({})).rejects.toThrow(/DATABASE_URL.*dataDir/);
  });

  it('says which database failed, without the password', async () => {
    const err = await openDatabase({ url: 'postgres://knarr:hunter2@127.0.0.1:1/nope' }).then(() => undefined, (e: Error) => e);
    expect(err?.message).toContain('127.0.0.1:1');
    expect(err?.message).not.toContain('hunter2');
  });
});
