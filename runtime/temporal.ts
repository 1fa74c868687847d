import { Client, Connection } from '@temporalio/client';
// A CommonJS package whose named exports Node's ESM loader cannot see (the bundle runs as ESM).
import proto from '@temporalio/proto';
import { searchAttributes } from '../core/searchAttributes.js';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from './config.js';

export interface TemporalConnections {
  client: Client;
  native: NativeConnection;
  close(): Promise<void>;
}

export async function connectTemporal(address: string, cfg: Config['temporal'], opts: { worker: boolean }): Promise<TemporalConnections> {
  const tls = cfg.tls ?? undefined;
  const connection = await Connection.connect({ address, tls });
  const client = new Client({ connection, namespace: cfg.namespace });
  const native = opts.worker ? await NativeConnection.connect({ address, tls }) : null;
  return {
    client,
    get native(): NativeConnection {
      if (!native) throw new Error('this process has no worker connection');
      return native;
    },
    async close() {
      await native?.close();
      await connection.close();
    },
  };
}

/**
 * Registers knarr's search attributes (core/searchAttributes.ts) on the namespace, once: the dev
 * server and a cluster alike refuse a workflow that carries one they do not know. Attributes
 * already there are left alone, so this is safe at every start of every process.
 */
export async function ensureSearchAttributes(client: Client, namespace: string): Promise<void> {
  const { keyNameToIndexedValueType: custom } = await client.connection.operatorService.listSearchAttributes({ namespace }).then((r) => ({ keyNameToIndexedValueType: r.customAttributes ?? {} }));
  const missing = Object.values(searchAttributes).filter((k) => !(k.name in custom));
  if (missing.length === 0) return;
  try {
    await client.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
  } catch (err) {
    // Another knarr process registered them meanwhile.
    if ((err as { code?: number }).code !== 6) throw err;
  }
}
