import { ConnectorError } from '../errors.js';
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
  done: [number, number][];
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

  const prior = usableState<SftpPartsState>(opts.resume, rel, source.size);
  const partSize = prior?.partSize ?? opts.partSize ?? defaultPartSize;
  if (!(partSize > 0)) throw new RangeError(`partSize must be positive, not ${partSize}`);
  const parts = Math.max(1, Math.ceil(source.size / partSize));
  const done = new Set<number>();
  let temp = newPartialName(rel);
  if (prior && Array.isArray(prior.done)) {
    const held = await s.stat(joinServer(place.folder, prior.temp)).catch(() => undefined);
    if (held?.isFile() && held.size === source.size) {
      temp = prior.temp;
      for (const [a, b] of prior.done) for (let p = a; p <= b && p < parts; p++) done.add(p);
    }
  }
  const tempPath = joinServer(place.folder, temp);
  if (done.size === 0) {
    const h = await call(openCreating(place, tempPath, 'w'));
    try {
      await call(s.setSize(h, source.size));
    } finally {
      await s.close(h).catch(() => {});
    }
  }

  const lengthOf = (part: number) => Math.min(partSize, source.size - part * partSize);
  const held = () => [...done].reduce((n, p) => n + lengthOf(p), 0);
  const resumedFrom = held();

  return {
    partSize,
    concurrency,
    resumedFrom,
    isDone: (part) => done.has(part),
    async writeChunk(part, data, signal) {
      signal?.throwIfAborted();
      if (part < 0 || part >= parts || data.length !== lengthOf(part)) {
        throw new RangeError(`part ${part} of ${JSON.stringify(rel)} must be ${lengthOf(part)} bytes, not ${data.length}`);
      }
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
      done.add(part);
    },
    state: (): SftpPartsState => ({ offset: held(), temp, size: source.size, partSize, done: toRanges(done) }),
    async close() {
      if (done.size !== parts && source.size > 0) {
        throw new ConnectorError('corrupt', `${op}: ${parts - done.size} of ${parts} parts are missing; nothing was written to the target`);
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

function toRanges(parts: Set<number>): [number, number][] {
  const sorted = [...parts].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const p of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && last[1] === p - 1) last[1] = p;
    else ranges.push([p, p]);
  }
  return ranges;
}
