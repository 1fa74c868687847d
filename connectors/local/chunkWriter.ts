import { constants } from 'node:fs';
import { open, rename, type FileHandle } from 'node:fs/promises';
import { ConnectorError } from '../errors.js';
import { isPartsState, PartSet, type PartRanges } from '../shared/partSet.js';
import type { ChunkWriter, ChunkWriterOptions, UploadSource, UploadState, WriteResult } from '../types.js';
import { invalidName, mapFsError } from './errors.js';
import { toEntry } from './list.js';
import type { LocalRoot } from './paths.js';
import { createExclusive, placeFor, utimeSeconds } from './write.js';

/** What a resume needs: the part size and which parts are on disk, as inclusive ranges of part numbers. */
export interface LocalPartsState extends UploadState {
  offset: number;
  tempName: string;
  size: number;
  partSize: number;
  done: PartRanges;
}

/** Parts in flight at once: enough to keep a disk's queue full without thrashing it. */
const concurrency = 4;

/**
 * Writes a large file in parts at their positions in a full-length hidden partial file, then
 * renames it into place. A part counts as held only once it has been synced to disk, so a
 * checkpoint never names a part a crash could lose.
 */
export async function openLocalChunkWriter(
  root: LocalRoot, path: string, source: Omit<UploadSource, 'open'>, opts: ChunkWriterOptions, defaultPartSize: number,
): Promise<ChunkWriter> {
  const rel = root.normalize(path, 'write');
  if (rel === '') throw invalidName('write', path, "is the remote's root, not a file");
  const fsCall = <T>(p: Promise<T>): Promise<T> => p.catch((err: unknown) => { throw mapFsError(err, 'write', rel); });
  const { target, temp, tempName } = await placeFor(root, rel, fsCall, 'parts');
  const resume = usableResume(opts.resume, tempName, source.size);
  const partSize = resume?.partSize ?? opts.partSize ?? defaultPartSize;
  if (!(partSize > 0)) throw new RangeError(`partSize must be positive, not ${partSize}`);
  const parts = new PartSet(source.size, partSize);

  let fh: FileHandle | null = null;
  if (resume) {
    fh = await open(temp, constants.O_RDWR | constants.O_NOFOLLOW).catch(() => null);
    if (fh && (await fsCall(fh.stat())).size === source.size) {
      parts.addRanges(resume.done);
    } else {
      await fh?.close();
      fh = null;
    }
  }
  if (!fh) {
    fh = await createExclusive(root, rel, temp, fsCall);
    await fsCall(fh.truncate(source.size));
  }
  const file = fh;
  let closed = false;
  const closeHandle = async () => {
    if (!closed) {
      closed = true;
      await file.close();
    }
  };

  const resumedFrom = parts.heldBytes();
  const state = (): LocalPartsState => ({ offset: parts.heldBytes(), tempName, size: source.size, partSize, done: parts.toRanges() });

  return {
    partSize,
    concurrency,
    isDone: (part) => parts.has(part),
    async writeChunk(part, data, signal) {
      signal?.throwIfAborted();
      parts.checkPart(part, data.length, JSON.stringify(rel));
      for (let off = 0; off < data.length; ) {
        const { bytesWritten } = await fsCall(file.write(data, off, data.length - off, part * partSize + off));
        off += bytesWritten;
      }
      await fsCall(file.datasync());
      parts.add(part);
    },
    state,
    async close() {
      if (!parts.complete) {
        throw new ConnectorError('corrupt', `write ${JSON.stringify(rel)}: ${parts.missing} of ${parts.count} parts are missing; nothing was written to the target`);
      }
      await fsCall(file.datasync());
      await fsCall(file.utimes(utimeSeconds(source.mtimeMs), utimeSeconds(source.mtimeMs)));
      const entry = toEntry(rel, await fsCall(file.stat()));
      await fsCall(closeHandle());
      await fsCall(rename(temp, target));
      const result: WriteResult = { entry, resumedFrom, deduplicated: false, hashes: {} };
      return result;
    },
    async abandon() {
      await closeHandle().catch(() => {});
    },
  };
}

function usableResume(resume: UploadState | undefined, tempName: string, size: number): LocalPartsState | null {
  const r = resume as Partial<LocalPartsState> | undefined;
  if (!r || r.tempName !== tempName || r.size !== size || !isPartsState(r)) return null;
  return r as LocalPartsState;
}
