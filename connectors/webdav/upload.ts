/**
 * The three ways a streamed file goes up to a WebDAV server, each an `UploadSession` for the
 * shared `driveUpload` loop:
 *
 *   - `partialPutSession` (generic servers that apply `Content-Range` on PUT: Apache, lighttpd;
 *     shared/specs/providers.md A.5): the file grows in a hidden temp file beside the target, one
 *     ranged PUT per chunk; a resume asks the temp file's size (PROPFIND depth 0) and goes on from
 *     there; the commit MOVEs it into place.
 *   - `chunkedSession` (Nextcloud chunked upload v2; ownCloud's "new chunking" is the same
 *     endpoint): MKCOL of an upload folder, one numbered PUT per chunk, MOVE of `<id>/.file` onto
 *     the target; a resume lists the upload folder and sends only the chunks it lacks.
 *   - `streamedPutSession`: one PUT with the whole body, for servers that can do neither; no
 *     checkpoint means anything, so none is made (`driveUpload` is run with one chunk).
 *
 * Bytes are cut at chunk boundaries counted from the file's start, so a resumed upload keeps the
 * rhythm and chunk numbers stay what they were.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { ConnectorError, isConnectorError } from '../errors.js';
import { MultiHash } from '../shared/hashing.js';
import { toConnectorError, type HttpResponse } from '../shared/http.js';
import { PartSet } from '../shared/partSet.js';
import type { UploadSession } from '../shared/upload.js';
import type { UploadSource, UploadState } from '../types.js';
import type { DavClient } from './client.js';
import { pathSegments } from './wire.js';

/** Nextcloud v2 refuses chunks under 5 MB (but the last) and more than 10,000 of them. */
export const MIN_NEXTCLOUD_CHUNK = 5 * 1024 * 1024;
export const MAX_NEXTCLOUD_CHUNKS = 10_000;

/** Cuts a byte stream into pieces that end exactly at multiples of `chunkSize` from the file's start. */
export class ChunkCutter {
  private parts: Buffer[] = [];
  private held = 0;

  constructor(
    readonly chunkSize: number,
    /** File offset of the first byte pushed. */
    private start: number,
  ) {}

  /** Where the bytes not yet handed out begin. */
  get offset(): number {
    return this.start;
  }

  /** Takes bytes; returns the complete pieces (each ending on a boundary) with their offsets. */
  push(chunk: Buffer): { at: number; data: Buffer }[] {
    this.parts.push(chunk);
    this.held += chunk.length;
    const out: { at: number; data: Buffer }[] = [];
    for (;;) {
      const boundary = (Math.floor(this.start / this.chunkSize) + 1) * this.chunkSize;
      const need = boundary - this.start;
      if (this.held < need) break;
      const all = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.held);
      out.push({ at: this.start, data: all.subarray(0, need) });
      const rest = all.subarray(need);
      this.parts = rest.length ? [rest] : [];
      this.held = rest.length;
      this.start = boundary;
    }
    return out;
  }

  /** The bytes after the last boundary (the file's tail). */
  rest(): { at: number; data: Buffer } {
    const data = Buffer.concat(this.parts, this.held);
    const at = this.start;
    this.parts = [];
    this.start += this.held;
    this.held = 0;
    return { at, data };
  }
}

export interface PutOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** What the sessions need of the connector. */
export interface UploadDeps {
  client: DavClient;
  /** PUT of a buffer; retried once after making the parents when the server says one is missing (409). */
  putBuffer(url: URL, data: Buffer, op: string, opts?: PutOptions): Promise<HttpResponse>;
  /** MOVE with `Overwrite: T` onto a full `Destination` URL. */
  moveUrl(from: URL, to: URL, op: string, headers?: Record<string, string>, signal?: AbortSignal): Promise<HttpResponse>;
  deleteUrl(url: URL, op: string): Promise<void>;
}

// ---- generic: partial PUT into a temp file ----

export interface PartialPutState extends UploadState {
  offset: number;
  /** The temp file's name beside the target (derived from the target again on resume; informative). */
  tempName: string;
  size: number;
  mtimeMs: number;
}

function usablePartialState(resume: UploadState | undefined, tempName: string, source: UploadSource): boolean {
  const r = resume as Partial<PartialPutState> | undefined;
  return !!r && r.tempName === tempName && r.size === source.size && r.mtimeMs === source.mtimeMs;
}

export async function partialPutSession(
  deps: UploadDeps,
  o: { op: string; temp: URL; tempName: string; target: URL; source: UploadSource; chunkSize: number; resume?: UploadState; signal?: AbortSignal },
): Promise<UploadSession<PartialPutState>> {
  const { client } = deps;
  let committed = 0;
  if (usablePartialState(o.resume, o.tempName, o.source)) {
    // The server's size of the temp file is what a resume trusts: a ranged PUT cut in the middle
    // leaves the bytes that arrived, all of them this same source's bytes at their offsets.
    const held = await client.propfindOne(o.temp, `${o.op}: size of the partial upload`, o.signal).catch((err: unknown) =>
      isConnectorError(err, 'not_found') ? null : Promise.reject(err),
    );
    if (held && !held.isDir && held.size <= o.source.size) committed = held.size;
  }
  const cutter = new ChunkCutter(o.chunkSize, committed);
  let flushed = committed;
  let wroteAny = committed > 0;
  const send = async (at: number, data: Buffer) => {
    // The first bytes create (or truncate) the temp file; later ones are applied at their offset.
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (at > 0) headers['content-range'] = `bytes ${at}-${at + data.length - 1}/*`;
    const res = await deps.putBuffer(o.temp, data, `${o.op}: upload bytes ${at}-${at + data.length}`, { headers, signal: o.signal });
    await res.body.dump();
    flushed = at + data.length;
    wroteAny = true;
  };
  return {
    committed,
    async put(chunk) {
      for (const piece of cutter.push(chunk)) await send(piece.at, piece.data);
    },
    async checkpoint() {
      return { offset: flushed, tempName: o.tempName, size: o.source.size, mtimeMs: o.source.mtimeMs };
    },
    async commit() {
      const tail = cutter.rest();
      if (tail.data.length > 0 || !wroteAny) await send(tail.at, tail.data);
      const res = await deps.moveUrl(o.temp, o.target, `${o.op}: move the finished upload into place`, {}, o.signal);
      await res.body.dump();
    },
    async abort(discard) {
      if (discard) await deps.deleteUrl(o.temp, `${o.op}: discard the partial upload`).catch(() => {});
    },
  };
}

// ---- Nextcloud chunked upload v2 ----

export interface ChunkedState extends UploadState {
  offset: number;
  /** The upload folder's name under `/remote.php/dav/uploads/<user>/`. */
  uploadId: string;
  size: number;
  mtimeMs: number;
  chunkSize: number;
}

const UPLOAD_ID = /^knarr-[0-9a-f]{8,64}$/;

/** The chunk size a chunked upload of `size` bytes uses: at least 5 MiB, at most 10,000 chunks. */
export function nextcloudChunkSize(asked: number, size: number): number {
  return Math.max(asked, MIN_NEXTCLOUD_CHUNK, Math.ceil(size / MAX_NEXTCLOUD_CHUNKS));
}

/** Chunk `n` (1-based) is named so that name order is number order (Nextcloud assembles by name). */
export function chunkName(n: number): string {
  return String(n).padStart(5, '0');
}

export function usableChunkedState(resume: UploadState | undefined, source: Pick<UploadSource, 'size' | 'mtimeMs'>): ChunkedState | null {
  const r = resume as Partial<ChunkedState> | undefined;
  if (!r || typeof r.uploadId !== 'string' || !UPLOAD_ID.test(r.uploadId)) return null;
  if (r.size !== source.size || r.mtimeMs !== source.mtimeMs || typeof r.chunkSize !== 'number' || !(r.chunkSize >= MIN_NEXTCLOUD_CHUNK)) return null;
  return r as ChunkedState;
}

export function newUploadId(): string {
  return `knarr-${randomBytes(12).toString('hex')}`;
}

/** `OC-Checksum` of what is known: SHA1 first (what Nextcloud and rclone read back), else MD5. */
export function ocChecksum(hashes: { sha1?: string; md5?: string }): string | undefined {
  if (hashes.sha1 && /^[0-9a-f]{40}$/i.test(hashes.sha1)) return `SHA1:${hashes.sha1.toLowerCase()}`;
  if (hashes.md5 && /^[0-9a-f]{32}$/i.test(hashes.md5)) return `MD5:${hashes.md5.toLowerCase()}`;
  return undefined;
}

export function mtimeHeader(mtimeMs: number): string {
  return String(Math.floor(mtimeMs / 1000));
}

/**
 * The chunks an upload folder holds whole, as the parts of a file of `size` bytes cut every
 * `chunkSize` (chunk n is part n - 1): a chunk cut short is not held. Null when the folder is gone.
 */
export async function heldChunks(client: DavClient, folder: URL, size: number, chunkSize: number, op: string, signal?: AbortSignal): Promise<PartSet | null> {
  const held = new PartSet(size, chunkSize);
  const base = pathSegments(folder.pathname);
  try {
    for await (const items of client.propfind(folder, 1, op, signal)) {
      for (const item of items) {
        if (item.isDir || item.segments.length !== base.length + 1) continue;
        const name = item.segments[base.length];
        if (!/^\d{1,5}$/.test(name)) continue;
        const part = Number(name) - 1;
        if (part >= 0 && part < held.count && item.size === held.lengthOf(part)) held.add(part);
      }
    }
  } catch (err) {
    if (isConnectorError(err, 'not_found')) return null;
    throw err;
  }
  return held;
}

export interface ChunkedSession extends UploadSession<ChunkedState> {
  /** SHA1 of the whole file when every byte went through this session. */
  readonly computedSha1: string | undefined;
  /** The `X-OC-MTime` answer to the final MOVE (`accepted` when the server kept the time). */
  readonly mtimeAnswer: string | undefined;
}

export async function chunkedSession(
  deps: UploadDeps,
  o: { op: string; target: URL; source: UploadSource; chunkSize: number; resume?: UploadState; sendChecksum: boolean; signal?: AbortSignal },
): Promise<ChunkedSession> {
  const { client } = deps;
  const uploads = client.uploadsUrl;
  if (!uploads) throw new Error('chunked upload without an uploads URL');
  const { source, op, signal } = o;
  const total = String(source.size);
  const dest = o.target.href;
  const prior = usableChunkedState(o.resume, source);
  let uploadId = prior?.uploadId ?? newUploadId();
  const chunkSize = prior?.chunkSize ?? o.chunkSize;
  const folderOf = (id: string) => new URL(`${id}/`, uploads);
  let committed = 0;
  const held = prior ? await heldChunks(client, folderOf(uploadId), source.size, chunkSize, `${op}: chunks already uploaded`, signal) : null;
  if (held) {
    // Chunks are sent in order: the session goes on after the run of whole chunks from the first.
    committed = held.contiguousBytes();
  } else {
    // The folder of an earlier attempt expired (24 h) or was never made: start a new one.
    if (prior) uploadId = newUploadId();
    const res = await client.request({ method: 'MKCOL', url: folderOf(uploadId), op: `${op}: start a chunked upload`, headers: { destination: dest }, signal });
    await res.body.dump();
  }
  const folder = folderOf(uploadId);
  const sha1 = committed === 0 && o.sendChecksum && !ocChecksum(source.hashes) ? new MultiHash(['sha1']) : null;
  const cutter = new ChunkCutter(chunkSize, committed);
  let flushed = committed;
  let mtimeAnswer: string | undefined;
  const send = async (at: number, data: Buffer) => {
    const n = Math.floor(at / chunkSize) + 1;
    const url = new URL(chunkName(n), folder);
    const res = await deps.putBuffer(url, data, `${op}: upload chunk ${n}`, {
      headers: { destination: dest, 'oc-total-length': total, 'content-type': 'application/octet-stream' },
      signal,
    });
    await res.body.dump();
    flushed = at + data.length;
  };
  return {
    committed,
    get computedSha1() {
      return sha1 && sha1.bytes === source.size ? sha1.digest().sha1 : undefined;
    },
    get mtimeAnswer() {
      return mtimeAnswer;
    },
    async put(chunk) {
      sha1?.update(chunk);
      for (const piece of cutter.push(chunk)) await send(piece.at, piece.data);
    },
    async checkpoint() {
      return { offset: flushed, uploadId, size: source.size, mtimeMs: source.mtimeMs, chunkSize };
    },
    async commit() {
      const tail = cutter.rest();
      if (tail.data.length > 0) await send(tail.at, tail.data);
      const headers: Record<string, string> = { 'oc-total-length': total, 'x-oc-mtime': mtimeHeader(source.mtimeMs) };
      const checksum = o.sendChecksum ? ocChecksum({ ...source.hashes, ...(sha1 && sha1.bytes === source.size ? sha1.digest() : {}) }) : undefined;
      if (checksum) headers['oc-checksum'] = checksum;
      // 423 while the server assembles is `throttled` (errors.ts): the engine tries again later,
      // and the retry finds every chunk in the folder and only MOVEs.
      const res = await deps.moveUrl(new URL('.file', folder), o.target, `${op}: assemble the chunks`, headers, signal);
      mtimeAnswer = headerString(res.headers['x-oc-mtime']);
      await res.body.dump();
    },
    async abort(discard) {
      if (discard) await deps.deleteUrl(folder, `${op}: discard the chunked upload`).catch(() => {});
    },
  };
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

// ---- one streamed PUT ----

export interface StreamedPutSession extends UploadSession<UploadState> {
  readonly mtimeAnswer: string | undefined;
}

/**
 * One PUT carrying the whole file as a streamed body (after `offset` 0 only). Where it lands is
 * the caller's: a temp name then MOVE on servers that may keep half a file, the target itself on
 * servers that write to a part file first (Nextcloud).
 */
export function streamedPutSession(
  deps: UploadDeps,
  o: { op: string; url: URL; source: UploadSource; headers?: Record<string, string>; signal?: AbortSignal; after?: () => Promise<void>; onFail?: () => Promise<void> },
): StreamedPutSession {
  const body = new PassThrough();
  let failure: unknown;
  let mtimeAnswer: string | undefined;
  const response = deps.client
    .request({
      method: 'PUT',
      url: o.url,
      op: `${o.op}: upload`,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(o.source.size), ...o.headers },
      body,
      signal: o.signal,
      // undici's head timer runs while a slow body is still being sent.
      headersTimeoutMs: 0,
    })
    .then(async (res) => {
      mtimeAnswer = headerString(res.headers['x-oc-mtime']);
      await res.body.dump();
    });
  const settled = response.then(
    () => undefined,
    (err: unknown) => {
      failure = err;
    },
  );
  const mapped = () => toConnectorError(failure, `${o.op}: upload`, o.signal);
  return {
    committed: 0,
    get mtimeAnswer() {
      return mtimeAnswer;
    },
    async put(chunk) {
      if (failure !== undefined) throw mapped();
      if (!body.write(chunk)) await Promise.race([once(body, 'drain').catch(() => {}), settled]);
      if (failure !== undefined) throw mapped();
    },
    async checkpoint(offset) {
      // Never called: the upload runs as one chunk. A checkpoint would promise bytes no resume can use.
      throw new ConnectorError('unsupported', `${o.op}: a single PUT has no checkpoint (at ${offset})`);
    },
    async commit() {
      body.end();
      await settled;
      if (failure !== undefined) throw mapped();
      await o.after?.();
    },
    async abort() {
      body.destroy();
      await settled;
      await o.onFail?.().catch(() => {});
    },
  };
}

// ---- one PUT of a file held in memory ----

export interface BufferedPutSession extends UploadSession<UploadState> {
  /** The `OC-Checksum` sent, and the SHA1 computed here when it was. */
  readonly sent: { checksum?: string; sha1?: string };
}

/**
 * A file of at most one chunk, gathered in memory and sent in one PUT, so its `OC-Checksum` can go
 * in the headers, before the body: the source's own SHA1 (or MD5) when known, else the SHA1 of the
 * bytes gathered. Memory is bounded by the chunk size, as in a chunked upload.
 */
export function bufferedPutSession(
  deps: UploadDeps,
  o: { op: string; url: URL; source: UploadSource; headers: Record<string, string>; signal?: AbortSignal },
): BufferedPutSession {
  const parts: Buffer[] = [];
  const sent: { checksum?: string; sha1?: string } = {};
  return {
    committed: 0,
    sent,
    async put(chunk) {
      parts.push(chunk);
    },
    async checkpoint(offset) {
      throw new ConnectorError('unsupported', `${o.op}: a single PUT has no checkpoint (at ${offset})`);
    },
    async commit() {
      const data = Buffer.concat(parts);
      parts.length = 0;
      const headers: Record<string, string> = { 'content-type': 'application/octet-stream', ...o.headers };
      sent.checksum = ocChecksum(o.source.hashes);
      if (!sent.checksum) {
        const h = new MultiHash(['sha1']);
        h.update(data);
        sent.sha1 = h.digest().sha1;
        sent.checksum = `SHA1:${sent.sha1}`;
      }
      headers['oc-checksum'] = sent.checksum;
      const res = await deps.putBuffer(o.url, data, `${o.op}: upload`, { headers, signal: o.signal });
      await res.body.dump();
    },
    async abort() {
      parts.length = 0;
    },
  };
}
