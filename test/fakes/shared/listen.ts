/**
 * Starts an emulator's one listener: plain HTTP on a loopback port, or HTTPS with a fresh CA whose
 * leaf names the provider's real hosts (the emulator routes by Host header, so one listener serves
 * every host of the provider). Settings suit a storage emulator: slow uploads are never timed out,
 * and idle keep-alive connections outlive a client's pool so no request races a server-side close.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { makeTls } from './tls.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface ListenOptions {
  host?: string;
  port?: number;
  /** HTTPS for these host names (plus the bind address, localhost and 127.0.0.1). */
  tls?: { hosts: readonly string[] };
}

export interface Listening {
  /** `http://127.0.0.1:PORT`, or `https://ADDRESS[:PORT]`. */
  url: string;
  /** PEM of the generated CA, with `tls`. */
  caCert?: string;
  address: string;
  port: number;
  server: Server;
  /** Closes the listener and every open connection. */
  close(): Promise<void>;
}

export async function listenOn(handler: Handler, opts: ListenOptions = {}): Promise<Listening> {
  const host = opts.host ?? '127.0.0.1';
  const tls = opts.tls ? makeTls(opts.tls.hosts, [host]) : undefined;
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handler(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`emulator error: ${String(err)}`);
      } else res.destroy();
    });
  };
  const server: Server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, listener) : createHttpServer(listener);
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.timeout = 0;
  server.keepAliveTimeout = 65_000;
  const sockets = new Set<Socket>();
  server.on(tls ? 'secureConnection' : 'connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `${tls ? 'https' : 'http'}://${urlHost}${(tls && port === 443) || (!tls && port === 80) ? '' : `:${port}`}`;
  return {
    url,
    caCert: tls?.caCert,
    address: host,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The request body as a Buffer (for JSON and form bodies; uploads stream instead). */
export async function readBody(req: IncomingMessage, limit = 16 * 1024 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req) {
    n += (chunk as Buffer).length;
    if (n > limit) throw new Error(`request body over ${limit} bytes`);
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}
