import { jottacloudSettingsSchema, localConfigSchema, type RemoteType } from '../core/remote.js';
import { ConnectorError } from './errors.js';
import { createJottacloudConnector } from './jottacloud/index.js';
import { createLocalConnector } from './local/index.js';
import type { Connector } from './types.js';

/**
 * A remote's secrets as a connector sees them. `update` is single-writer across processes: it
 * runs `fn` under a row lock and stores the result in the same transaction (Jottacloud refresh
 * tokens rotate, and presenting a stale one kills the whole session).
 */
export interface CredentialStore {
  read(): Promise<Record<string, unknown>>;
  update(fn: (current: Record<string, unknown>) => Promise<Record<string, unknown>>): Promise<Record<string, unknown>>;
}

export interface ConnectorContext {
  /** The remote's name, for messages that tell the user which remote needs attention. */
  remoteName: string;
  credentials: CredentialStore;
}

export function createConnector(type: RemoteType, config: Record<string, unknown>, ctx: ConnectorContext): Connector {
  switch (type) {
    case 'local':
      return createLocalConnector(localConfigSchema.parse(config));
    case 'jottacloud':
      // The stored settings: the login token was split off into the credentials at creation.
      return createJottacloudConnector(jottacloudSettingsSchema.parse(config), ctx);
    default:
      throw new ConnectorError('unsupported', `remote "${ctx.remoteName}" has type "${type}", which this version of knarr cannot open`);
  }
}
