import { constants } from 'node:fs';
import { lstat, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { baseName, parentPath } from '../../core/paths.js';
import { ConnectorError, isConnectorError } from '../errors.js';
import { driveUpload, type UploadSession } from '../shared/upload.js';
import type { UploadSource, UploadState, WriteOptions, WriteResult } from '../types.js';
import { errnoCode, invalidName, mapFsError } from './errors.js';
import type { Entry } from '../../core/entry.js';
import { toEntry } from './list.js';
import { partialNameFor, type LocalRoot } from './paths.js';
import { writeWhole, type WriteWholeAnswer } from './fsThreads.js';

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

export type FsCall = <T>(p: Promise<T>) => Promise<T>;

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
  if (source.data?.length === source.size) {
    const whole = await writeWholeLocal(root, rel, source, opts);
    if (whole) return whole;
  }
  let entry: Entry | null = null;

  const begin = async (): Promise<UploadSession<LocalUploadState>> => {
    const { target, temp, tempName } = await placeFor(root, rel, fsCall);
    const resume = opts.resume !== undefined && (opts.resume.tempName === undefined || opts.resume.tempName === tempName);
    const { fh, start } = await openPartial(root, rel, temp, resume, source.size, fsCall);
    let closed = false;
    const close = async () => {
      if (!closed) {
        closed = true;
        await fh.close();
      }
    };
    return {
      committed: start,
      put: (chunk, position) => writeAll(fh, chunk, position, fsCall),
      async checkpoint(offset) {
        // Synced before it is reported: a checkpoint must survive a crash of the machine too.
        await fsCall(fh.datasync());
        return { offset, tempName };
      },
      async commit() {
        // Deferred, the caller makes a whole group durable at once (sync) before counting it.
        if (!opts.syncLater) await fsCall(fh.datasync());
        // On the handle, before the rename: the file never appears at the target with a wrong time.
        await fsCall(fh.utimes(utimeSeconds(source.mtimeMs), utimeSeconds(source.mtimeMs)));
        entry = toEntry(rel, await fsCall(fh.stat()));
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
  // Nothing is hashed here: the engine hashes the bytes it hands over, once.
  // commit() ran, or driveUpload threw: a local session is never complete before it starts.
  return { entry: entry!, resumedFrom, deduplicated: false, hashes: {} };
}

/**
 * A file the engine holds whole, written in one call to a filesystem thread: partial file, time,
 * sync (unless deferred), rename. Null leaves the unusual cases (a symlink at the target, a
 * remembered folder that went away) to the streaming path, which handles them carefully.
 */
async function writeWholeLocal(root: LocalRoot, rel: string, source: UploadSource, opts: WriteOptions): Promise<WriteResult | null> {
  opts.signal?.throwIfAborted();
  const dirRel = parentPath(rel);
  const dir = await root.ensureDir(dirRel, 'write');
  let answer: WriteWholeAnswer;
  try {
    answer = await writeWhole({
      dir, name: baseName(rel), temp: partialNameFor(baseName(rel)), data: source.data!,
      atime: utimeSeconds(source.mtimeMs), mtime: utimeSeconds(source.mtimeMs), sync: !opts.syncLater,
    });
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw mapFsError(err, 'write', rel);
    root.forget(dirRel);
    return null;
  }
  if (answer.kind === 'dir') throw folderInTheWay(rel);
  if (answer.kind !== 'file') return null;
  opts.onProgress?.(answer.size);
  const entry: Entry = { path: rel, isDir: false, size: answer.size, mtimeMs: Math.floor(answer.mtimeMs), hashes: {} };
  return { entry, resumedFrom: 0, deduplicated: false, hashes: {} };
}

/**
 * Where a write lands: the target in its (created, remembered) parent folder, refused when a
 * folder is in the way or the target is a symlink leading out, and the hidden partial beside it.
 */
export async function placeFor(root: LocalRoot, rel: string, fsCall: FsCall, purpose: 'write' | 'parts' = 'write'): Promise<{ target: string; temp: string; tempName: string }> {
  const parent = await root.ensureDir(parentPath(rel), 'write');
  const target = join(parent, baseName(rel));
  const there = await fsCall(lstat(target)).catch((err: unknown) => (isConnectorError(err, 'not_found') ? null : Promise.reject(err)));
  if (there?.isDirectory()) throw folderInTheWay(rel);
  // A symlink is written through only when it stays inside the root (the slow, careful check).
  if (there?.isSymbolicLink()) await root.itself(rel, 'write');
  const tempName = partialNameFor(baseName(rel), purpose);
  return { target, temp: join(parent, tempName), tempName };
}

function folderInTheWay(rel: string): ConnectorError {
  return new ConnectorError('conflict', `write ${JSON.stringify(rel)}: a folder is in the way`);
}

/**
 * Resumes at the partial file's real size: the bytes on disk are authoritative, whatever offset the
 * saved state claims. A fresh start creates the file exclusively, and a partial name already
 * taken (a leftover, or a link planted there) is unlinked first and never written through.
 */
async function openPartial(root: LocalRoot, rel: string, temp: string, resume: boolean, size: number, fsCall: FsCall): Promise<{ fh: FileHandle; start: number }> {
  if (resume) {
    const fh = await open(temp, constants.O_RDWR | constants.O_NOFOLLOW).catch(() => null);
    if (fh) {
      const st = await fsCall(fh.stat());
      if (st.isFile() && st.size <= size) return { fh, start: st.size };
      await fh.close();
    }
  }
  return { fh: await createExclusive(root, rel, temp, fsCall), start: 0 };
}

/** O_EXCL create of a partial file; shared with the chunk writer. */
export async function createExclusive(root: LocalRoot, rel: string, temp: string, fsCall: FsCall): Promise<FileHandle> {
  const flags = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  try {
    return await open(temp, flags, 0o666);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') await fsCall(unlink(temp));
    // The remembered parent folder was removed behind knarr's back: make it again.
    else if (code === 'ENOENT') {
      root.forget(parentPath(rel));
      await root.ensureDir(parentPath(rel), 'write');
    } else throw mapFsError(err, 'write', rel);
    return fsCall(open(temp, flags, 0o666));
  }
}

async function writeAll(fh: FileHandle, chunk: Buffer, position: number, fsCall: FsCall): Promise<void> {
  for (let done = 0; done < chunk.length; ) {
    const { bytesWritten } = await fsCall(fh.write(chunk, done, chunk.length - done, position + done));
    done += bytesWritten;
  }
}
