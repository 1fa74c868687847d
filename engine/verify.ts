import type { HashType } from '../core/entry.js';
import { ConnectorError } from '../connectors/errors.js';
import { hashStream, isComputable } from '../connectors/shared/hashing.js';
import type { Connector } from '../connectors/types.js';

/**
 * A file's hash as the side holds it now: from the provider's listing where it stores that hash,
 * else by reading the file back. Never from what was sent.
 */
export async function hashOf(connector: Connector, path: string, type: HashType, signal: AbortSignal): Promise<string> {
  if (connector.capabilities.hashes.includes(type)) {
    const stored = (await connector.stat(path, { signal })).hashes[type];
    if (stored) return stored;
  }
  if (!isComputable(type)) {
    throw new ConnectorError('unsupported', `${connector.type} does not report a ${type} hash for ${JSON.stringify(path)} and knarr cannot compute one`);
  }
  return (await hashStream(await connector.read(path, { signal }), [type]))[type]!;
}
