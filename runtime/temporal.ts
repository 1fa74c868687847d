import { Client, Connection } from '@temporalio/client';
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
