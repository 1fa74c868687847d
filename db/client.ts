import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoFile, tsxImport } from '../core/repo.js';
import { DrizzleQueryError, sql, type ExtractTablesWithRelations, type SQL } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import * as schema from './schema.js';

export { isUniqueViolation, pgErrorOf, pgErrorCodes, type PgErrorInfo } from './errors.js';

export type Schema = typeof schema;
/**
 * The database handle every query module takes. It is drizzle's common base of the postgres.js and
 * PGlite databases, so a query module never knows which driver it runs on. Only `db.execute`
 * differs in its result shape between the two: use `queryRows` for raw SQL.
 */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** The handle inside `db.transaction(async (tx) => ...)`. */
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;

export interface OpenDatabaseOptions {
  /** A PostgreSQL URL (DATABASE_URL). Without it the embedded PGlite under `dataDir` is used. */
  url?: string;
  /** Where the embedded database lives, as `${dataDir}/pglite`. Required when `url` is absent. */
  dataDir?: string;
  log?: (msg: string) => void;
}

export interface OpenedDatabase {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** Migrations this open applied: 0 when the schema was already current. */
  migrationsApplied: number;
  /** Ends the pool, or shuts PGlite down so everything written is on disk. Idempotent. */
  close(): Promise<void>;
}

const migrationsFolder = repoFile('db/migrations');
const migrationsTable = sql`drizzle.__drizzle_migrations`;

/**
 * Arbitrary but fixed: every knarr process migrating the same database contends on this key.
 * Advisory locks are scoped to the database, so test databases on one server don't wait on each other.
 */
const MIGRATION_LOCK_KEY = 0x6b6e617272; // "knarr"

/**
 * int8 comes back from postgres.js as a string by default, from PGlite as a number (a BigInt past
 * 2^53). Parse it the PGlite way on both, so `count(*)` and `sum(x)::bigint` in raw SQL have the same
 * type whichever driver runs, and agree with the schema's `bigint({ mode: 'number' })`.
 * `numeric` (what `sum(bigint)` returns without a cast) stays a string on both drivers.
 */
function parseInt8(raw: string): number | bigint {
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : BigInt(raw);
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<OpenedDatabase> {
  if (opts.url) return openPostgres(opts.url, opts.log ?? (() => {}));
  if (!opts.dataDir) throw new Error('openDatabase needs either a PostgreSQL url (DATABASE_URL) or a dataDir for the embedded database');
  return openPglite(resolve(opts.dataDir), opts.log ?? (() => {}));
}

/** Rows of a raw query, whichever driver: postgres.js returns an array, PGlite `{ rows }`. */
export async function queryRows<T extends Record<string, unknown>>(db: Db | Tx, query: SQL): Promise<T[]> {
  const result: unknown = await db.execute(query);
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

async function openPostgres(url: string, log: (msg: string) => void): Promise<OpenedDatabase> {
  const { default: postgres } = await import('postgres');
  const { drizzle } = await import('drizzle-orm/postgres-js');
  const { migrate } = await import('drizzle-orm/postgres-js/migrator');
  const common = {
    // `CREATE ... IF NOT EXISTS` in the migrator raises NOTICEs that would otherwise go to the console.
    onnotice: () => {},
    types: { int8: { to: 20, from: [20], serialize: (v: number | bigint | string) => String(v), parse: parseInt8 } },
    connection: { application_name: 'knarr' },
    connect_timeout: 10,
  };

  // A dedicated single connection, because a session advisory lock belongs to the connection that
  // took it: with a pool, the unlock (or the migration itself) could run on another connection.
  // drizzle's migrator reads the last applied migration, then applies the newer ones, with no lock,
  // so two processes starting together would both run `CREATE TABLE` and one would fail.
  const migrator = postgres(url, { ...common, max: 1, idle_timeout: undefined, max_lifetime: null });
  let applied = 0;
  try {
    const [got] = await migrator<{ ok: boolean }[]>`select pg_try_advisory_lock(${MIGRATION_LOCK_KEY}) as ok`;
    if (!got?.ok) {
      log('database: another process is migrating this database; waiting for it');
      await migrator`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    }
    const mdb = drizzle(migrator, { schema });
    applied = await runMigrations(mdb, () => migrate(mdb, { migrationsFolder }), log);
    await migrator`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
  } catch (err) {
    throw new Error(`database: migrating ${redactUrl(url)} failed: ${messageOf(err)}`, { cause: err });
  } finally {
    // Closing the connection also releases the lock if the unlock above never ran.
    await migrator.end({ timeout: 5 });
  }

  const client = postgres(url, { ...common, max: 10, idle_timeout: 60 });
  const db: Db = drizzle(client, { schema });
  log(`database: PostgreSQL at ${redactUrl(url)}${describeApplied(applied)}`);
  let closed = false;
  return {
    db,
    kind: 'postgres',
    migrationsApplied: applied,
    async close() {
      if (closed) return;
      closed = true;
      await client.end({ timeout: 5 });
    },
  };
}

/**
 * The embedded database is single-process: PGlite is PostgreSQL in single-user mode inside this
 * process's WebAssembly heap, with no server another process could connect to, and two processes
 * opening one directory would corrupt it. That is why embedded mode runs the API and the worker in
 * one process (`knarr server`); scaling out needs DATABASE_URL. A lock file turns a second opener
 * into a clear error instead of corruption.
 */
async function openPglite(dataDir: string, log: (msg: string) => void): Promise<OpenedDatabase> {
  // 0700: the directory also holds the master key file and the sealed credentials.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const pgDir = join(dataDir, 'pglite');
  const releaseLock = await acquirePgliteLock(join(dataDir, 'pglite.lock'), pgDir, log);
  let client: import('@electric-sql/pglite').PGlite | undefined;
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    const { drizzle } = await import('drizzle-orm/pglite');
    const { migrate } = await import('drizzle-orm/pglite/migrator');
    if (!existsSync(join(pgDir, 'PG_VERSION'))) await initPgliteInChild(pgDir);
    client = await PGlite.create({ dataDir: pgDir, startParams: [...PGlite.defaultStartParams, ...pgliteMemoryParams] });
    const pgliteDb = drizzle(client, { schema });
    const db: Db = pgliteDb;
    const applied = await runMigrations(db, () => migrate(pgliteDb, { migrationsFolder }), log);
    log(`database: embedded PGlite at ${pgDir}${describeApplied(applied)}`);
    const pg = client;
    let closed = false;
    return {
      db,
      kind: 'pglite',
      migrationsApplied: applied,
      async close() {
        if (closed) return;
        closed = true;
        try {
          // Checkpoints and shuts PostgreSQL down inside PGlite; without it the last writes may sit
          // only in memory when the process exits.
          await pg.close();
        } finally {
          releaseLock();
        }
      },
    };
  } catch (err) {
    await client?.close().catch(() => {});
    releaseLock();
    throw new Error(`database: opening the embedded database at ${pgDir} failed: ${messageOf(err)}`, { cause: err });
  }
}

/**
 * PostgreSQL's memory settings for the embedded database. Its WebAssembly heap never shrinks, so
 * PostgreSQL's defaults (128 MB of shared buffers, grown into as they are used) would be most of
 * knarr's memory; the ledger's access is mostly sequential and cached by the OS anyway.
 */
const pgliteMemoryParams = ['-c', 'shared_buffers=32MB', '-c', 'work_mem=8MB', '-c', 'maintenance_work_mem=32MB', '-c', 'temp_buffers=4MB', '-c', 'wal_buffers=1MB'];

function initPgliteInChild(pgDir: string): Promise<void> {
  const script = repoFile('db/pgliteInit.ts');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsxImport(), script, pgDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => { err = (err + c).slice(-4000); });
    child.once('error', reject);
    child.once('exit', (code, sig) => (code === 0 ? resolve() : reject(new Error(`creating the embedded database failed (${sig ?? `exit ${code}`}): ${err.trim()}`))));
  });
}

async function runMigrations(db: Db, migrate: () => Promise<void>, log: (msg: string) => void): Promise<number> {
  const before = await migrationState(db);
  const local = readMigrationFiles({ migrationsFolder });
  const newestLocal = Math.max(0, ...local.map((m) => m.folderMillis));
  if (before.newest > newestLocal) {
    // drizzle skips silently here; a newer knarr has migrated this database and this older one may
    // misread it, so say so.
    log('database: WARNING the schema is newer than this version of knarr knows; upgrade knarr');
  }
  await migrate();
  return (await migrationState(db)).count - before.count;
}

async function migrationState(db: Db): Promise<{ count: number; newest: number }> {
  const [exists] = await queryRows<{ t: string | null }>(db, sql`select to_regclass('drizzle.__drizzle_migrations')::text as t`);
  if (!exists?.t) return { count: 0, newest: 0 };
  const [row] = await queryRows<{ n: number; newest: number | string | null }>(
    db,
    sql`select count(*)::int as n, max(created_at) as newest from ${migrationsTable}`,
  );
  return { count: row?.n ?? 0, newest: Number(row?.newest ?? 0) };
}

/** PGlite directories opened by this process, so a second open here fails like one from another process. */
const pgliteLocksHeld = new Set<string>();

/**
 * How long a live holder may take to let go before a second opener is refused: a knarr that is
 * stopping releases the lock within its stop (README: 5 s).
 */
const LOCK_WAIT_MS = 5_000;

async function acquirePgliteLock(lockPath: string, pgDir: string, log: (msg: string) => void): Promise<() => void> {
  const refuse = (who: string) =>
    new Error(
      `the embedded database at ${pgDir} is already open by ${who}. It is single-process: stop the other knarr process, ` +
        `or set DATABASE_URL to a PostgreSQL server to run several processes (remove ${lockPath} only if no knarr process is running)`,
    );
  if (pgliteLocksHeld.has(lockPath)) throw refuse('this process');
  const deadline = Date.now() + LOCK_WAIT_MS;
  let waitingFor = 0;
  for (;;) {
    try {
      // The start time next to the pid tells a reused pid from the holder.
      writeFileSync(lockPath, `${process.pid} ${processStartTime(process.pid) ?? ''}\n`, { flag: 'wx', mode: 0o600 });
      pgliteLocksHeld.add(lockPath);
      return () => {
        if (pgliteLocksHeld.delete(lockPath)) rmSync(lockPath, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: LockHolder | null = null;
    try {
      holder = parseLockHolder(readFileSync(lockPath, 'utf8'));
    } catch {
      // Removed between our create and our read: just try again.
      continue;
    }
    // Our own pid with no entry in pgliteLocksHeld means a previous life of this pid crashed (common
    // in containers, where a restarted process gets the same pid): stale.
    if (holder && holder.pid !== process.pid && holderAlive(holder)) {
      if (Date.now() >= deadline) throw refuse(`process ${holder.pid}`);
      if (waitingFor !== holder.pid) log(`database: waiting for process ${holder.pid} to close the embedded database`);
      waitingFor = holder.pid;
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    rmSync(lockPath, { force: true });
  }
}

interface LockHolder {
  pid: number;
  /** Absent in lock files of older knarr versions and where there is no /proc. */
  startTime: string | null;
}

function parseLockHolder(text: string): LockHolder | null {
  const [pid, startTime] = text.trim().split(/\s+/);
  const n = Number.parseInt(pid ?? '', 10);
  return n > 0 ? { pid: n, startTime: startTime || null } : null;
}

/**
 * A zombie (killed, not yet reaped by its parent) holds nothing, and neither does a new process
 * that got the holder's pid: both are what `kill -9` of a knarr leaves for a restart seconds later.
 */
function holderAlive(holder: LockHolder): boolean {
  const stat = procStat(holder.pid);
  if (stat) return stat.state !== 'Z' && (holder.startTime === null || stat.startTime === holder.startTime);
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function processStartTime(pid: number): string | null {
  return procStat(pid)?.startTime ?? null;
}

/** State and start time (clock ticks since boot) from /proc/<pid>/stat; null where there is no /proc or no such process. */
function procStat(pid: number): { state: string; startTime: string } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name in parentheses may hold spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', startTime: fields[19] ?? '' };
}

function describeApplied(n: number): string {
  return n === 0 ? ', schema up to date' : `, applied ${n} migration${n === 1 ? '' : 's'}`;
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable database URL)';
  }
}

/** The driver's message: drizzle's wrapper message repeats the whole query and its parameters. */
function messageOf(err: unknown): string {
  let e: unknown = err;
  while (e instanceof DrizzleQueryError && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
