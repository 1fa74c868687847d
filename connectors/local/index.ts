import { constants } from 'node:fs';
import { lstat, open, rm, stat, statfs, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, addAbortSignal } from 'node:stream';
import type { Entry } from '../../core/entry.js';
import { ConnectorError } from '../errors.js';
import { unrestrictedHost } from '../types.js';
import { walkByListing } from '../shared/walk.js';
import type {
  About,
  ChunkWriter,
  ChunkWriterOptions,
  Capabilities,
  Connector,
  HostPolicy,
  ListOptions,
  ReadOptions,
  UploadSource,
  WriteOptions,
  WriteResult,
} from '../types.js';
import { errnoCode, invalidName, mapFsError } from './errors.js';
import { baseName, parentPath } from '../../core/paths.js';
import { syncLocal } from './sync.js';
import { listDir, toEntry } from './list.js';
import { moveLocal, copyLocal } from './move-copy.js';
import { LocalRoot, maxNameBytes, partialNameFor } from './paths.js';
import { writeLocal } from './write.js';
import { openLocalChunkWriter } from './chunkWriter.js';
import { readWhole } from './fsThreads.js';
import { emptyStream } from '../shared/streams.js';
import { checkedRange } from '../shared/ranges.js';

export type { LocalUploadState } from './write.js';

export interface LocalConfig {
  /** A folder on this machine or a mounted NAS share; it must exist. */
  root: string;
}

/** Files up to this size are read in one call to a filesystem thread instead of through a stream. */
const smallReadBytes = 1 << 20;

export const localCapabilities: Capabilities = Object.freeze({
  // Nothing is stored beside the bytes: every hash needs a read.
  hashes: [],
  hashBeforeUpload: null,
  resumableUpload: true,
  serverSideCopy: true,
  serverSideMove: true,
  // Case-insensitive mounts (SMB, exFAT) exist; detecting them reliably needs a write probe.
  caseInsensitive: false,
  // Bytes, not characters: a name of 255 Norwegian letters is refused (invalid_name) on ext4.
  maxNameLength: maxNameBytes,
  // POSIX stores any name but "/" and NUL, which core/paths.ts already refuses.
  nameRules: {},
  maxFileSize: null,
  preferredChunkSize: 8 * 1024 * 1024,
  mtimePrecisionMs: 1,
  setModTime: true,
  recursiveList: false,
});

/**
 * A folder as a remote. Deletes are permanent (a folder has no trash). Symlinks pointing inside
 * the root are followed when addressed; listings show symlinks to files inside the root as those
 * files and leave out every other symlink (see list.ts). Nothing may leave the root: see paths.ts.
 */
export function createLocalConnector(config: LocalConfig, host: HostPolicy = unrestrictedHost): Connector {
  return new LocalConnector(new LocalRoot(config.root, host));
}

class LocalConnector implements Connector {
  readonly type = 'local';
  readonly capabilities = localCapabilities;

  constructor(private readonly root: LocalRoot) {}

  // Generators, so a bad path fails where the pages are read, like every other error of a listing.
  async *list(dir: string, opts?: ListOptions): AsyncIterable<Entry[]> {
    yield* listDir(this.root, this.root.normalize(dir, 'list'), opts);
  }

  async *walk(root: string, opts?: ListOptions): AsyncIterable<Entry[]> {
    yield* walkByListing(this, this.root.normalize(root, 'walk'), opts);
  }

  async stat(path: string): Promise<Entry> {
    const rel = this.root.normalize(path, 'stat');
    const real = await this.root.existing(rel, 'stat');
    const st = await stat(real).catch((err: unknown) => Promise.reject(mapFsError(err, 'stat', rel)));
    if (!st.isFile() && !st.isDirectory()) throw notRegular('stat', rel);
    return toEntry(rel, st);
  }

  async read(path: string, opts: ReadOptions = {}): Promise<Readable> {
    const rel = this.root.normalize(path, 'read');
    const { offset, length } = checkedRange(`read ${JSON.stringify(rel)}`, opts, rel);
    const small = await this.readSmall(rel, offset, length);
    if (small) return small.length === 0 ? emptyStream() : Readable.from([small], { objectMode: false });
    const fh = await this.openForRead(rel);
    try {
      // fstat of what was opened, not stat of a path: nothing can be swapped in between.
      const st = await fh.stat();
      if (st.isDirectory()) throw new ConnectorError('conflict', `read ${JSON.stringify(rel)}: is a folder`);
      if (!st.isFile()) throw notRegular('read', rel);
      const want = Math.max(0, Math.min(length ?? Infinity, st.size - offset));
      if (want === 0) {
        await fh.close();
        return emptyStream();
      }
      const stream = fh.createReadStream({ start: offset, end: offset + want - 1, highWaterMark: 1 << 20 });
      return opts.signal ? addAbortSignal(opts.signal, stream) : stream;
    } catch (err) {
      await fh.close().catch(() => {});
      throw mapFsError(err, 'read', rel);
    }
  }

  /**
   * The common case in one call to a filesystem thread: a regular file of at most smallReadBytes
   * in a folder already known. Null sends everything else (a large file, a symlink, a folder gone
   * missing, any error) down the careful path below, which decides and names the error.
   */
  private async readSmall(rel: string, offset: number, length: number | undefined): Promise<Buffer | null> {
    try {
      const parent = await this.root.realDir(parentPath(rel), 'read');
      const answer = await readWhole(parent, baseName(rel), offset, length, smallReadBytes);
      if (answer.kind === 'file') return answer.data;
      if (answer.kind === 'dir') throw new ConnectorError('conflict', `read ${JSON.stringify(rel)}: is a folder`);
      if (answer.kind === 'special') throw notRegular('read', rel);
      return null;
    } catch (err) {
      if (err instanceof ConnectorError && (err.kind === 'conflict' || err.kind === 'unsupported')) throw err;
      return null;
    }
  }

  /**
   * Opens a file inside its remembered parent folder without following a final symlink, and
   * non-blocking, so a FIFO cannot hang the open; a symlink takes the careful path that checks
   * where it leads.
   */
  private async openForRead(rel: string): Promise<FileHandle> {
    const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
    const parentRel = parentPath(rel);
    try {
      const parent = await this.root.realDir(parentRel, 'read');
      return await open(join(parent, baseName(rel)), flags);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ELOOP') return open(await this.root.existing(rel, 'read'), flags & ~constants.O_NOFOLLOW).catch((e: unknown) => Promise.reject(mapFsError(e, 'read', rel)));
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        // Either the file is not there or the remembered folder went away: ask again, carefully.
        this.root.forget(parentRel);
        const real = await this.root.existing(rel, 'read');
        return open(real, flags & ~constants.O_NOFOLLOW).catch((e: unknown) => Promise.reject(mapFsError(e, 'read', rel)));
      }
      throw err instanceof ConnectorError ? err : mapFsError(err, 'read', rel);
    }
  }

  write(path: string, source: UploadSource, opts: WriteOptions = {}): Promise<WriteResult> {
    return writeLocal(this.root, path, source, opts, localCapabilities.preferredChunkSize);
  }

  async sync(paths: readonly string[], signal?: AbortSignal): Promise<void> {
    await syncLocal(this.root, paths, signal);
  }

  async mkdir(path: string): Promise<void> {
    await this.root.ensureDir(this.root.normalize(path, 'mkdir'), 'mkdir');
  }

  /** Always permanent: `opts.permanent` cannot ask for a trash that does not exist. */
  /** The hidden partials a write or a parts upload of `path` collects its bytes in; the target itself is never touched. */
  async discardUpload(path: string): Promise<void> {
    const rel = this.root.normalize(path, 'discard');
    if (rel === '') return;
    let parent: string;
    try {
      parent = await this.root.realDir(parentPath(rel), 'discard');
    } catch (err) {
      if (err instanceof ConnectorError && err.kind === 'not_found') return;
      throw err;
    }
    for (const purpose of ['write', 'parts'] as const) {
      await unlink(join(parent, partialNameFor(baseName(rel), purpose))).catch((err: unknown) => {
        if (errnoCode(err) !== 'ENOENT') throw mapFsError(err, 'discard', rel);
      });
    }
  }

  async delete(path: string): Promise<void> {
    const rel = this.root.normalize(path, 'delete');
    if (rel === '') throw invalidName('delete', path, "is the remote's root");
    const abs = await this.root.itself(rel, 'delete');
    try {
      // rm does not follow symlinks inside the tree: a link to elsewhere is removed, not its target.
      if ((await lstat(abs)).isDirectory()) {
        this.root.forget(rel);
        await rm(abs, { recursive: true });
      } else await unlink(abs);
    } catch (err) {
      throw mapFsError(err, 'delete', rel);
    }
  }

  move(from: string, to: string): Promise<Entry> {
    return moveLocal(this.root, from, to);
  }

  openChunkWriter(path: string, source: Omit<UploadSource, 'open'>, opts: ChunkWriterOptions = {}): Promise<ChunkWriter> {
    return openLocalChunkWriter(this.root, path, source, opts, localCapabilities.preferredChunkSize);
  }

  copy(from: string, to: string): Promise<Entry> {
    return copyLocal(this.root, from, to);
  }

  async about(): Promise<About> {
    const root = await this.root.root();
    const fs = await statfs(root).catch((err: unknown) => Promise.reject(mapFsError(err, 'about', '')));
    return {
      usedBytes: (fs.blocks - fs.bfree) * fs.bsize,
      totalBytes: fs.blocks * fs.bsize,
      // bavail, not bfree: the blocks reserved for root are not ours to fill.
      freeBytes: fs.bavail * fs.bsize,
      unlimited: false,
    };
  }

  async close(): Promise<void> {
    // Nothing held between calls: every handle is closed by the call (or stream) that opened it.
  }
}

function notRegular(op: string, rel: string): ConnectorError {
  return new ConnectorError('unsupported', `${op} ${JSON.stringify(rel)}: not a regular file or folder (a socket, FIFO or device)`);
}
