import { Client, type ConnectConfig } from 'ssh2';
import { ConnectorError } from '../errors.js';
import { privateAddressCode, publicOnlyLookup } from '../shared/privateNetworks.js';
import type { CredentialStore } from '../types.js';
import { connectError, toSftpError } from './errors.js';
import { fingerprintOf, hostKeyMatches, type HostKeyPin } from './hostKey.js';
import { SftpSession } from './session.js';

export interface SftpEndpoint {
  host: string;
  port: number;
  user: string;
  /** null: no hostKey configured, so every server is refused (with its fingerprint in the message). */
  pin: HostKeyPin | null;
  remoteName: string;
  privateNetworks: boolean;
  credentials: CredentialStore;
}

interface Conn {
  client: Client;
  session: SftpSession;
  active: number;
  dead: boolean;
}

export interface Lease {
  session: SftpSession;
  release(): void;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A few SSH connections, each with one SFTP session, shared by a connector's operations. OpenSSH
 * runs one sftp-server process per session and answers its requests in order, so parallel
 * transfers go to separate connections (least busy first, a new one while fewer than `max` are
 * open). A connection that dies is dropped: what was in flight on it fails as transient and the
 * next operation opens a new one.
 */
export class SftpPool {
  private readonly conns: Conn[] = [];
  private opening: Promise<Conn> | null = null;
  private closed = false;

  constructor(private readonly ep: SftpEndpoint, private readonly max: number) {}

  /** Runs `fn` on a session; SFTP and socket errors come out as ConnectorErrors named by `op`. */
  async use<T>(op: string, fn: (s: SftpSession) => Promise<T>): Promise<T> {
    const lease = await this.lease(op);
    try {
      return await fn(lease.session);
    } catch (err) {
      throw toSftpError(err, op);
    } finally {
      lease.release();
    }
  }

  /** A session held until `release` (a read stream, an upload), counted as busy meanwhile. */
  async lease(op: string): Promise<Lease> {
    const conn = await this.acquire(op);
    conn.active++;
    let released = false;
    return {
      session: conn.session,
      release: () => {
        if (!released) {
          released = true;
          conn.active--;
        }
      },
    };
  }

  /** Runs a command through the login shell of one connection (md5sum, cp). */
  async exec(op: string, command: string, signal?: AbortSignal): Promise<ExecResult> {
    const conn = await this.acquire(op);
    conn.active++;
    try {
      return await new Promise<ExecResult>((resolve, reject) => {
        conn.client.exec(command, (err, channel) => {
          if (err) return reject(err);
          let stdout = '';
          let stderr = '';
          const onAbort = () => channel.close();
          signal?.addEventListener('abort', onAbort, { once: true });
          channel.on('data', (d: Buffer) => void (stdout += d.toString('utf8')));
          channel.stderr.on('data', (d: Buffer) => void (stderr = (stderr + d.toString('utf8')).slice(-4096)));
          channel.on('close', (code: number | null) => {
            signal?.removeEventListener('abort', onAbort);
            if (signal?.aborted) return reject(signal.reason);
            resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
          });
          channel.end();
        });
      });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw toSftpError(err, op);
    } finally {
      conn.active--;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = this.conns.splice(0);
    const opening = this.opening;
    await opening?.then((c) => all.push(c), () => {});
    for (const c of all) {
      c.dead = true;
      c.client.end();
    }
  }

  private async acquire(op: string): Promise<Conn> {
    if (this.closed) throw new ConnectorError('transient', `${op}: the connector is closed`);
    let best: Conn | undefined;
    for (const c of this.conns) if (!c.dead && c.session.alive && (!best || c.active < best.active)) best = c;
    if (best && (best.active === 0 || this.conns.length >= this.max)) return best;
    if (this.opening) return best ?? this.opening;
    const opening = this.open(op);
    this.opening = opening;
    try {
      return await opening;
    } catch (err) {
      // A busy connection still serves; only a connector with none reports the failure.
      if (best && !best.dead && best.session.alive) return best;
      throw err;
    } finally {
      if (this.opening === opening) this.opening = null;
    }
  }

  private async open(op: string): Promise<Conn> {
    const { ep } = this;
    let seenFingerprint: string | undefined;
    const ctx = () => ({ remoteName: ep.remoteName, host: ep.host, port: ep.port, seenFingerprint, pinned: ep.pin !== null });
    const address = ep.privateNetworks ? ep.host : await publicAddress(ep.host, op);
    const secrets = await ep.credentials.read();
    const config: ConnectConfig = {
      host: address,
      port: ep.port,
      username: ep.user,
      readyTimeout: 20_000,
      // A dead peer (a dropped NAT mapping) is noticed within about 30 s instead of never.
      keepaliveInterval: 10_000,
      keepaliveCountMax: 3,
      tryKeyboard: false,
      hostVerifier: (key: Buffer) => {
        seenFingerprint = fingerprintOf(key);
        return ep.pin !== null && hostKeyMatches(ep.pin, key);
      },
    };
    if (typeof secrets.privateKey === 'string') {
      config.privateKey = secrets.privateKey;
      if (typeof secrets.passphrase === 'string') config.passphrase = secrets.passphrase;
    } else if (typeof secrets.password === 'string') {
      config.password = secrets.password;
    } else {
      throw new ConnectorError('auth', `${op}: remote "${ep.remoteName}" has neither a password nor a private key; update its credentials`);
    }

    const client = new Client();
    const conn = await new Promise<Conn>((resolve, reject) => {
      let settled = false;
      client.on('error', (err) => {
        if (!settled) {
          settled = true;
          reject(connectError(err, op, ctx()));
        }
      });
      client.on('close', () => {
        if (!settled) {
          settled = true;
          reject(new ConnectorError('transient', `${op}: ${ep.host}:${ep.port} closed the connection during login`));
        }
      });
      client.on('ready', () => {
        client.sftp((err, sftp) => {
          if (settled) return;
          settled = true;
          if (err) {
            client.end();
            return reject(new ConnectorError('unsupported', `${op}: ${ep.host}:${ep.port} has no SFTP subsystem for user ${ep.user}: ${err.message}`, { cause: err }));
          }
          // Without a listener an 'error' of the session would throw; the client's own handlers drop it.
          sftp.on('error', () => {});
          resolve({ client, session: new SftpSession(sftp), active: 0, dead: false });
        });
      });
      try {
        client.connect(config);
      } catch (err) {
        settled = true;
        reject(connectError(err, op, ctx()));
      }
    });
    const drop = () => {
      conn.dead = true;
      const i = this.conns.indexOf(conn);
      if (i >= 0) this.conns.splice(i, 1);
    };
    client.on('close', drop);
    client.on('error', drop);
    if (this.closed) {
      client.end();
      throw new ConnectorError('transient', `${op}: the connector is closed`);
    }
    this.conns.push(conn);
    return conn;
  }
}

/** The host's address when it is public; forbidden for loopback, private and link-local ones. */
function publicAddress(host: string, op: string): Promise<string> {
  return new Promise((resolve, reject) => {
    publicOnlyLookup(host, {}, (err, address) => {
      if (!err) return resolve(address as string);
      if (err.code === privateAddressCode) return reject(new ConnectorError('forbidden', `${op}: ${err.message}`));
      reject(new ConnectorError('transient', `${op}: cannot resolve ${host}: ${err.message}`, { cause: err }));
    });
  });
}
