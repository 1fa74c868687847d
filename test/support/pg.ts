import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

export interface TestDatabase {
  /** URL of the new database, for openDatabase({ url }) or DATABASE_URL of a child process. */
  url: string;
  name: string;
  /** Drops the database, cutting off any connection still open to it. Safe to call twice. */
  drop(): Promise<void>;
}

export function testPgBaseUrl(): string {
  return process.env.KNARR_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
}

/**
 * A fresh, empty database on the test server, so every test file (and every process of a crash
 * test) gets its own schema and no test sees another's rows. The name carries the pid so a
 * leftover from a killed run can be traced, plus randomness so parallel workers never collide.
 */
export async function createTestDatabase(prefix = 'knarr_test'): Promise<TestDatabase> {
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) throw new Error(`test database prefix must be a lower-case SQL identifier, got ${JSON.stringify(prefix)}`);
  const name = `${prefix}_${process.pid}_${randomBytes(5).toString('hex')}`;
  if (name.length > 63) throw new Error(`test database name ${name} is longer than PostgreSQL's 63 characters: shorten the prefix`);
  const base = testPgBaseUrl();
  await withMaintenance(base, (sql) => sql.unsafe(`CREATE DATABASE "${name}"`));
  const url = new URL(base);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await withMaintenance(base, async (sql) => {
        const [{ server_version_num: v }] = await sql<{ server_version_num: string }[]>`show server_version_num`;
        if (Number(v) >= 130000) {
          await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        } else {
          await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name} and pid <> pg_backend_pid()`;
          await sql.unsafe(`DROP DATABASE IF EXISTS "${name}"`);
        }
      });
    },
  };
}

async function withMaintenance<T>(base: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(base, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    return await fn(sql);
  } catch (err) {
    const where = new URL(base);
    if (where.password) where.password = '***';
    throw new Error(`test PostgreSQL at ${where} (set KNARR_TEST_PG_URL to change it): ${(err as Error).message}`, { cause: err });
  } finally {
    await sql.end({ timeout: 5 });
  }
}
