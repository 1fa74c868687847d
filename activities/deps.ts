import type { Connector, HostPolicy } from '../connectors/types.js';
import type { OAuthSetup } from '../connectors/oauthConnect.js';
import type { Db } from '../db/client.js';
import type { CredentialCipher } from '../db/credentials.js';
import { openRemote } from './remotes.js';

/** What every activity needs, handed in by the runtime (or a test). */
export interface ActivityDeps {
  db: Db;
  cipher: CredentialCipher;
  /** What remotes may reach of this machine (runtime/config.ts). */
  host: HostPolicy;
  /** Where a person approves a reconnect (a waiting run names the link); absent: the run names the API call instead. */
  oauth?: OAuthSetup;
}

/** Opens fresh connectors for the length of `fn` and always closes them (remote checks, which must see new credentials). */
export async function withConnectors<T>(deps: ActivityDeps, remoteIds: readonly string[], fn: (connectors: Connector[]) => Promise<T>): Promise<T> {
  const connectors: Connector[] = [];
  try {
    for (const id of remoteIds) connectors.push(await openRemote(deps, id));
    return await fn(connectors);
  } finally {
    await Promise.allSettled(connectors.map((c) => c.close()));
  }
}
