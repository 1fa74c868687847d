/**
 * Parallel parts of one large file in a Dropbox `concurrent` upload session (providers.md A.4):
 * every part is a multiple of 4 MiB at a 4 MiB-multiple offset, appended in any order. Closing
 * the session refuses further appends, so the last part is held back and sent, with `close`, only
 * once every other part is in; `finish` then commits the file. Each part's content hash is checked
 * by Dropbox; the whole file's is computed from the parts' block digests when every part went
 * through this writer.
 */
import { ConnectorError } from '../errors.js';
import { isPartsState, PartSet } from '../shared/partSet.js';
import type { ChunkWriter, ChunkWriterOptions, UploadSource, UploadState, WriteResult } from '../types.js';
import type { Entry } from '../../core/entry.js';
import type { DropboxClient } from './client.js';
import { blockDigests, contentHashOfBlocks, dropboxContentHash, DROPBOX_BLOCK } from '../shared/dropboxHash.js';
import { DropboxError } from './errors.js';
import { MAX_REQUEST_BYTES, verifiedHash } from './upload.js';
import type { CommitInfo, FileMetadata } from './wire.js';

/** Parts in flight at once. */
const concurrency = 4;
/** The largest multiple of 4 MiB under the 150 MB request cap. */
const MAX_PART = Math.floor(MAX_REQUEST_BYTES / DROPBOX_BLOCK) * DROPBOX_BLOCK;

interface ConcurrentState extends UploadState {
  sessionId: string;
  partSize: number;
  done: [number, number][];
  size: number;
  mtimeMs: number;
}

export function concurrentPartSize(asked: number): number {
  return Math.min(MAX_PART, Math.max(DROPBOX_BLOCK, Math.ceil(asked / DROPBOX_BLOCK) * DROPBOX_BLOCK));
}

export async function openConcurrentWriter(
  client: DropboxClient,
  o: { op: string; source: Omit<UploadSource, 'open'>; opts: ChunkWriterOptions; commit: CommitInfo; defaultPartSize: number; entryOf: (m: FileMetadata) => Entry },
): Promise<ChunkWriter> {
  const { op, source, opts } = o;
  const r = opts.resume as Partial<ConcurrentState> | undefined;
  const prior = r && isPartsState(r) && typeof r.sessionId === 'string' && r.size === source.size && r.mtimeMs === source.mtimeMs && r.partSize % DROPBOX_BLOCK === 0 ? (r as ConcurrentState) : null;
  const partSize = prior?.partSize ?? concurrentPartSize(opts.partSize ?? o.defaultPartSize);
  const parts = new PartSet(source.size, partSize);
  let sessionId: string | undefined;
  if (prior) {
    // No status call: an empty append at offset 0 tells whether the session still exists.
    try {
      await client.upload('files/upload_session/append_v2', { cursor: { session_id: prior.sessionId, offset: 0 }, close: false }, Buffer.alloc(0), `${op}: resume the upload session`, { signal: opts.signal });
      sessionId = prior.sessionId;
      parts.addRanges(prior.done);
    } catch (err) {
      if (!(err instanceof DropboxError && err.has('not_found'))) throw err;
    }
  }
  if (sessionId === undefined) {
    const started = await client.upload<{ session_id: string }>('files/upload_session/start', { close: false, session_type: { '.tag': 'concurrent' } }, Buffer.alloc(0), `${op}: start a concurrent upload session`, { signal: opts.signal });
    sessionId = started.session_id;
  }
  const id = sessionId;
  const resumedFrom = parts.heldBytes();
  const last = parts.count - 1;
  const digests = new Map<number, Buffer[]>();
  let lastData: Buffer | undefined;

  const append = async (part: number, data: Buffer, close: boolean, signal?: AbortSignal) => {
    const arg = { cursor: { session_id: id, offset: part * partSize }, close, content_hash: dropboxContentHash(data) };
    await client.upload('files/upload_session/append_v2', arg, data, `${op}: upload part ${part + 1} of ${parts.count}`, { signal });
  };

  const state = (): ConcurrentState => ({ offset: parts.heldBytes(), sessionId: id, partSize, done: parts.toRanges(), size: source.size, mtimeMs: source.mtimeMs });
  return {
    partSize,
    concurrency,
    isDone: (part) => parts.has(part),
    async writeChunk(part, data, signal) {
      parts.checkPart(part, data.length, op);
      if (part !== last) {
        await append(part, data, false, signal);
        digests.set(part, blockDigests(data));
        parts.add(part);
      } else {
        // Sent last, in close(): a closed session takes no more parts.
        lastData = data;
        digests.set(part, blockDigests(data));
      }
    },
    state,
    async close(signal): Promise<WriteResult> {
      const missing = Array.from({ length: parts.count }, (_, p) => p).filter((p) => !parts.has(p) && !(p === last && lastData !== undefined)).length;
      if (missing > 0) {
        throw new ConnectorError('corrupt', `${op}: ${missing} of ${parts.count} parts are missing; nothing was committed`);
      }
      if (!parts.has(last)) {
        try {
          await append(last, lastData as Buffer, true, signal);
        } catch (err) {
          // An earlier attempt closed it with these same bytes and then failed to finish.
          if (!(err instanceof DropboxError && err.has('closed'))) throw err;
        }
        parts.add(last);
      }
      const meta = await client.upload<FileMetadata>('files/upload_session/finish', { cursor: { session_id: id, offset: source.size }, commit: o.commit }, Buffer.alloc(0), `${op}: finish the upload`, { signal });
      const all = digests.size === parts.count ? Array.from({ length: parts.count }, (_, p) => digests.get(p) as Buffer[]).flat() : undefined;
      const computed = all ? contentHashOfBlocks(all) : undefined;
      verifiedHash(meta, computed, op);
      return { entry: o.entryOf(meta), resumedFrom, deduplicated: false, hashes: computed ? { dropbox: computed } : {} };
    },
    async abandon() {
      // The session stays for a resume; Dropbox expires it after 7 days.
    },
  };
}
