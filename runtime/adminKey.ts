import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keyPrefix, newApiKey, type KeyHasher } from '../api/keys.js';
import type { Db } from '../db/client.js';
import { adminHasLiveKey, adminUserId, insertKey } from '../db/queries/users.js';

export const adminKeyFile = 'admin.key';

/**
 * The admin's key on first start: KNARR_ADMIN_KEY when set (stored at every start, so an operator
 * who lost every key sets it and is let in again), otherwise, when the admin has no live key, a
 * new one, printed this once and written 0600 to the data directory for the CLI on this machine.
 */
export async function ensureAdminKey(opts: { db: Db; hasher: KeyHasher; adminKey: string | null; dataDir: string; log: (msg: string) => void }): Promise<void> {
  if (opts.adminKey) {
    await insertKey(opts.db, adminUserId, opts.hasher.hash(opts.adminKey), keyPrefix(opts.adminKey));
    return;
  }
  if (await adminHasLiveKey(opts.db)) return;
  const key = newApiKey();
  await insertKey(opts.db, adminUserId, opts.hasher.hash(key), keyPrefix(key));
  const file = join(opts.dataDir, adminKeyFile);
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  opts.log(`admin API key, shown this once (also in ${file}, readable only by you): ${key}`);
}
