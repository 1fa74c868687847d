import { ConnectorError } from '../errors.js';
import { isPartsState, PartSet, type PartRanges } from '../shared/partSet.js';
import type { ChunkWriter, ChunkWriterOptions, UploadSource, UploadState, WriteResult } from '../types.js';
import { toSftpError } from './errors.js';
import { newPartialName } from './paths.js';
import type { Lease } from './pool.js';
import { joinServer, openCreating, renameFailure, usableState, type UploadPlace } from './upload.js';
import { WritePipe } from './writePipe.js';

/** What a resume needs: the partial file, the part size and which parts it holds (inclusive ranges of part numbers). */
export interface SftpPartsState extends UploadState {
  offset: number;
  temp: string;
  size: number;
  partSize: number;
  done: PartRanges;
}

/** Parts in flight at once, each on its own connection (its own sftp-server process on the server). */
const concurrency = 4;

/**
 * Parts of a large file written at their positions in a full-length hidden partial file from
 * several connections at once, then renamed into place (connectors/local/chunkWriter.ts is the
 * model). A part counts as held once its writes are acknowledged and fsynced, so a checkpoint
 * never names a part the server could lose.
 */
export async function openSftpChunkWriter(
  place: UploadPlace, lease: (op: string) => Promise<Lease>, source: Omit<UploadSource, 'open'>, opts: ChunkWriterOptions, defaultPartSize: number,
): Promise<ChunkWriter & { resumedFrom: number }> {
  const { session: s, rel } = place;
  const op = `write ${JSON.stringify(rel)}`;
  const call = <T>(p: Promise<T>): Promise<T> => p.catch((err: unknown) => Promise.reject(toSftpError(err, op)));
  opts.signal?.throwIfAborted();

  const state = usableState<SftpPartsState>(opts.resume, rel, source.size);
  const prior = state && isPartsState(state) ? state : undefined;
  const partSize = prior?.partSize ?? opts.partSize ?? defaultPartSize;
  if (!(partSize > 0)) throw new RangeError(`partSize must be positive, not ${partSize}`);
  const parts = new PartSet(source.size, partSize);
  let temp = newPartialName(rel);
  if (prior) {
    const held = await s.stat(joinServer(place.folder, prior.temp)).catch(() => undefined);
    if (held?.isFile() && held.size === source.size) {
      temp = prior.temp;
      parts.addRanges(prior.done);
    }
  }
  const tempPath = joinServer(place.folder, temp);
  if (parts.size === 0) {
    const h = await call(openCreating(place, tempPath, 'w'));
    try {
      await call(s.setSize(h, source.size));
    } finally {
      await s.close(h).catch(() => {});
    }
  }

  const resumedFrom = parts.heldBytes();

  return {
    partSize,
    concurrency,
    resumedFrom,
    isDone: (part) => parts.has(part),
    async writeChunk(part, data, signal) {
      signal?.throwIfAborted();
      parts.checkPart(part, data.length, JSON.stringify(rel));
      const l = await lease(op);
      try {
        const h = await call(l.session.open(tempPath, 'r+'));
        const pipe = new WritePipe(l.session, h);
        try {
          await call(pipe.put(data, part * partSize));
          await call(pipe.drain());
          await call(l.session.fsync(h));
        } finally {
          await pipe.settle();
          await l.session.close(h).catch(() => {});
        }
      } finally {
        l.release();
      }
      parts.add(part);
    },
    state: (): SftpPartsState => ({ offset: parts.heldBytes(), temp, size: source.size, partSize, done: parts.toRanges() }),
    async close() {
      if (!parts.complete) {
        throw new ConnectorError('corrupt', `${op}: ${parts.missing} of ${parts.count} parts are missing; nothing was written to the target`);
      }
      // A session of its own: the one the writer was opened on may have died since.
      const l = await lease(op);
      let attrs;
      try {
        const c = l.session;
        const h = await call(c.open(tempPath, 'r+'));
        try {
          [, attrs] = await call(Promise.all([c.futimes(h, source.mtimeMs), c.fstat(h)]));
        } finally {
          await c.close(h).catch(() => {});
        }
        if (attrs.size !== source.size) throw new ConnectorError('corrupt', `${op}: the server holds ${attrs.size} bytes of ${source.size}`);
        await call(c.rename(tempPath, place.target)).catch((err: unknown) => Promise.reject(renameFailure(err, op)));
      } finally {
        l.release();
      }
      const result: WriteResult = { entry: place.entryOf(attrs), resumedFrom, deduplicated: false, hashes: {} };
      return result;
    },
    async abandon() {},
  };
}
