import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real server (S3 gateway, sshd, FTP control port, WebDAV), for the
 * crash tests: it counts the bytes each connection sends upstream, and can cut connections once
 * they have sent a given number of bytes, as a dropped link or a killed worker does. The server
 * keeps what it received before the cut, which is what a resume must not send again.
 */
export interface CutProxy {
  /** Where clients connect: 127.0.0.1 and this port. */
  readonly host: string;
  readonly port: number;
  /** Bytes sent upstream (client → server) by every connection since start or the last `resetCounts`. */
  readonly bytesUp: number;
  /** Bytes sent downstream (server → client). */
  readonly bytesDown: number;
  /** Connections accepted since start or the last `resetCounts`. */
  readonly connections: number;
  /**
   * Cuts every open and future connection once the proxy has carried `afterBytes` more upstream
   * bytes from now (counted over all connections), then disarms. Resolves when the cut happened.
   */
  cutAfter(afterBytes: number): Promise<void>;
  /** Cuts every open connection now. */
  cutAll(): void;
  resetCounts(): void;
  close(): Promise<void>;
}

/**
 * Proxies started with the same group share their counters, their armed cut and their open
 * connections: an FTP server's passive ports, where one upload's bytes cross several ports.
 */
export interface CutGroup {
  readonly kind: 'cut-group';
}

interface GroupState extends CutGroup {
  open: Set<Socket>;
  bytesUp: number;
  bytesDown: number;
  connections: number;
  armed: { at: number; done: () => void } | null;
}

export function cutGroup(): CutGroup {
  const state: GroupState = { kind: 'cut-group', open: new Set(), bytesUp: 0, bytesDown: 0, connections: 0, armed: null };
  return state;
}

/**
 * `listen` defaults to 127.0.0.1 on a free port. A fixed one serves protocols that hand out ports
 * (FTP passive mode): run the server on 127.0.0.2 and a proxy on 127.0.0.1 at each of its ports.
 */
export async function startCutProxy(target: { host: string; port: number }, listen: { host?: string; port?: number; group?: CutGroup } = {}): Promise<CutProxy> {
  const g = (listen.group ?? cutGroup()) as GroupState;
  const open = g.open;

  const cutAll = () => {
    for (const s of open) s.resetAndDestroy();
    open.clear();
  };

  const server: Server = createServer((client) => {
    g.connections++;
    const upstream = createConnection({ host: target.host, port: target.port });
    open.add(client);
    open.add(upstream);
    const drop = () => {
      open.delete(client);
      open.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (chunk: Buffer) => {
      if (g.armed && g.bytesUp + chunk.length >= g.armed.at) {
        // Forward exactly up to the cut point, so "the server holds N bytes" is certain.
        const keep = Math.max(0, g.armed.at - g.bytesUp);
        g.bytesUp += keep;
        const { done } = g.armed;
        g.armed = null;
        if (keep > 0) upstream.write(chunk.subarray(0, keep), () => { cutAll(); done(); });
        else { cutAll(); done(); }
        return;
      }
      g.bytesUp += chunk.length;
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (chunk: Buffer) => {
      g.bytesDown += chunk.length;
      if (!client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  return {
    host: listen.host ?? '127.0.0.1',
    port,
    get bytesUp() { return g.bytesUp; },
    get bytesDown() { return g.bytesDown; },
    get connections() { return g.connections; },
    cutAfter(afterBytes) {
      return new Promise<void>((resolve) => { g.armed = { at: g.bytesUp + afterBytes, done: resolve }; });
    },
    cutAll,
    resetCounts() {
      g.bytesUp = 0;
      g.bytesDown = 0;
      g.connections = 0;
      g.armed = null;
    },
    close() {
      cutAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
