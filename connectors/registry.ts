import { ConnectorError } from './errors.js';
import { namingErrors } from './naming.js';
import { driveDefinition } from './drive/definition.js';
import { dropboxDefinition } from './dropbox/definition.js';
import { ftpDefinition } from './ftp/definition.js';
import { jottacloudDefinition } from './jottacloud/definition.js';
import { localDefinition } from './local/definition.js';
import { onedriveDefinition } from './onedrive/definition.js';
import { s3Definition } from './s3/definition.js';
import { sftpDefinition } from './sftp/definition.js';
import { webdavDefinition } from './webdav/definition.js';
import type { Connector, ConnectorContext, ConnectorDefinition } from './types.js';

/** Every provider this build of knarr can open. A new provider adds its definition here, and nothing else outside its folder. */
const definitions = new Map<string, ConnectorDefinition>(
  [localDefinition, jottacloudDefinition, s3Definition, webdavDefinition, sftpDefinition, ftpDefinition, driveDefinition, onedriveDefinition, dropboxDefinition].map((d) => [d.type, d]),
);

/**
 * Adds a connector in this process only (a bench's synthetic source, a test's fault connector).
 * Refuses to replace a listed one, so a typo cannot shadow a real provider.
 */
export function register(def: ConnectorDefinition): void {
  const existing = definitions.get(def.type);
  if (existing && existing !== def) throw new Error(`a connector of type "${def.type}" is already registered`);
  definitions.set(def.type, def);
}

export function findConnector(type: string): ConnectorDefinition | undefined {
  return definitions.get(type);
}

/** The registered types, in the order they were listed. */
export function connectorTypes(): string[] {
  return [...definitions.keys()];
}

/** Opens a remote from its stored settings (secrets arrive through `ctx.credentials`). */
export function createConnector(type: string, settings: Record<string, unknown>, ctx: ConnectorContext): Connector {
  const def = definitions.get(type);
  if (!def) throw new ConnectorError('unsupported', `remote "${ctx.remoteName}" has type "${type}", which this version of knarr cannot open`);
  return namingErrors(def.create(def.settingsSchema.parse(settings), ctx), ctx.remoteName);
}
