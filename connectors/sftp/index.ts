/**
 * The SFTP connector (ssh2, against OpenSSH and any SFTP v3 server): shared/specs/providers.md
 * A.6 for the protocol facts, C.4 for the test server. A pool of SSH connections (pool.ts),
 * pinned host keys (hostKey.ts), pipelined reads and writes, uploads into a hidden partial file
 * renamed into place with posix-rename (upload.ts, chunkWriter.ts), hashes through the server's
 * shell where it has one (shell.ts).
 */
import { Readable, addAbortSignal } from 'node:stream';
import type { FileEntryWithStats, Stats } from 'ssh2';
import type { Entry, Hashes } from '../../core/entry.js';
import { joinPath } from '../../core/paths.js';
import { ConnectorError } from '../errors.js';
import { emptyStream } from '../shared/streams.js';
import { checkedRange } from '../shared/ranges.js';
import { walkByListing } from '../shared/walk.js';
import type {
  About,
  Capabilities,
  ChunkWriter,
  ChunkWriterOptions,
  Connector,
  ConnectorContext,
  DeleteOptions,
  ListOptions,
  ReadOptions,
  UploadSource,
  UploadState,
  WriteOptions,
  WriteResult,
} from '../types.js';
import { openSftpChunkWriter } from './chunkWriter.js';
import { sftpStatus, statusOf, toSftpError } from './errors.js';
import { parseHostKey } from './hostKey.js';
import { checkedPath, isPartialName, isPartialNameOf, maxNameBytes, newPartialName, serverParent, SftpRoot } from './paths.js';
import { SftpPool } from './pool.js';
import type { SftpSession } from './session.js';
import { RemoteShell, type ShellHash } from './shell.js';
import { joinServer, uploadFile, type UploadPlace } from './upload.js';

export type { SftpUploadState } from './upload.js';
export type { SftpPartsState } from './chunkWriter.js';

/** The remote's settings as stored (password, privateKey and passphrase are secrets, kept in the credentials). */
export interface SftpConfig {
  host: string;
  port?: number;
  user: string;
  /** The server folder the remote names: absolute, or relative to the login folder ('' = the login folder). */
  root?: string;
  /** `SHA256:<base64>` as `ssh-keygen -lf` prints it, or the public key line; absent: every server is refused. */
  hostKey?: string;
}

export interface SftpConnectorOptions {
  /** SSH connections at most; parallel transfers share them. Default 8. */
  connections?: number;
}

export const sftpCapabilities: Capabilities = Object.freeze({
  // SFTP has no hash. md5sum/sha1sum over exec read the whole file on the server and exist only
  // where the account has a shell, so listings never carry a hash: none is declared, and the
  // engine checks copies with the MD5 it computes while streaming (or by reading back). Where
  // the shell exists, a resumed upload reports the server's own MD5 (entry.hashes), which saves
  // reading the file back over the network.
  hashes: [],
  hashBeforeUpload: null,
  // The partial file stays on the server; its size is what a resume goes on from.
  resumableUpload: true,
  // copy-data (OpenSSH ≥ 9.0), else `cp` through the shell, else streamed through knarr (see copy()).
  serverSideCopy: true,
  // posix-rename@openssh.com (plain rename elsewhere).
  serverSideMove: true,
  // The server's filesystem decides; POSIX servers are case-sensitive.
  caseInsensitive: false,
  // NAME_MAX in bytes (names are checked in bytes: see paths.ts).
  maxNameLength: maxNameBytes,
  // Anything but '/' and NUL, which core/paths.ts already refuses.
  nameRules: {},
  maxFileSize: null,
  // Checkpoints drain the pipelined writes and fsync: every 16 MiB keeps that bubble rare.
  preferredChunkSize: 16 * 1024 * 1024,
  // SFTP v3 carries whole seconds.
  mtimePrecisionMs: 1000,
  setModTime: true,
  recursiveList: false,
});

/** Parts of a large file written in parallel (openChunkWriter) when the engine does not say. */
const defaultPartSize = 32 * 1024 * 1024;
/** Bytes per READ request, and requests in flight per read stream. */
const readBlock = 128 * 1024;
const readDepth = 16;

export function createSftpConnector(config: SftpConfig, ctx: ConnectorContext, opts: SftpConnectorOptions = {}): SftpConnector {
  return new SftpConnector(config, ctx, opts);
}

const q = (p: string) => JSON.stringify(p);

export class SftpConnector implements Connector {
  readonly type = 'sftp';
  readonly capabilities = sftpCapabilities;
  private readonly pool: SftpPool;
  private readonly root: SftpRoot;
  readonly shell: RemoteShell;

  constructor(config: SftpConfig, ctx: ConnectorContext, opts: SftpConnectorOptions = {}) {
    const pin = config.hostKey ? parseHostKey(config.hostKey) : null;
    if (typeof pin === 'string') throw new ConnectorError('auth', `remote "${ctx.remoteName}": ${pin}`);
    this.pool = new SftpPool({
      host: config.host,
      port: config.port ?? 22,
      user: config.user,
      pin,
      remoteName: ctx.remoteName,
      privateNetworks: ctx.host.privateNetworks,
      credentials: ctx.credentials,
    }, opts.connections ?? 8);
    this.root = new SftpRoot(config.root ?? '');
    this.shell = new RemoteShell(this.pool);
  }

  // ---- reading the tree ----

  async *list(dir: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    const rel = checkedPath(dir, 'list');
    const op = `list ${q(rel)}`;
    const lease = await this.pool.lease(op);
    const s = lease.session;
    try {
      const handle = await s.opendir(this.root.full(rel)).catch(async (err: unknown) => {
        // OpenSSH answers NO_SUCH_FILE for a file too (ENOTDIR): say which it is.
        if (statusOf(err) === sftpStatus.NO_SUCH_FILE) {
          const st = await s.stat(this.root.full(rel)).catch(() => undefined);
          if (st && !st.isDirectory()) throw new ConnectorError('conflict', `${op}: is a file, not a folder`);
        }
        throw toSftpError(err, op);
      });
      try {
        while (true) {
          opts.signal?.throwIfAborted();
          const batch = await s.readdir(handle).catch((err: unknown) => Promise.reject(toSftpError(err, op)));
          if (!batch) break;
          const page = await this.entriesOf(s, rel, batch);
          if (page.length > 0) yield page;
        }
      } finally {
        await s.close(handle).catch(() => {});
      }
    } finally {
      lease.release();
    }
  }

  /** A readdir batch as entries: symlinks followed (a broken one left out), partial uploads and special files left out. */
  private async entriesOf(s: SftpSession, rel: string, batch: FileEntryWithStats[]): Promise<Entry[]> {
    const out: Entry[] = [];
    for (const f of batch) {
      if (f.filename === '.' || f.filename === '..' || isPartialName(f.filename)) continue;
      const path = joinPath(rel, f.filename);
      let attrs: Stats | undefined = f.attrs;
      if (attrs.isSymbolicLink()) attrs = await s.stat(this.root.full(path)).catch(() => undefined);
      if (!attrs || (!attrs.isFile() && !attrs.isDirectory())) continue;
      out.push(toEntry(path, attrs));
    }
    return out;
  }

  async *walk(root: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    yield* walkByListing(this, checkedPath(root, 'walk'), opts);
  }

  async stat(path: string, opts: ListOptions = {}): Promise<Entry> {
    const rel = checkedPath(path, 'stat');
    opts.signal?.throwIfAborted();
    const op = `stat ${q(rel)}`;
    return this.pool.use(op, async (s) => toEntry(rel, await s.stat(this.root.full(rel))));
  }

  /** The server's own digest of a file through its shell, or null where there is no shell. */
  async remoteHash(path: string, type: ShellHash, signal?: AbortSignal): Promise<string | null> {
    const rel = checkedPath(path, 'hash');
    return this.shell.hash(this.root.full(rel), type, signal);
  }

  // ---- bytes ----

  async read(path: string, opts: ReadOptions = {}): Promise<Readable> {
    const rel = checkedPath(path, 'read');
    const op = `read ${q(rel)}`;
    const { offset, length, signal } = checkedRange(op, opts);
    const lease = await this.pool.lease(op);
    const s = lease.session;
    let handle: Buffer | undefined;
    try {
      handle = await s.open(this.root.full(rel), 'r');
      const st = await s.fstat(handle);
      if (st.isDirectory()) throw new ConnectorError('conflict', `${op}: is a folder`);
      const end = Math.min(st.size, length === undefined ? Infinity : offset + length);
      if (end <= offset) {
        await s.close(handle).catch(() => {});
        lease.release();
        return emptyStream();
      }
      const stream = new PipelinedRead(s, handle, offset, end, op, lease.release);
      return signal ? addAbortSignal(signal, stream) : stream;
    } catch (err) {
      if (handle) await s.close(handle).catch(() => {});
      lease.release();
      throw toSftpError(err, op);
    }
  }

  async write(path: string, source: UploadSource, opts: WriteOptions = {}): Promise<WriteResult> {
    const rel = checkedPath(path, 'write');
    const op = `write ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root, not a file`);
    opts.signal?.throwIfAborted();
    const lease = await this.pool.lease(op);
    try {
      const result = await uploadFile(this.place(rel, lease.session), source, opts, this.capabilities.preferredChunkSize);
      return await this.withServerHash(result, opts.signal);
    } finally {
      lease.release();
    }
  }

  async openChunkWriter(path: string, source: Omit<UploadSource, 'open'>, opts: ChunkWriterOptions = {}): Promise<ChunkWriter> {
    const rel = checkedPath(path, 'write');
    const op = `write ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root, not a file`);
    const writer = await this.pool.use(op, (s) => openSftpChunkWriter(this.place(rel, s), (o) => this.pool.lease(o), source, opts, defaultPartSize));
    return { ...writer, close: async (signal) => this.withServerHash(await writer.close(signal), signal) };
  }

  /**
   * A resumed upload's first bytes were sent by an earlier attempt, so the engine cannot credit
   * the destination with the hash it streamed: where the server has a shell, its own MD5 of the
   * file proves the whole file without reading it back over the network.
   */
  private async withServerHash(result: WriteResult, signal?: AbortSignal): Promise<WriteResult> {
    if (result.resumedFrom === 0) return result;
    const md5 = await this.shell.hash(this.root.full(result.entry.path), 'md5', signal).catch(() => null);
    return md5 ? { ...result, entry: { ...result.entry, hashes: { ...result.entry.hashes, md5 } } } : result;
  }

  /** The partial files an unfinished upload of `path` left (the one the state names); the target is never touched. */
  async discardUpload(path: string, state: UploadState): Promise<void> {
    const rel = checkedPath(path, 'discard');
    const temp = (state as { temp?: unknown }).temp;
    if (rel === '' || !isPartialNameOf(temp, rel)) return;
    const op = `discard ${q(rel)}`;
    await this.pool.use(op, async (s) => {
      await s.unlink(joinServer(this.root.parentOf(rel), temp)).catch((err: unknown) => {
        if (statusOf(err) !== sftpStatus.NO_SUCH_FILE) throw err;
      });
    });
  }

  private place(rel: string, session: SftpSession): UploadPlace {
    return {
      rel,
      target: this.root.full(rel),
      folder: this.root.parentOf(rel),
      session,
      mkdirs: () => this.mkdirs(session, this.root.parentOf(rel), `write ${q(rel)}`),
      entryOf: (attrs) => ({ path: rel, isDir: false, size: attrs.size ?? 0, mtimeMs: (attrs.mtime ?? 0) * 1000, hashes: {} }),
    };
  }

  // ---- changing the tree ----

  async mkdir(path: string): Promise<void> {
    const rel = checkedPath(path, 'mkdir');
    const op = `mkdir ${q(rel)}`;
    await this.pool.use(op, (s) => this.mkdirs(s, this.root.full(rel), op));
  }

  /** mkdir -p: the folder first, its parents only when it says they are missing. */
  private async mkdirs(s: SftpSession, path: string, op: string): Promise<void> {
    let failure: unknown;
    try {
      await s.mkdir(path);
      return;
    } catch (err) {
      failure = err;
    }
    const parent = serverParent(path);
    if (statusOf(failure) === sftpStatus.NO_SUCH_FILE && parent !== null) {
      await this.mkdirs(s, parent, op);
      try {
        await s.mkdir(path);
        return;
      } catch (err) {
        failure = err;
      }
    }
    // FAILURE for EEXIST (and for much else): what is there decides.
    const st = await s.stat(path).catch(() => undefined);
    if (st?.isDirectory()) return;
    if (st) throw new ConnectorError('conflict', `${op}: a file is where the folder ${q(path)} must go`);
    throw toSftpError(failure, op);
  }

  /** Always permanent: SFTP has no trash. Folders go with everything in them. */
  async delete(path: string, _opts: DeleteOptions = {}): Promise<void> {
    const rel = checkedPath(path, 'delete');
    const op = `delete ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root`);
    await this.pool.use(op, async (s) => {
      const full = this.root.full(rel);
      const st = await s.stat(full);
      if (st.isDirectory()) await this.removeTree(s, full);
      else await s.unlink(full);
    });
  }

  private async removeTree(s: SftpSession, dir: string): Promise<void> {
    const handle = await s.opendir(dir);
    const children: FileEntryWithStats[] = [];
    try {
      for (let batch = await s.readdir(handle); batch; batch = await s.readdir(handle)) children.push(...batch);
    } finally {
      await s.close(handle).catch(() => {});
    }
    for (const c of children) {
      if (c.filename === '.' || c.filename === '..') continue;
      const child = joinServer(dir, c.filename);
      // lstat attributes: a symlink to a folder is removed as a link, never followed.
      if (c.attrs.isDirectory()) await this.removeTree(s, child);
      else await s.unlink(child);
    }
    await s.rmdir(dir);
  }

  async move(from: string, to: string): Promise<Entry> {
    const src = checkedPath(from, 'move');
    const dst = checkedPath(to, 'move');
    const op = `move ${q(src)} to ${q(dst)}`;
    if (src === '' || dst === '') throw new ConnectorError('invalid_name', `${op}: the remote's root cannot be moved or replaced`);
    return this.pool.use(op, async (s) => {
      await s.stat(this.root.full(src));
      await this.mkdirs(s, this.root.parentOf(dst), op);
      await s.rename(this.root.full(src), this.root.full(dst)).catch((err: unknown) => {
        if (statusOf(err) === sftpStatus.FAILURE) throw new ConnectorError('conflict', `${op}: the destination is in the way (a folder, or a folder that is not empty)`, { status: sftpStatus.FAILURE, cause: err });
        throw err;
      });
      return toEntry(dst, await s.stat(this.root.full(dst)));
    });
  }

  /**
   * A file copied on the server: the copy-data extension (OpenSSH ≥ 9.0) where offered, else `cp`
   * through the account's shell; a server with neither (an older chrooted sftp-only account)
   * gets the bytes read and written back through knarr, so `copy` works wherever it is declared.
   * Into a partial file first, then renamed, as every write.
   */
  async copy(from: string, to: string): Promise<Entry> {
    const src = checkedPath(from, 'copy');
    const dst = checkedPath(to, 'copy');
    const op = `copy ${q(src)} to ${q(dst)}`;
    if (src === '' || dst === '') throw new ConnectorError('invalid_name', `${op}: the remote's root cannot be copied or replaced`);
    const lease = await this.pool.lease(op);
    const s = lease.session;
    try {
      const st = await s.stat(this.root.full(src)).catch((err: unknown) => Promise.reject(toSftpError(err, op)));
      if (st.isDirectory()) throw new ConnectorError('unsupported', `${op}: folders are not copied server-side`);
      const folder = this.root.parentOf(dst);
      await this.mkdirs(s, folder, op);
      const tempPath = joinServer(folder, newPartialName(dst));
      const copied = s.has('copy-data') ? await this.copyData(s, this.root.full(src), tempPath, st.mtime * 1000) : await this.shell.copy(this.root.full(src), tempPath);
      if (!copied) {
        lease.release();
        const written = await this.write(to, { size: st.size, mtimeMs: st.mtime * 1000, hashes: {}, open: (offset) => this.read(from, { offset }) });
        return written.entry;
      }
      await s.rename(tempPath, this.root.full(dst)).catch(async (err: unknown) => {
        await s.unlink(tempPath).catch(() => {});
        throw err;
      });
      return toEntry(dst, await s.stat(this.root.full(dst)));
    } catch (err) {
      throw toSftpError(err, op);
    } finally {
      lease.release();
    }
  }

  private async copyData(s: SftpSession, from: string, temp: string, mtimeMs: number): Promise<boolean> {
    const src = await s.open(from, 'r');
    try {
      const dst = await s.open(temp, 'w');
      try {
        await s.copyData(src, dst);
        await s.futimes(dst, mtimeMs);
      } catch (err) {
        await s.close(dst).catch(() => {});
        await s.unlink(temp).catch(() => {});
        throw err;
      }
      await s.close(dst);
    } finally {
      await s.close(src).catch(() => {});
    }
    return true;
  }

  // ---- the account ----

  /** statvfs@openssh.com of the root, where the server offers it. */
  async about(): Promise<About> {
    return this.pool.use('about', async (s) => {
      if (!s.has('statvfs@openssh.com')) return { usedBytes: null, totalBytes: null, freeBytes: null, unlimited: false };
      const v = await s.statvfs(this.root.full(''));
      const unit = v.f_frsize || v.f_bsize;
      const total = v.f_blocks * unit;
      return { usedBytes: (v.f_blocks - v.f_bfree) * unit, totalBytes: total, freeBytes: Math.min(total, v.f_bavail * unit), unlimited: false };
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

function toEntry(path: string, attrs: Stats | { isDirectory(): boolean; size: number; mtime: number }): Entry {
  const isDir = attrs.isDirectory();
  const hashes: Hashes = {};
  return { path, isDir, size: isDir ? 0 : attrs.size, mtimeMs: attrs.mtime * 1000, hashes };
}

/**
 * A ranged read with several READ requests in flight (one at a time is one round trip per
 * block), handed on in order. Holds the session's lease until it ends.
 */
class PipelinedRead extends Readable {
  private next: number;
  private readonly queue: { data: Promise<Buffer>; len: number }[] = [];
  private pumping = false;
  private finished = false;

  constructor(
    private readonly s: SftpSession,
    private readonly handle: Buffer,
    start: number,
    private readonly end: number,
    private readonly op: string,
    private readonly release: () => void,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.next = start;
  }

  override _read(): void {
    this.fill();
    if (!this.pumping) void this.pump();
  }

  private fill(): void {
    while (!this.finished && this.queue.length < readDepth && this.next < this.end) {
      const len = Math.min(readBlock, this.end - this.next);
      const data = this.readFully(this.next, len);
      data.catch(() => {});
      this.queue.push({ data, len });
      this.next += len;
    }
  }

  private async readFully(position: number, len: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = await this.s.read(this.handle, buf.subarray(got), len - got, position + got);
      if (n === 0) break;
      got += n;
    }
    return got === len ? buf : buf.subarray(0, got);
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.destroyed) {
        const { data, len } = this.queue[0]!;
        const buf = await data;
        this.queue.shift();
        if (this.destroyed) return;
        // A short block: the file shrank since it was opened; it ends here.
        const last = buf.length < len || (this.queue.length === 0 && this.next >= this.end);
        const more = buf.length > 0 ? this.push(buf) : true;
        if (last) {
          this.finished = true;
          this.queue.length = 0;
          this.push(null);
          return;
        }
        this.fill();
        if (!more) return;
      }
    } catch (err) {
      this.destroy(toSftpError(err, this.op));
    } finally {
      this.pumping = false;
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.finished = true;
    this.s.close(this.handle).catch(() => {}).finally(() => {
      this.release();
      cb(err);
    });
  }
}
