/**
 * Writing a file to Dropbox (shared/specs/providers.md A.4):
 *
 *   - a small file (one chunk at most) goes up whole in `upload_session/start` with `close: true`,
 *     and its commit joins a `finish_batch_v2` batch (batcher.ts);
 *   - a larger one is an upload session driven by the shared `driveUpload` loop: `append_v2` per
 *     chunk (each with the chunk's content hash, which Dropbox checks), `finish` with the tail and
 *     the commit. A resume sends an empty `append_v2` at the saved offset: Dropbox has no status
 *     call, and answers a wrong offset with 409 `incorrect_offset` and the `correct_offset`.
 *
 * The whole file's content hash is computed while it streams and compared with the one Dropbox
 * reports for the committed file.
 */
import { ConnectorError } from '../errors.js';
import type { UploadSession } from '../shared/upload.js';
import type { UploadSource, UploadState } from '../types.js';
import type { DropboxClient } from './client.js';
import { DropboxContentHasher, dropboxContentHash } from '../shared/dropboxHash.js';
import { DropboxError } from './errors.js';
import { findTagged, type CommitInfo, type FileMetadata } from './wire.js';

/** One request body may not exceed 150 MB (`payload_too_large`). */
export const MAX_REQUEST_BYTES = 150 * 1024 * 1024;

export interface DropboxUploadState extends UploadState {
  offset: number;
  sessionId: string;
  size: number;
  mtimeMs: number;
}

export function usableState(resume: UploadState | undefined, source: Pick<UploadSource, 'size' | 'mtimeMs'>): DropboxUploadState | null {
  const r = resume as Partial<DropboxUploadState> | undefined;
  if (!r || typeof r.sessionId !== 'string' || r.sessionId === '' || r.size !== source.size || r.mtimeMs !== source.mtimeMs) return null;
  if (typeof r.offset !== 'number' || !(r.offset >= 0) || r.offset > source.size) return null;
  return r as DropboxUploadState;
}

/** The committed file's content hash against the one computed from every byte sent; a mismatch is `corrupt`. */
export function verifiedHash(meta: FileMetadata, computed: string | undefined, op: string): void {
  if (computed !== undefined && meta.content_hash !== undefined && meta.content_hash !== computed) {
    throw new ConnectorError('corrupt', `${op}: Dropbox reports content hash ${meta.content_hash}, the bytes sent hash to ${computed}`);
  }
}

export interface SessionUpload extends UploadSession<DropboxUploadState> {
  /** The committed file, once `commit` returned. */
  readonly result: FileMetadata | undefined;
  /** The whole file's content hash, when every byte went through this session. */
  readonly computedHash: string | undefined;
}

/** Where a session goes on from: the saved offset if Dropbox agrees, its `correct_offset` if not, or null for a new session. */
async function probe(client: DropboxClient, state: DropboxUploadState, size: number, op: string, signal?: AbortSignal): Promise<number | null> {
  try {
    await client.upload('files/upload_session/append_v2', { cursor: { session_id: state.sessionId, offset: state.offset }, close: false }, Buffer.alloc(0), `${op}: resume the upload session`, { signal });
    return state.offset;
  } catch (err) {
    if (!(err instanceof DropboxError)) throw err;
    if (err.has('incorrect_offset')) {
      const correct = findTagged(err.error, 'incorrect_offset')?.correct_offset;
      return typeof correct === 'number' && correct >= 0 && correct <= size ? correct : null;
    }
    // Expired (7 days) or already finished or closed: the bytes are not usable, start again.
    if (err.has('not_found') || err.has('closed')) return null;
    throw err;
  }
}

export async function sessionUpload(
  client: DropboxClient,
  o: { op: string; source: UploadSource; commit: CommitInfo; chunkSize: number; resume?: UploadState; signal?: AbortSignal },
): Promise<SessionUpload> {
  const { op, source, signal, chunkSize } = o;
  let sessionId: string | undefined;
  let committed = 0;
  const prior = usableState(o.resume, source);
  if (prior) {
    const at = await probe(client, prior, source.size, op, signal);
    if (at !== null) {
      sessionId = prior.sessionId;
      committed = at;
    }
  }
  if (sessionId === undefined) {
    const started = await client.upload<{ session_id: string }>('files/upload_session/start', { close: false }, Buffer.alloc(0), `${op}: start an upload session`, { signal });
    sessionId = started.session_id;
  }
  const id = sessionId;
  const hasher = committed === 0 ? new DropboxContentHasher() : null;
  let parts: Buffer[] = [];
  let held = 0;
  /** File offset of the first byte held. */
  let at = committed;
  let flushed = committed;
  let result: FileMetadata | undefined;

  const append = async (data: Buffer) => {
    const arg = { cursor: { session_id: id, offset: at }, close: false, content_hash: dropboxContentHash(data) };
    await client.upload('files/upload_session/append_v2', arg, data, `${op}: upload bytes ${at}-${at + data.length}`, { signal });
    at += data.length;
    flushed = at;
  };

  return {
    committed,
    get result() {
      return result;
    },
    get computedHash() {
      return hasher && hasher.bytes === source.size ? hasher.digest() : undefined;
    },
    async put(chunk) {
      hasher?.update(chunk);
      parts.push(chunk);
      held += chunk.length;
      // Appends end on multiples of chunkSize from the file's start, so a resumed upload keeps the rhythm.
      for (;;) {
        const need = (Math.floor(at / chunkSize) + 1) * chunkSize - at;
        if (held < need) break;
        const all = parts.length === 1 ? parts[0] : Buffer.concat(parts, held);
        const rest = all.subarray(need);
        parts = rest.length ? [rest] : [];
        held = rest.length;
        await append(all.subarray(0, need));
      }
    },
    async checkpoint() {
      return { offset: flushed, sessionId: id, size: source.size, mtimeMs: source.mtimeMs };
    },
    async commit() {
      const tail = Buffer.concat(parts, held);
      parts = [];
      held = 0;
      const arg = { cursor: { session_id: id, offset: at }, commit: o.commit, content_hash: dropboxContentHash(tail) };
      result = await client.upload<FileMetadata>('files/upload_session/finish', arg, tail, `${op}: finish the upload`, { signal });
    },
    async abort() {
      // Dropbox has no call to cancel a session; it expires after 7 days. A resume goes on from it.
      parts = [];
      held = 0;
    },
  };
}

/** The bytes of a small file gathered in memory (at most one chunk), for `start` with `close: true`. */
export interface GatheredUpload extends UploadSession<UploadState> {
  readonly data: Buffer | undefined;
}

export function gatherUpload(onCommit: (data: Buffer) => Promise<void>): GatheredUpload {
  let parts: Buffer[] = [];
  let data: Buffer | undefined;
  return {
    committed: 0,
    get data() {
      return data;
    },
    async put(chunk) {
      parts.push(chunk);
    },
    async checkpoint(offset) {
      throw new ConnectorError('unsupported', `a small file has no checkpoint (at ${offset})`);
    },
    async commit() {
      data = Buffer.concat(parts);
      parts = [];
      await onCommit(data);
    },
    async abort() {
      parts = [];
    },
  };
}
