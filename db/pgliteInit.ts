/**
 * Child process of db/client.ts: creates an embedded database directory (initdb) and exits.
 * initdb grows PGlite's WebAssembly memory to several hundred MB, which a process never gives
 * back; done here, the long-lived knarr process only ever opens an existing directory.
 */
import { PGlite } from '@electric-sql/pglite';

const dir = process.argv[2];
if (!dir) throw new Error('usage: pgliteInit.ts <data dir>');
const pg = await PGlite.create(dir);
await pg.close();
