import type { Connector } from '../connectors/types.js';
import type { Db } from '../db/client.js';
import type { CredentialCipher } from '../db/credentials.js';
import { openRemote } from './remotes.js';

/** What every activity needs, handed in by the runtime (or a test). */
export interface ActivityDeps {
  db: Db;
  cipher: CredentialCipher;
}

export function connectorOpener(deps: ActivityDeps): (remoteId: string) => Promise<Connector> {
  return (remoteId) => openRemote(deps.db, deps.cipher, remoteId);
}

/** Opens connectors for the length of `fn` and always closes them. */
export async function withConnectors<T>(deps: ActivityDeps, remoteIds: readonly string[], fn: (connectors: Connector[]) => Promise<T>): Promise<T> {
  const open = connectorOpener(deps);
  const connectors: Connector[] = [];
  try {
    for (const id of remoteIds) connectors.push(await open(id));
    return await fn(connectors);
  } finally {
    await Promise.allSettled(connectors.map((c) => c.close()));
  }
}
