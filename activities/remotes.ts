import { eq, sql } from 'drizzle-orm';
import { createConnector } from '../connectors/registry.js';
import type { Connector, CredentialStore } from '../connectors/types.js';
import type { ActivityDeps } from './deps.js';
import type { Db } from '../db/client.js';
import type { CredentialCipher } from '../db/credentials.js';
import { getRemote } from '../db/queries/remotes.js';
import { remotes } from '../db/schema.js';

/** The one place credentials are decrypted: inside an activity, for the connector that needs them. */
export async function openRemote(deps: ActivityDeps, remoteId: string, onWrite?: (version: number) => void): Promise<Connector> {
  const row = await getRemote(deps.db, remoteId);
  return createConnector(row.type, row.config, { remoteName: row.name, credentials: credentialStore(deps.db, deps.cipher, remoteId, onWrite), host: deps.host });
}

/**
 * A remote's credentials in PostgreSQL: `update` holds the row lock (SELECT … FOR UPDATE) while
 * `fn` runs and stores its result in the same transaction, so token refreshes are single-writer
 * across worker processes.
 */
export function credentialStore(db: Db, cipher: CredentialCipher, remoteId: string, onWrite?: (version: number) => void): CredentialStore {
  const open = (sealed: Buffer | null) => (sealed ? (cipher.open(sealed, remoteId) as Record<string, unknown>) : {});
  return {
    async read() {
      const [row] = await db.select({ credentials: remotes.credentials }).from(remotes).where(eq(remotes.id, remoteId));
      return open(row?.credentials ?? null);
    },
    async update(fn) {
      return db.transaction(async (tx) => {
        const [row] = await tx.select({ credentials: remotes.credentials }).from(remotes).where(eq(remotes.id, remoteId)).for('update');
        const next = await fn(open(row?.credentials ?? null));
        const [written] = await tx.update(remotes).set({
          credentials: cipher.seal(next, remoteId),
          credentialsVersion: sql`${remotes.credentialsVersion} + 1`,
          updatedAt: new Date(),
        }).where(eq(remotes.id, remoteId)).returning({ version: remotes.credentialsVersion });
        if (written) onWrite?.(written.version);
        return next;
      });
    },
  };
}
