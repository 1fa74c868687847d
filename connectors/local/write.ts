import { constants } from 'node:fs';
import { lstat, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { baseName, parentPath } from '../../core/paths.js';
import { ConnectorError, isConnectorError } from '../errors.js';
import { MultiHash } from '../shared/hashing.js';
import { driveUpload, type UploadSession } from '../shared/upload.js';
import type { UploadSource, UploadState, WriteOptions, WriteResult } from '../types.js';
import { errnoCode, invalidName, mapFsError } from './errors.js';
import { toEntry } from './list.js';
import { partialNameFor, type LocalRoot } from './paths.js';

/** `tempName` is informative: the partial file's name is always derived from the target again. */
export interface LocalUploadState extends UploadState {
  offset: number;
  tempName: string;
}

/**
 * utimes takes seconds as a double, and Node truncates the fraction to nanoseconds, so ms/1000
 * lands a few ns below the millisecond half the time. Half a microsecond on top keeps the ms exact.
 */
export function utimeSeconds(mtimeMs: number): number {
  return mtimeMs / 1000 + 5e-7;
}

type FsCall = <T>(p: Promise<T>) => Promise<T>;

/**
 * Streams `source` into a hidden partial file beside the target and renames it into place once
 * every byte is there, so no reader ever sees half a file. A failed or aborted write leaves the
 * partial file for a resume; one whose source delivered the wrong number of bytes removes it.
 * The loop and its guards are the shared upload driver's; this is the session on disk.
 */
export async function writeLocal(
  root: LocalRoot,
  path: string,
  source: UploadSource,
  opts: WriteOptions,
  defaultChunkSize: number,
): Promise<WriteResult> {
  const rel = root.normalize(path, 'write');
  if (rel === '') throw invalidName('write', path, "is the remote's root, not a file");
  const fsCall: FsCall = (p) =>
    p.catch((err: unknown) => {
      throw mapFsError(err, 'write', rel);
    });
  const hash = new MultiHash();
  let target = '';

  const begin = async (): Promise<UploadSession<LocalUploadState>> => {
    await root.ensureDir(parentPath(rel), 'write');
    target = await root.itself(rel, 'write');
    const existing = await fsCall(lstat(target)).catch((err: unknown) => (isConnectorError(err, 'not_found') ? null : Promise.reject(err)));
    if (existing?.isDirectory()) throw new ConnectorError('conflict', `write ${JSON.stringify(rel)}: a folder is in the way`);
    const tempName = partialNameFor(baseName(rel));
    const temp = join(dirname(target), tempName);
    const resume = opts.resume !== undefined && (opts.resume.tempName === undefined || opts.resume.tempName === tempName);
    const { fh, start } = await openPartial(temp, resume, source.size, fsCall);
    let closed = false;
    const close = async () => {
      if (!closed) {
        closed = true;
        await fh.close();
      }
    };
    try {
      await hashPrefix(fh, start, hash, opts.signal, fsCall);
    } catch (err) {
      await close().catch(() => {});
      throw err;
    }
    return {
      committed: start,
      async put(chunk, position) {
        await writeAll(fh, chunk, position, fsCall);
        hash.update(chunk);
      },
      async checkpoint(offset) {
        // Synced before it is reported: a checkpoint must survive a crash of the machine too.
        await fsCall(fh.datasync());
        return { offset, tempName };
      },
      async commit() {
        await fsCall(fh.datasync());
        // On the handle, before the rename: the file never appears at the target with a wrong time.
        await fsCall(fh.utimes(utimeSeconds(source.mtimeMs), utimeSeconds(source.mtimeMs)));
        await fsCall(close());
        await fsCall(rename(temp, target));
      },
      async abort(discard) {
        await close().catch(() => {});
        if (discard) await unlink(temp).catch(() => {});
      },
    };
  };

  const { resumedFrom } = await driveUpload({ op: `write ${JSON.stringify(rel)}`, source, opts, defaultChunkSize, begin });
  return {
    entry: toEntry(rel, await fsCall(stat(target))),
    resumedFrom,
    deduplicated: false,
    hashes: hash.digest(),
  };
}

/**
 * Resumes at the partial file's real size: the bytes on disk are authoritative, whatever offset the
 * saved state claims. A fresh start unlinks first, so a symlink or hard link planted under the
 * partial name is never written through.
 */
async function openPartial(temp: string, resume: boolean, size: number, fsCall: FsCall): Promise<{ fh: FileHandle; start: number }> {
  if (resume) {
    const fh = await open(temp, constants.O_RDWR | constants.O_NOFOLLOW).catch(() => null);
    if (fh) {
      const st = await fsCall(fh.stat());
      if (st.isFile() && st.size <= size) return { fh, start: st.size };
      await fh.close();
    }
  }
  try {
    await unlink(temp);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') await fsCall(Promise.reject(err));
  }
  const fh = await fsCall(open(temp, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o666));
  return { fh, start: 0 };
}

/** A resumed file's digests cover the whole file, so the part already on disk is read back first. */
async function hashPrefix(fh: FileHandle, length: number, hash: MultiHash, signal: AbortSignal | undefined, fsCall: FsCall): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(length, 1 << 20));
  for (let pos = 0; pos < length; ) {
    signal?.throwIfAborted();
    const { bytesRead } = await fsCall(fh.read(buf, 0, Math.min(buf.length, length - pos), pos));
    if (bytesRead === 0) throw new ConnectorError('transient', 'the partial file shrank while it was being read back');
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
}

async function writeAll(fh: FileHandle, chunk: Buffer, position: number, fsCall: FsCall): Promise<void> {
  for (let done = 0; done < chunk.length; ) {
    const { bytesWritten } = await fsCall(fh.write(chunk, done, chunk.length - done, position + done));
    done += bytesWritten;
  }
}
