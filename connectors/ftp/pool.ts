/**
 * Logged-in basic-ftp clients for one connector. A client does one thing at a time (one control
 * connection), so every operation borrows one from a small pool; one that died (socket error,
 * timeout, a transfer cut on purpose) is dropped and the next borrower gets a fresh login.
 */
import { isIP, Socket, type LookupFunction, type SocketConnectOpts } from 'node:net';
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { Client } from 'basic-ftp';
import { ConnectorError } from '../errors.js';
import { isPrivateAddress, privateAddressCode, publicOnlyLookup } from '../shared/privateNetworks.js';
import { serverRoot } from './paths.js';
import { toFtpError, type FtpErrorContext } from './errors.js';

export type FtpTls = 'none' | 'explicit' | 'implicit';

export interface FtpEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  root?: string;
  tls: FtpTls;
  ca?: string;
  insecureSkipVerify?: boolean;
}

export interface PoolOptions {
  /** Clients at most; borrowers beyond it wait. */
  size: number;
  /** Loopback, private and link-local addresses may be reached (HostPolicy.privateNetworks). */
  privateNetworks: boolean;
  remoteName: string;
  /** Control and data inactivity timeout of basic-ftp, ms. */
  timeoutMs: number;
  /** Tests: list with LIST only, as on a server without MLSD. */
  listOnly?: boolean;
}

/** One pooled client, with what the host policy refused on it (for the error's kind). */
export interface FtpConn {
  readonly client: Client;
  /** The server's FEAT answer, keys upper-case. */
  readonly features: Map<string, string>;
  refused?: string;
}

export class FtpPool {
  private idle: FtpConn[] = [];
  private count = 0;
  private waiters: Array<() => void> = [];
  private closed = false;
  /** The root as an absolute server path, known after the first login (a relative root is taken from the login folder). */
  base: string | undefined;

  constructor(
    private readonly ep: FtpEndpoint,
    private readonly opts: PoolOptions,
  ) {}

  errorContext(op: string, conn?: FtpConn): FtpErrorContext {
    return { op, remoteName: this.opts.remoteName, user: this.ep.user, host: this.ep.host, refused: conn?.refused };
  }

  /** Runs `fn` on a borrowed client; every failure comes out as a ConnectorError. */
  async use<T>(op: string, fn: (conn: FtpConn) => Promise<T>): Promise<T> {
    const conn = await this.acquire(op);
    try {
      const out = await fn(conn);
      this.release(conn);
      return out;
    } catch (err) {
      this.release(conn);
      throw toFtpError(err, this.errorContext(op, conn));
    }
  }

  async acquire(op: string): Promise<FtpConn> {
    for (;;) {
      if (this.closed) throw new ConnectorError('transient', `${op}: the connector is closed`);
      const ready = this.idle.pop();
      if (ready) {
        if (!ready.client.closed) return ready;
        this.count--;
        continue;
      }
      if (this.count < this.opts.size) {
        this.count++;
        try {
          return await this.connect(op);
        } catch (err) {
          this.count--;
          this.wakeOne();
          throw err;
        }
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Back to the pool, or dropped when dead (the next borrower logs in again). */
  release(conn: FtpConn): void {
    if (conn.client.closed || this.closed) {
      conn.client.close();
      this.count--;
    } else {
      this.idle.push(conn);
    }
    this.wakeOne();
  }

  /** Ends a client whose connection is in an unknown state (a transfer stopped halfway). */
  discard(conn: FtpConn): void {
    conn.client.close();
    this.release(conn);
  }

  close(): void {
    this.closed = true;
    for (const c of this.idle) c.client.close();
    this.count -= this.idle.length;
    this.idle = [];
    for (const w of this.waiters.splice(0)) w();
  }

  private wakeOne(): void {
    this.waiters.shift()?.();
  }

  private async connect(op: string): Promise<FtpConn> {
    const { ep, opts } = this;
    const client = new Client(opts.timeoutMs);
    const conn: { client: Client; features: Map<string, string>; refused?: string } = { client, features: new Map() };
    const ctx = () => this.errorContext(`${op}: connecting to ${ep.host}:${ep.port}`, conn);
    try {
      let address = ep.host;
      if (!opts.privateNetworks) {
        address = await resolvePublic(ep.host);
        guardSockets(client, (why) => (conn.refused = why));
      }
      await client.access({
        host: address,
        port: ep.port,
        user: ep.user,
        password: ep.password,
        secure: ep.tls === 'explicit' ? true : ep.tls === 'implicit' ? 'implicit' : false,
        secureOptions: tlsOptions(ep),
      });
      if (opts.listOnly) client.availableListCommands = ['LIST -a', 'LIST'];
      for (const [k, v] of await client.features()) conn.features.set(k.toUpperCase(), v);
      this.base ??= serverRoot(ep.root, await client.pwd());
      return conn;
    } catch (err) {
      client.close();
      throw toFtpError(err, ctx());
    }
  }
}

/** The server's certificate is checked against the configured host name even though the socket connects to its checked address. */
function tlsOptions(ep: FtpEndpoint): ConnectionOptions {
  return {
    ...(ep.ca ? { ca: ep.ca } : {}),
    rejectUnauthorized: ep.insecureSkipVerify !== true,
    ...(isIP(ep.host) ? {} : { servername: ep.host }),
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(ep.host, cert),
  };
}

/** The host's address when every address it resolves to is public; `forbidden` otherwise. */
async function resolvePublic(host: string): Promise<string> {
  if (isIP(host)) {
    if (isPrivateAddress(host)) throw privateError(`${host} is a private or local address, which remotes on this server may not reach`);
    return host;
  }
  return new Promise((resolve, reject) => {
    publicOnlyLookup(host, {}, (err, address) => {
      if (err) return reject(err.code === privateAddressCode ? privateError(err.message) : err);
      resolve(address as string);
    });
  });
}

function privateError(message: string): Error {
  return Object.assign(new Error(message), { code: privateAddressCode });
}

/**
 * Every socket basic-ftp opens for this client (control and data connections: a PASV answer
 * names its own address) refuses private addresses. basic-ftp already keeps data connections on
 * the control connection's host (EPSV uses it; a PASV naming another host is refused), so this is
 * the second lock on that door.
 */
export function guardSockets(client: Client, onRefused: (why: string) => void): void {
  const ftp = client.ftp as unknown as { _newSocket(): Socket };
  ftp._newSocket = () => {
    const socket = new Socket();
    const connect = socket.connect.bind(socket) as (opts: SocketConnectOpts, cb?: () => void) => Socket;
    (socket as { connect: unknown }).connect = (options: SocketConnectOpts, cb?: () => void) => {
      const host = (options as { host?: string }).host ?? 'localhost';
      if (isIP(host) ? isPrivateAddress(host) : false) {
        const why = `the server sent a data address ${host}, a private or local address, which remotes on this server may not reach`;
        onRefused(why);
        process.nextTick(() => socket.destroy(privateError(why)));
        return socket;
      }
      return connect({ ...options, lookup: publicOnlyLookup as unknown as LookupFunction } as SocketConnectOpts, cb);
    };
    return socket;
  };
}
