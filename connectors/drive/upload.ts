/**
 * Uploads (providers.md A.2 "Uploads", "Query the committed offset"):
 *
 *   - a file that fits in one chunk (and in 5 MiB) goes as one multipart request: JSON metadata
 *     then the bytes;
 *   - anything larger through a resumable session driven by `driveUpload`: the session URI is
 *     opened with the metadata (name, parent, `modifiedTime`), chunks of a multiple of 256 KiB
 *     follow with `Content-Range: bytes a-b/TOTAL`, each answered 308 with `Range: bytes=0-N`.
 *     The next byte sent is always N+1 as the server says: when it kept less of a chunk than was
 *     sent, the rest of the chunk (still in memory) goes again. The session URI is kept in the
 *     upload state, which the engine seals; a resume asks `bytes *` + `/TOTAL` for the committed
 *     offset and goes on from there, or opens a new session when Drive forgot the old one (404/410).
 *
 * MD5 is computed over the bytes streamed and must equal Drive's `md5Checksum` of the committed
 * file. A resumed upload did not stream the first bytes, so its check is against the MD5 the
 * source declared, when it declared one; otherwise Drive's MD5 is reported as the file's.
 *
 * The session URI lets anyone holding it finish the upload: it appears in no message or log.
 */
import { createHash, type Hash } from 'node:crypto';
import { ConnectorError } from '../errors.js';
import { headerValue, type HttpResponse } from '../shared/http.js';
import { driveUpload, type UploadSession } from '../shared/upload.js';
import type { UploadSource, UploadState, WriteOptions } from '../types.js';
import { readJson, type DriveClient } from './client.js';
import { UPLOAD_OP } from './errors.js';
import { FILE_FIELDS, rfc3339, sizeOf, type DriveFile } from './wire.js';

export const GRANULE = 256 * 1024;
/** Google's advice for a single multipart request. */
export const MULTIPART_MAX = 5 * 1024 * 1024;

export interface DriveUploadState extends UploadState {
  offset: number;
  /** The resumable session URI (a capability for this one upload). */
  session: string;
  size: number;
  mtimeMs: number;
  chunkSize: number;
  /** The file whose content is replaced; absent for a new file. */
  fileId?: string;
}

/** Where the bytes go: a new file `name` in `parentId`, or new content for `fileId`. */
export interface UploadTarget {
  name: string;
  parentId: string;
  fileId?: string;
}

export interface UploadOutcome {
  file: DriveFile;
  resumedFrom: number;
  /** The MD5 of the bytes streamed, when the whole file was streamed here. */
  md5?: string;
}

/** A chunk size Drive takes: a multiple of 256 KiB, at least one. */
export function driveChunkSize(asked: number): number {
  return Math.max(GRANULE, Math.floor(asked / GRANULE) * GRANULE);
}

function metadata(target: UploadTarget, source: UploadSource): Record<string, unknown> {
  const meta: Record<string, unknown> = { modifiedTime: rfc3339(source.mtimeMs) };
  if (!target.fileId) {
    meta.name = target.name;
    meta.parents = [target.parentId];
  }
  return meta;
}

export async function uploadFile(client: DriveClient, target: UploadTarget, source: UploadSource, opts: WriteOptions, defaultChunkSize: number, op: string): Promise<UploadOutcome> {
  const chunkSize = driveChunkSize(opts.chunkSize ?? defaultChunkSize);
  const resume = usableState(client, opts.resume, source, target);
  const outcome = source.size <= Math.min(chunkSize, MULTIPART_MAX) && !resume ? await multipart(client, target, source, opts, op) : await resumable(client, target, source, { ...opts, chunkSize }, resume, op);
  const size = sizeOf(outcome.file);
  if (size !== source.size) throw new ConnectorError('corrupt', `${op}: Drive holds ${size ?? 'no'} bytes after the upload, ${source.size} were sent`);
  const expected = outcome.md5 ?? source.hashes.md5?.toLowerCase();
  const got = outcome.file.md5Checksum?.toLowerCase();
  if (expected && got && expected !== got) throw new ConnectorError('corrupt', `${op}: Drive reports MD5 ${got}, the bytes sent have MD5 ${expected}`);
  return outcome;
}

/** The saved state, when it is of this same upload and its session is at the API's own host. */
function usableState(client: DriveClient, resume: UploadState | undefined, source: UploadSource, target: UploadTarget): DriveUploadState | undefined {
  const r = resume as Partial<DriveUploadState> | undefined;
  if (!r || typeof r.session !== 'string' || r.size !== source.size || r.mtimeMs !== source.mtimeMs || r.fileId !== target.fileId) return undefined;
  try {
    if (new URL(r.session).origin !== new URL(client.upload).origin) return undefined;
  } catch {
    return undefined;
  }
  return r as DriveUploadState;
}

async function multipart(client: DriveClient, target: UploadTarget, source: UploadSource, opts: WriteOptions, op: string): Promise<UploadOutcome> {
  const send = async (data: Buffer): Promise<DriveFile> => {
    const boundary = `knarr${createHash('md5').update(data).digest('hex').slice(0, 16)}`;
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n${JSON.stringify(metadata(target, source))}\r\n--${boundary}\r\nContent-Type: application/octet-stream\r\n\r\n`),
      data,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const path = target.fileId ? `/files/${encodeURIComponent(target.fileId)}` : '/files';
    return client.json<DriveFile>({
      method: target.fileId ? 'PATCH' : 'POST',
      url: client.url(path, { uploadType: 'multipart', fields: FILE_FIELDS }, client.upload),
      op: `${op}${UPLOAD_OP}`,
      headers: { 'content-type': `multipart/related; boundary=${boundary}` },
      body,
      signal: opts.signal,
    });
  };
  if (source.data && source.data.length === source.size) {
    opts.signal?.throwIfAborted();
    const file = await send(source.data);
    opts.onProgress?.(source.size);
    return { file, resumedFrom: 0, md5: createHash('md5').update(source.data).digest('hex') };
  }
  const parts: Buffer[] = [];
  let file: DriveFile | undefined;
  let md5 = '';
  await driveUpload({
    op,
    source,
    // One request: nothing in the middle could be resumed from.
    opts: { ...opts, chunkSize: Number.POSITIVE_INFINITY, resume: undefined },
    defaultChunkSize: Number.POSITIVE_INFINITY,
    begin: async () => ({
      committed: 0,
      put: async (chunk) => void parts.push(chunk),
      checkpoint: async (offset) => ({ offset }),
      commit: async () => {
        const data = Buffer.concat(parts);
        md5 = createHash('md5').update(data).digest('hex');
        file = await send(data);
      },
      abort: async () => {},
    }),
  });
  return { file: file as DriveFile, resumedFrom: 0, md5 };
}

async function resumable(client: DriveClient, target: UploadTarget, source: UploadSource, opts: WriteOptions & { chunkSize: number }, resume: DriveUploadState | undefined, op: string): Promise<UploadOutcome> {
  let session: ResumableSession | undefined;
  const { resumedFrom } = await driveUpload<DriveUploadState>({
    op,
    source,
    opts,
    defaultChunkSize: opts.chunkSize,
    begin: async () => {
      let uri: string | undefined;
      let held = 0;
      let done: DriveFile | undefined;
      if (resume) {
        const status = await queryStatus(client, resume.session, source.size, op, opts.signal);
        if (status !== 'gone') {
          uri = resume.session;
          held = status.held;
          done = status.file;
        }
      }
      uri ??= await openSession(client, target, source, op, opts.signal);
      session = new ResumableSession(client, uri, { op, size: source.size, mtimeMs: source.mtimeMs, chunkSize: opts.chunkSize, fileId: target.fileId, signal: opts.signal }, held, done);
      return session;
    },
  });
  const s = session as ResumableSession;
  if (!s.file) throw new ConnectorError('transient', `${op}: the upload ended without Drive's file`);
  return { file: s.file, resumedFrom: s.done ? source.size : resumedFrom, md5: s.md5 };
}

async function openSession(client: DriveClient, target: UploadTarget, source: UploadSource, op: string, signal?: AbortSignal): Promise<string> {
  const path = target.fileId ? `/files/${encodeURIComponent(target.fileId)}` : '/files';
  const res = await client.request({
    method: target.fileId ? 'PATCH' : 'POST',
    url: client.url(path, { uploadType: 'resumable', fields: FILE_FIELDS }, client.upload),
    op: `${op}${UPLOAD_OP}: open the session`,
    headers: {
      'content-type': 'application/json; charset=UTF-8',
      'x-upload-content-type': 'application/octet-stream',
      'x-upload-content-length': String(source.size),
    },
    body: JSON.stringify(metadata(target, source)),
    signal,
  });
  await res.body.dump();
  const location = headerValue(res.headers, 'location');
  let ok = false;
  try {
    ok = location !== undefined && new URL(location).origin === new URL(client.upload).origin;
  } catch {
    ok = false;
  }
  if (!ok) throw new ConnectorError('transient', `${op}: Drive opened the upload session without a usable Location`);
  return location as string;
}

/** `bytes *` + `/TOTAL` on the session: how much Drive holds, the file when it is complete, or gone. */
async function queryStatus(client: DriveClient, uri: string, size: number, op: string, signal?: AbortSignal): Promise<{ held: number; file?: DriveFile } | 'gone'> {
  const qop = `${op}${UPLOAD_OP}: ask the session what it holds`;
  const res = await client.request({ method: 'PUT', url: uri, op: qop, headers: { 'content-range': `bytes */${size}` }, body: '', signal, accept: [308, 404, 410] });
  if (res.status === 404 || res.status === 410) {
    await res.body.dump();
    return 'gone';
  }
  if (res.status === 308) {
    await res.body.dump();
    return { held: heldOf(res) };
  }
  return { held: size, file: await readJson<DriveFile>(res, qop, signal) };
}

/** `Range: bytes=0-N` of a 308: N+1 bytes held; no Range: none. */
function heldOf(res: HttpResponse): number {
  const m = /^bytes=0-(\d+)$/.exec(headerValue(res.headers, 'range') ?? '');
  return m ? Number(m[1]) + 1 : 0;
}

class ResumableSession implements UploadSession<DriveUploadState> {
  readonly committed: number;
  readonly complete: boolean;
  file: DriveFile | undefined;
  readonly done: boolean;
  private readonly hash: Hash | undefined;
  private buf: Buffer[] = [];
  private bufLen = 0;
  /** File offset of the first buffered byte: what Drive holds. */
  private held: number;

  constructor(
    private readonly client: DriveClient,
    private readonly uri: string,
    private readonly o: { op: string; size: number; mtimeMs: number; chunkSize: number; fileId?: string; signal?: AbortSignal },
    held: number,
    done: DriveFile | undefined,
  ) {
    this.committed = held;
    this.held = held;
    this.file = done;
    this.done = done !== undefined;
    this.complete = this.done;
    this.hash = held === 0 ? createHash('md5') : undefined;
  }

  get md5(): string | undefined {
    return this.hash && this.held === this.o.size && !this.done ? this.digest : undefined;
  }

  private digest: string | undefined;

  async put(chunk: Buffer): Promise<void> {
    this.hash?.update(chunk);
    this.buf.push(chunk);
    this.bufLen += chunk.length;
    // Whole chunks go as soon as they are here, counted from the file's start; the last waits for commit.
    for (;;) {
      const boundary = (Math.floor(this.held / this.o.chunkSize) + 1) * this.o.chunkSize;
      if (boundary >= this.o.size || this.held + this.bufLen < boundary) return;
      await this.send(boundary - this.held, false);
    }
  }

  async checkpoint(): Promise<DriveUploadState> {
    return { offset: this.held, session: this.uri, size: this.o.size, mtimeMs: this.o.mtimeMs, chunkSize: this.o.chunkSize, ...(this.o.fileId ? { fileId: this.o.fileId } : {}) };
  }

  async commit(): Promise<void> {
    await this.send(this.bufLen, true);
    if (this.hash) this.digest = this.hash.digest('hex');
  }

  /** A misdelivering source leaves bytes Drive must not keep: the session is cancelled. Otherwise it stays for a resume. */
  async abort(discard: boolean): Promise<void> {
    if (!discard) return;
    const res = await this.client.request({ method: 'DELETE', url: this.uri, op: `${this.o.op}${UPLOAD_OP}: cancel the session`, accept: [404, 410, 499] });
    await res.body.dump();
  }

  private take(n: number): Buffer {
    const all = this.buf.length === 1 ? this.buf[0] : Buffer.concat(this.buf);
    const head = all.subarray(0, n);
    const rest = all.subarray(n);
    this.buf = rest.length ? [rest] : [];
    this.bufLen = rest.length;
    return head;
  }

  /** Sends `n` buffered bytes; what Drive did not keep of them is sent again (at most a few times without progress). */
  private async send(n: number, final: boolean): Promise<void> {
    let data = this.take(n);
    let from = this.held;
    const end = from + data.length;
    for (let stalls = 0; ; ) {
      const op = `${this.o.op}${UPLOAD_OP}: bytes ${from}-${end - 1} of ${this.o.size}`;
      const res = await this.client.request({
        method: 'PUT',
        url: this.uri,
        op,
        headers: { 'content-range': data.length ? `bytes ${from}-${end - 1}/${this.o.size}` : `bytes */${this.o.size}`, 'content-type': 'application/octet-stream' },
        body: data,
        signal: this.o.signal,
        accept: [308],
        // A slow chunk is not a dead server: the engine's heartbeats and the signal bound it.
        headersTimeoutMs: 0,
      });
      if (res.status !== 308) {
        if (!final) {
          await res.body.dump();
          throw new ConnectorError('transient', `${op}: Drive finished the upload before its last byte`);
        }
        this.file = await readJson<DriveFile>(res, op, this.o.signal);
        this.held = this.o.size;
        return;
      }
      await res.body.dump();
      const held = heldOf(res);
      if (held < from) throw new ConnectorError('transient', `${op}: Drive holds ${held} bytes, fewer than it confirmed before; the next attempt resumes from there`);
      const progressed = held > from;
      this.held = Math.min(held, end);
      if (held >= end && !final) return;
      if (held >= end && final) throw new ConnectorError('transient', `${op}: Drive holds every byte but did not finish the file`);
      data = data.subarray(held - from);
      from = held;
      stalls = progressed ? 0 : stalls + 1;
      if (stalls >= 3) throw new ConnectorError('transient', `${op}: Drive keeps none of the chunk; the next attempt resumes from ${held}`);
    }
  }
}
