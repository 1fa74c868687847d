import 'vitest';

// Values test/support/globalSetup.ts hands to every test file through inject().
declare module 'vitest' {
  export interface ProvidedContext {
    /** host:port of the shared Temporal dev server (in memory, namespace `default`). */
    temporalAddress: string;
    /** The temporal binary, for tests that start servers of their own. */
    temporalCliPath: string;
    /** A PostgreSQL database created for this run and dropped after it. */
    databaseUrl: string;
    /**
     * temporal-server, temporal-sql-tool and their schema (scripts/install-temporal-server.sh),
     * for test/support/temporalServer.ts; `unavailable: <why>` when the script failed.
     */
    temporalServerDir: string;
  }
}
