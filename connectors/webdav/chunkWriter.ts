/**
 * Parallel parts of one large file on Nextcloud/ownCloud (chunked upload v2 allows chunk PUTs in
 * any order and at once): each part is chunk `part + 1` of the upload folder, the final MOVE of
 * `.file` assembles them in name order. A resume lists the upload folder: parts there with their
 * full size are not sent again.
 */
import type { Entry } from '../../core/entry.js';
import { ConnectorError } from '../errors.js';
import { PartSet } from '../shared/partSet.js';
import type { ChunkWriter, ChunkWriterOptions, UploadSource, WriteResult } from '../types.js';
import { chunkName, heldChunks, mtimeHeader, newUploadId, nextcloudChunkSize, ocChecksum, usableChunkedState, type ChunkedState, type UploadDeps } from './upload.js';

/** Chunk PUTs in flight at once: enough to fill a link, few enough for a PHP server's workers. */
const concurrency = 4;

export async function openNextcloudChunkWriter(
  deps: UploadDeps,
  o: { op: string; target: URL; source: Omit<UploadSource, 'open'>; opts: ChunkWriterOptions; defaultPartSize: number; sendChecksum: boolean; committed: (sent?: string) => Promise<Entry> },
): Promise<ChunkWriter> {
  const { client } = deps;
  const uploads = client.uploadsUrl;
  if (!uploads) throw new Error('chunk writer without an uploads URL');
  const { source, op, opts } = o;
  const prior = usableChunkedState(opts.resume, source);
  const partSize = prior?.chunkSize ?? nextcloudChunkSize(opts.partSize ?? o.defaultPartSize, source.size);
  let uploadId = prior?.uploadId ?? newUploadId();
  const held = prior ? await heldChunks(client, new URL(`${uploadId}/`, uploads), source.size, partSize, `${op}: chunks already uploaded`, opts.signal) : null;
  const parts = held ?? new PartSet(source.size, partSize);
  if (!held) {
    if (prior) uploadId = newUploadId();
    const res = await client.request({ method: 'MKCOL', url: new URL(`${uploadId}/`, uploads), op: `${op}: start a chunked upload`, headers: { destination: o.target.href }, signal: opts.signal });
    await res.body.dump();
  }
  const folder = new URL(`${uploadId}/`, uploads);
  const resumedFrom = parts.heldBytes();
  const state = (): ChunkedState => ({ offset: parts.heldBytes(), uploadId, size: source.size, mtimeMs: source.mtimeMs, chunkSize: partSize });
  return {
    partSize,
    concurrency,
    isDone: (part) => parts.has(part),
    async writeChunk(part, data, signal) {
      parts.checkPart(part, data.length, op);
      const res = await deps.putBuffer(new URL(chunkName(part + 1), folder), data, `${op}: upload chunk ${part + 1}`, {
        headers: { destination: o.target.href, 'oc-total-length': String(source.size), 'content-type': 'application/octet-stream' },
        signal,
      });
      await res.body.dump();
      parts.add(part);
    },
    state,
    async close(signal, streamed = {}) {
      if (!parts.complete) {
        throw new ConnectorError('corrupt', `${op}: ${parts.missing} of ${parts.count} chunks are missing; nothing was assembled`);
      }
      const headers: Record<string, string> = { 'oc-total-length': String(source.size), 'x-oc-mtime': mtimeHeader(source.mtimeMs) };
      // The source's own hash, or the one the engine computed while it read every part.
      const checksum = o.sendChecksum ? ocChecksum({ ...streamed, ...source.hashes }) : undefined;
      if (checksum) headers['oc-checksum'] = checksum;
      const res = await deps.moveUrl(new URL('.file', folder), o.target, `${op}: assemble the chunks`, headers, signal);
      await res.body.dump();
      const result: WriteResult = { entry: await o.committed(checksum), resumedFrom, deduplicated: false, hashes: {} };
      return result;
    },
    async abandon() {
      // The upload folder stays for a resume; discardUpload deletes it.
    },
  };
}
