/**
 * The FTP/FTPS connector (basic-ftp; shared/specs/providers.md A.6 and C.5): MLSD listings (LIST
 * where FEAT has no MLST), MLST or SIZE+MDTM for stat, REST+RETR for ranged reads, uploads as
 * one transfer per chunk into a partial file renamed into place (upload.ts), MFMT for times,
 * RNFR/RNTO for moves. Explicit (AUTH TLS) or implicit TLS, verified against the system's or the
 * remote's own CA.
 */
import { Readable, Writable } from 'node:stream';
import { FTPError, FileType, type FileInfo } from 'basic-ftp';
import type { Entry } from '../../core/entry.js';
import { joinPath } from '../../core/paths.js';
import { ConnectorError } from '../errors.js';
import { emptyStream } from '../shared/streams.js';
import { checkedRange } from '../shared/ranges.js';
import { walkByListing } from '../shared/walk.js';
import type { About, Capabilities, Connector, ConnectorContext, DeleteOptions, ListOptions, ReadOptions, UploadSource, UploadState, WriteOptions, WriteResult } from '../types.js';
import { toFtpError } from './errors.js';
import { ftpNameRules, ftpNames, ftpPath, isPartialName, joinServer, maxNameBytes, partialNameFor, serverParent, storedBase, type FtpPath } from './paths.js';
import { FtpPool, type FtpConn, type FtpTls } from './pool.js';
import { uploadFtp } from './upload.js';

export type { FtpUploadState } from './upload.js';

/** The remote's settings as stored (the password is a secret, kept in the credentials). */
export interface FtpConfig {
  host: string;
  port?: number;
  user: string;
  /** The folder on the server the remote names; relative to the login folder unless absolute. Default: the login folder. */
  root?: string;
  tls?: FtpTls;
  /** PEM of the CA (or self-signed certificate) to trust for TLS. */
  ca?: string;
  /** Accepts any TLS certificate: only for a server the user knows and cannot give a CA for. */
  insecureSkipVerify?: boolean;
  /** Logged-in connections at most (default 8). */
  connections?: number;
}

export interface FtpConnectorOptions {
  /** basic-ftp's inactivity timeout, ms (default 30 s). */
  timeoutMs?: number;
  /** List with LIST as on a server without MLSD (tests of the fallback). */
  listOnly?: boolean;
}

export const listPageSize = 1000;

export const ftpCapabilities: Capabilities = Object.freeze({
  // providers.md A.6: no server tested has HASH/XMD5/XCRC; the engine verifies by reading back.
  hashes: [],
  hashBeforeUpload: null,
  // SIZE of the partial file + APPE (upload.ts).
  resumableUpload: true,
  serverSideCopy: false,
  // RNFR/RNTO.
  serverSideMove: true,
  // Unix servers; a Windows server (IIS) would differ.
  caseInsensitive: false,
  // NAME_MAX of the server's filesystem; names are also checked in bytes (paths.ts).
  maxNameLength: maxNameBytes,
  nameRules: ftpNameRules,
  maxFileSize: null,
  // A data connection per chunk (upload.ts): large chunks keep that cost small.
  preferredChunkSize: 32 * 1024 * 1024,
  // MLSD's modify= and MDTM have whole seconds on pure-ftpd (RFC 3659 allows fractions).
  mtimePrecisionMs: 1000,
  // MFMT (pure-ftpd, pyftpdlib, vsftpd 3, ProFTPD); a server without it keeps the upload time.
  setModTime: true,
  recursiveList: false,
});

export function createFtpConnector(config: FtpConfig, ctx: ConnectorContext, opts: FtpConnectorOptions = {}): FtpConnector {
  return new FtpConnector(config, ctx, opts);
}

const q = (p: string) => JSON.stringify(p);

export class FtpConnector implements Connector {
  readonly type = 'ftp';
  readonly capabilities = ftpCapabilities;
  private readonly pool: FtpPool;
  /** Server folders known to exist, so a thousand writes into one folder do not MKD it a thousand times. */
  private readonly knownDirs = new Set<string>();
  private readonly ready: Promise<void>;

  constructor(config: FtpConfig, ctx: ConnectorContext, opts: FtpConnectorOptions = {}) {
    let password = '';
    this.pool = new FtpPool(
      {
        host: config.host,
        port: config.port ?? (config.tls === 'implicit' ? 990 : 21),
        user: config.user,
        get password() {
          return password;
        },
        root: config.root,
        tls: config.tls ?? 'none',
        ca: config.ca,
        insecureSkipVerify: config.insecureSkipVerify,
      },
      { size: config.connections ?? 8, privateNetworks: ctx.host.privateNetworks, remoteName: ctx.remoteName, timeoutMs: opts.timeoutMs ?? 30_000, listOnly: opts.listOnly },
    );
    // The password lives in the credentials; read once, kept only in memory.
    this.ready = ctx.credentials.read().then((secrets) => {
      password = typeof secrets.password === 'string' ? secrets.password : '';
    });
    this.ready.catch(() => {});
  }

  /** Runs `fn` on a logged-in client with the remote's root known. */
  private async use<T>(op: string, fn: (conn: FtpConn, base: string) => Promise<T>): Promise<T> {
    await this.secrets(op);
    return this.pool.use(op, (conn) => fn(conn, this.pool.base!));
  }

  private secrets(op: string): Promise<void> {
    return this.ready.catch((err: unknown) => {
      throw new ConnectorError('transient', `${op}: reading the remote's password failed: ${(err as Error).message}`);
    });
  }

  private abs(base: string, p: FtpPath): string {
    return p.stored === '' ? base : joinServer(base, p.stored);
  }

  // ---- reading the tree ----

  async *list(dir: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    const p = ftpPath(dir, 'list');
    const op = `list ${q(p.rel)}`;
    const infos = await this.use(op, async (conn, base) => {
      await conn.client.cd(this.abs(base, p));
      // No argument: a folder name with glob characters ([, *) is not read as a pattern.
      return conn.client.list();
    });
    const entries: Entry[] = [];
    for (const info of infos) {
      if (info.name === '.' || info.name === '..' || isPartialName(info.name)) continue;
      const e = entryOf(joinPath(p.rel, ftpNames.decode(info.name)), info);
      if (e) entries.push(e);
    }
    for (let i = 0; i < entries.length; i += listPageSize) {
      opts.signal?.throwIfAborted();
      yield entries.slice(i, i + listPageSize);
    }
  }

  walk(root: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    return walkByListing(this, root, opts);
  }

  async stat(path: string, opts: ListOptions = {}): Promise<Entry> {
    const p = ftpPath(path, 'stat');
    opts.signal?.throwIfAborted();
    return this.use(`stat ${q(p.rel)}`, (conn, base) => this.statAbs(conn, this.abs(base, p), p.rel));
  }

  /** MLST where FEAT has it; SIZE + MDTM (and CWD for folders) elsewhere. */
  private async statAbs(conn: FtpConn, abs: string, rel: string): Promise<Entry> {
    if (conn.features.has('MLST')) {
      const res = await conn.client.send(`MLST ${abs}`);
      const facts = parseMlst(res.message);
      if (facts) {
        const type = (facts.get('type') ?? '').toLowerCase();
        const isDir = type === 'dir' || type === 'cdir' || type === 'pdir';
        const modify = facts.get('modify');
        return { path: rel, isDir, size: isDir ? 0 : Number(facts.get('size') ?? 0), mtimeMs: modify ? mlsxTime(modify) : 0, hashes: {} };
      }
    }
    try {
      const size = await conn.client.size(abs);
      const mtime = conn.features.has('MDTM') ? await conn.client.lastMod(abs).catch(() => new Date(0)) : new Date(0);
      return { path: rel, isDir: false, size, mtimeMs: mtime.getTime(), hashes: {} };
    } catch (err) {
      if (!(err instanceof FTPError)) throw err;
      if (await this.isDir(conn, abs)) return { path: rel, isDir: true, size: 0, mtimeMs: 0, hashes: {} };
      throw err;
    }
  }

  async read(path: string, opts: ReadOptions = {}): Promise<Readable> {
    const p = ftpPath(path, 'read');
    const op = `read ${q(p.rel)}`;
    const { offset, length } = checkedRange(op, opts);
    await this.secrets(op);
    const conn = await this.pool.acquire(op);
    let abs: string;
    let size: number;
    try {
      abs = this.abs(this.pool.base!, p);
      const entry = await this.statAbs(conn, abs, p.rel);
      if (entry.isDir) throw new ConnectorError('conflict', `${op}: is a folder, not a file`);
      size = entry.size;
    } catch (err) {
      this.pool.release(conn);
      throw toFtpError(err, this.pool.errorContext(op, conn));
    }
    const want = Math.max(0, Math.min(size - offset, length ?? Infinity));
    if (want === 0) {
      this.pool.release(conn);
      return emptyStream();
    }
    return this.download(conn, op, abs, offset, want, opts.signal);
  }

  /** RETR from `offset` (REST), handing on `want` bytes with backpressure; the client is dropped when the transfer is cut short. */
  private download(conn: FtpConn, op: string, abs: string, offset: number, want: number, signal?: AbortSignal): Readable {
    let delivered = 0;
    let finished = false;
    let resumeSink: (() => void) | null = null;
    const out = new Readable({
      read() {
        const go = resumeSink;
        resumeSink = null;
        go?.();
      },
      destroy: (err, cb) => {
        signal?.removeEventListener('abort', onAbort);
        if (!finished) {
          finished = true;
          this.pool.discard(conn);
        }
        cb(err);
      },
    });
    const onAbort = () => out.destroy(signal!.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (delivered >= want) return cb();
        const piece = chunk.subarray(0, want - delivered);
        delivered += piece.length;
        const more = out.push(piece);
        if (delivered >= want) {
          // The rest of the file is not wanted: stop here, without waiting for the server.
          out.push(null);
          if (!finished) {
            finished = true;
            signal?.removeEventListener('abort', onAbort);
            conn.client.close();
            // A closed client leaves the pool on release.
            setImmediate(() => pool.release(conn));
          }
          return cb();
        }
        if (more) cb();
        else resumeSink = () => cb();
      },
    });
    const pool = this.pool;
    conn.client.downloadTo(sink, abs, offset).then(
      () => {
        if (finished) return;
        finished = true;
        signal?.removeEventListener('abort', onAbort);
        pool.release(conn);
        if (delivered < want) out.destroy(new ConnectorError('transient', `${op}: the server sent ${delivered} of ${want} bytes`));
        else out.push(null);
      },
      (err: unknown) => {
        if (finished) return;
        finished = true;
        signal?.removeEventListener('abort', onAbort);
        const mapped = toFtpError(err, pool.errorContext(op, conn));
        pool.discard(conn);
        out.destroy(mapped);
      },
    );
    return out;
  }

  // ---- writing ----

  async write(path: string, source: UploadSource, opts: WriteOptions = {}): Promise<WriteResult> {
    const p = ftpPath(path, 'write');
    const op = `write ${q(p.rel)}`;
    if (p.rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root, not a file`);
    opts.signal?.throwIfAborted();
    const base = await this.baseDir(op);
    const finalAbs = this.abs(base, p);
    const dirAbs = serverParent(finalAbs);
    const tempName = partialNameFor(storedBase(p));
    return uploadFtp(
      this.pool,
      { op, dirAbs, tempAbs: joinServer(dirAbs, tempName), tempName, finalAbs, source, opts, defaultChunkSize: this.capabilities.preferredChunkSize },
      {
        ensureDir: (conn, abs) => this.ensureDir(conn, abs),
        renameOver: (conn, from, to) => this.renameOver(conn, from, to),
        statAbs: (conn, abs) => this.statAbs(conn, abs, p.rel),
        forgetDir: (abs) => this.forgetDirs(abs),
      },
    );
  }

  async discardUpload(path: string, _state: UploadState): Promise<void> {
    const p = ftpPath(path, 'discardUpload');
    if (p.rel === '') return;
    // The partial file's name is derived from the target again, never taken from the state.
    await this.use(`discardUpload ${q(p.rel)}`, async (conn, base) => {
      const abs = this.abs(base, p);
      await conn.client.remove(joinServer(serverParent(abs), partialNameFor(storedBase(p)))).catch((err: unknown) => {
        if (!(err instanceof FTPError && err.code === 550)) throw err;
      });
    });
  }

  /** The root as a server path (logging in once if no client has yet). */
  private async baseDir(op: string): Promise<string> {
    if (this.pool.base === undefined) await this.use(op, async () => undefined);
    return this.pool.base!;
  }

  // ---- folders, delete, move ----

  async mkdir(path: string): Promise<void> {
    const p = ftpPath(path, 'mkdir');
    await this.use(`mkdir ${q(p.rel)}`, (conn, base) => this.ensureDir(conn, this.abs(base, p)));
  }

  /**
   * MKD, creating missing parents first; a folder already there is fine. Other connections make
   * the same folders at the same time, so a failed MKD is judged by what exists afterwards, never
   * by a parent that was missing a moment ago.
   */
  private async ensureDir(conn: FtpConn, abs: string): Promise<void> {
    if (abs === '/' || this.knownDirs.has(abs)) return;
    const mkd = async (): Promise<FTPError | null> => {
      try {
        await conn.client.send(`MKD ${abs}`);
        return null;
      } catch (err) {
        if (err instanceof FTPError) return err;
        throw err;
      }
    };
    let failure = await mkd();
    if (failure && !(await this.isDir(conn, abs))) {
      const parent = serverParent(abs);
      if (parent === abs) throw failure;
      await this.ensureDir(conn, parent);
      failure = await mkd();
      if (failure && !(await this.isDir(conn, abs))) throw failure;
    }
    this.knownDirs.add(abs);
  }

  private async isDir(conn: FtpConn, abs: string): Promise<boolean> {
    try {
      await conn.client.cd(abs);
      return true;
    } catch (err) {
      if (err instanceof FTPError) return false;
      throw err;
    }
  }

  private forgetDirs(abs: string): void {
    for (const d of this.knownDirs) if (d === abs || d.startsWith(`${abs}/`)) this.knownDirs.delete(d);
  }

  async delete(path: string, _opts: DeleteOptions = {}): Promise<void> {
    const p = ftpPath(path, 'delete');
    const op = `delete ${q(p.rel)}`;
    if (p.rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root`);
    // FTP has no trash: every delete is permanent.
    await this.use(op, async (conn, base) => {
      const abs = this.abs(base, p);
      const entry = await this.statAbs(conn, abs, p.rel);
      if (entry.isDir) {
        await this.removeTree(conn, abs);
        this.forgetDirs(abs);
      } else {
        await conn.client.remove(abs);
      }
    });
  }

  /** Depth first: files with DELE, folders with RMD once empty (partial files included). */
  private async removeTree(conn: FtpConn, abs: string): Promise<void> {
    await conn.client.cd(abs);
    const children = await conn.client.list();
    for (const c of children) {
      if (c.name === '.' || c.name === '..') continue;
      const child = joinServer(abs, c.name);
      if (c.type === FileType.Directory) await this.removeTree(conn, child);
      else await conn.client.remove(child);
    }
    await conn.client.send(`RMD ${abs}`);
  }

  async move(from: string, to: string): Promise<Entry> {
    const a = ftpPath(from, 'move');
    const b = ftpPath(to, 'move');
    const op = `move ${q(a.rel)} to ${q(b.rel)}`;
    if (a.rel === '' || b.rel === '') throw new ConnectorError('invalid_name', `${op}: the remote's root cannot be moved or replaced`);
    return this.use(op, async (conn, base) => {
      const fromAbs = this.abs(base, a);
      const toAbs = this.abs(base, b);
      const entry = await this.statAbs(conn, fromAbs, a.rel);
      await this.ensureDir(conn, serverParent(toAbs));
      await this.renameOver(conn, fromAbs, toAbs);
      if (entry.isDir) this.forgetDirs(fromAbs);
      return this.statAbs(conn, toAbs, b.rel);
    });
  }

  /** RNFR/RNTO; a server that will not rename over a file gets the file deleted first. */
  private async renameOver(conn: FtpConn, fromAbs: string, toAbs: string): Promise<void> {
    try {
      await conn.client.rename(fromAbs, toAbs);
    } catch (err) {
      if (!(err instanceof FTPError) || err.code < 450 || err.code === 530) throw err;
      const existing = await conn.client.size(toAbs).then(() => true, () => false);
      if (!existing) throw err;
      await conn.client.remove(toAbs);
      await conn.client.rename(fromAbs, toAbs);
    }
  }

  async copy(from: string, to: string): Promise<Entry> {
    throw new ConnectorError('unsupported', `copy ${q(from)} to ${q(to)}: FTP has no server-side copy`);
  }

  async about(): Promise<About> {
    // FTP reports no usage or quota (pure-ftpd's SITE QUOTA is specific and often off).
    return { usedBytes: null, totalBytes: null, freeBytes: null, unlimited: false };
  }

  async close(): Promise<void> {
    this.pool.close();
  }
}

/** A listing's entry, or null for what is neither file nor folder (a symlink LIST cannot resolve). */
function entryOf(path: string, info: FileInfo): Entry | null {
  const mtimeMs = info.modifiedAt?.getTime() ?? (Date.parse(info.rawModifiedAt) || 0);
  if (info.type === FileType.Directory) return { path, isDir: true, size: 0, mtimeMs, hashes: {} };
  if (info.type === FileType.File) return { path, isDir: false, size: info.size, mtimeMs, hashes: {} };
  return null;
}

/** The facts of an MLST answer (`250-…\n type=file;size=3;modify=…; /path\n250 End`), names lower-cased. */
export function parseMlst(message: string): Map<string, string> | null {
  const line = message.split(/\r?\n/).find((l) => l.startsWith(' '));
  if (!line) return null;
  const body = line.slice(1);
  const sep = body.indexOf('; ');
  const factText = sep >= 0 ? body.slice(0, sep) : body;
  const facts = new Map<string, string>();
  for (const f of factText.split(';')) {
    const eq = f.indexOf('=');
    if (eq > 0) facts.set(f.slice(0, eq).toLowerCase(), f.slice(eq + 1));
  }
  return facts.size > 0 ? facts : null;
}

/** RFC 3659 time-val, UTC: YYYYMMDDHHMMSS[.sss]. */
export function mlsxTime(v: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?$/.exec(v.trim());
  if (!m) return 0;
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms);
}
