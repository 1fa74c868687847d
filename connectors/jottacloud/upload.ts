/**
 * Uploads through the allocate API (shared/specs/jottacloud-api.md §7.1, §7.2):
 *
 *   1. the MD5 first — Jottacloud requires it before any byte (§7.1, #2462): the source's own
 *      (`source.hashes.md5`), else the one saved in the upload state by an earlier attempt at the
 *      same source, else a pre-pass over `source.open(0)`;
 *   2. `POST /files/v1/allocate {bytes, created, md5, modified, path}`. `COMPLETED`: the account
 *      already has this content (at this path, or anywhere: deduplicated), nothing is sent
 *      (`WriteResult.deduplicated`). `INCOMPLETE`/`CORRUPT`: send from `resume_pos`;
 *   3. `POST <upload_url>` with the rest of the file in one streamed request, as rclone does
 *      (`Range: bytes=<resume_pos>-<size-1>` when resuming). A cut connection leaves the server
 *      holding what arrived; the next attempt allocates again and continues at the new
 *      `resume_pos` (§7.2 "Resume in practice");
 *   4. the file is stat'ed at once, like rclone (§7.2 "After the upload"), and its MD5 checked.
 *
 * Checkpoints (`onCheckpoint`) come at chunk boundaries of the bytes handed to the connection.
 * The server's `resume_pos`, asked for again at every allocate, is what a resume trusts, so a
 * checkpoint that ran ahead of what the server stored costs nothing. The state keeps the MD5 so a
 * resumed attempt needs no second pre-pass over the source.
 *
 * The upload URL (and its upload_id, "possibly a JWT" [A]) is a bearer-like capability for this one
 * upload: it is never put in the upload state, logs or messages. Allocating again yields a fresh one.
 */
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { Entry } from '../../core/entry.js';
import { ConnectorError, isConnectorError } from '../errors.js';
import { MultiHash } from '../shared/hashing.js';
import { toConnectorError } from '../shared/http.js';
import { driveUpload, sourceFailure, type UploadSession } from '../shared/upload.js';
import type { UploadSource, UploadState, WriteOptions, WriteResult } from '../types.js';
import type { JottaClient } from './client.js';
import { formatAllocateTime, formatJottaTime, type AllocateRequestJson, type AllocateResponseJson, type UploadResponseJson } from './wire.js';
import { isByteCount } from '../shared/streams.js';

/** What survives between attempts: enough to skip the MD5 pre-pass, nothing secret. */
export interface JottaUploadState extends UploadState {
  /** Bytes handed to the connection (the server's resume_pos is authoritative). */
  offset: number;
  /** MD5 declared at allocate; reused only for a source of the same size and mtime. */
  md5: string;
  size: number;
  mtimeMs: number;
}

const MD5_HEX = /^[0-9a-f]{32}$/;
/** §7.2 / §7.1: the MD5 of zero bytes, which the real service deduplicates at allocate. */
export const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
/** During a pre-pass, heartbeat through onProgress this often (bytes hashed). */
const PREPASS_HEARTBEAT_BYTES = 8 * 1024 * 1024;

export interface UploadDeps {
  client: JottaClient;
  /** The committed file, as stat reports it; not_found when it is not (yet) visible. */
  stat(rel: string): Promise<Entry>;
  /** §5 cphash: makes `rel` hold `md5`/`size` without an upload, restoring it from the trash. */
  cphash(rel: string, md5: string, size: number, mtimeMs: number): Promise<void>;
}

/** How the MD5 was obtained, for the engine's events ("hashed the source in a pre-pass"). */
export type Md5Origin = 'source' | 'resume_state' | 'prepass';

export interface JottaWriteResult extends WriteResult {
  md5Origin: Md5Origin;
}

export async function uploadFile(deps: UploadDeps, rel: string, source: UploadSource, opts: WriteOptions, defaultChunkSize: number): Promise<JottaWriteResult> {
  const { signal } = opts;
  const op = `write ${JSON.stringify(rel)}`;
  let md5 = '';
  let origin = 'source' as Md5Origin;
  let upload: StreamedUpload | undefined;

  // The session: the MD5, then allocate, which says how much the server holds (resume_pos).
  const begin = async (): Promise<UploadSession<JottaUploadState>> => {
    ({ md5, origin } = await declaredMd5(source, opts, op));
    signal?.throwIfAborted();
    const allocation = await allocate(deps.client, rel, source, md5, op, signal);
    const state = allocation.state ?? '';
    // §7.1: nothing to upload — same content already at this path, or deduplicated from elsewhere.
    if (state === 'COMPLETED') return { complete: true, committed: source.size, put: nothing, checkpoint: nothing, commit: nothing, abort: nothing };
    if (state !== 'INCOMPLETE' && state !== 'CORRUPT') {
      throw new ConnectorError('transient', `${op}: allocate answered an unknown state ${JSON.stringify(state).slice(0, 40)}`);
    }
    const resumePos = allocation.resume_pos ?? 0;
    if (!isByteCount(resumePos) || resumePos > source.size) {
      throw new ConnectorError('transient', `${op}: allocate answered resume_pos ${resumePos} for a file of ${source.size} bytes`);
    }
    if (typeof allocation.upload_url !== 'string' || allocation.upload_url === '') {
      throw new ConnectorError('transient', `${op}: allocate answered ${state} without an upload_url`);
    }
    upload = new StreamedUpload(deps.client, allocation.upload_url, { op, resumePos, size: source.size, signal, hash: resumePos === 0 ? new MultiHash(['md5']) : undefined });
    const u = upload;
    return {
      committed: resumePos,
      put: (chunk) => u.put(chunk),
      // One streamed POST (as rclone): the server's resume_pos, asked for again at every allocate,
      // is what a resume trusts, so a checkpoint ahead of what the server stored costs nothing.
      checkpoint: async (offset) => ({ offset, md5, size: source.size, mtimeMs: source.mtimeMs }),
      commit: () => u.finish(),
      abort: () => u.abort(),
    };
  };

  const { resumedFrom } = await driveUpload({ op, source, opts, defaultChunkSize, begin });
  if (!upload) {
    const entry = await committed(deps, rel, md5, source, op);
    return { entry, resumedFrom: 0, deduplicated: true, hashes: origin === 'prepass' ? { md5 } : {}, md5Origin: origin };
  }
  // §7.2: the reply's md5 is the server's; a mismatch with what was declared means corruption.
  const reply = upload.reply;
  if (reply && typeof reply.md5 === 'string' && reply.md5.toLowerCase() !== md5) {
    throw new ConnectorError('corrupt', `${op}: Jottacloud stored MD5 ${reply.md5.toLowerCase()}, but ${md5} was sent`);
  }
  const entry = await committed(deps, rel, md5, source, op);
  const sent = upload.sentMd5;
  const hashes = origin === 'prepass' || sent === md5 ? { md5 } : {};
  return { entry, resumedFrom, deduplicated: false, hashes, md5Origin: origin };
}

const nothing = async (): Promise<never> => {
  throw new Error('a deduplicated upload has nothing to send');
};

/**
 * §7.2: `POST <upload_url>` with the rest of the file as one streamed body (`Range:
 * bytes=<resume_pos>-<size-1>` when resuming, as rclone). Bytes are put into the body with
 * backpressure; a failure of the request fails the next put. A cut connection leaves the server
 * holding what arrived; the next attempt allocates again and continues at the new resume_pos.
 */
class StreamedUpload {
  reply: UploadResponseJson | undefined;
  private readonly body = new PassThrough();
  private readonly response: Promise<UploadResponseJson | undefined>;
  /** Settles (never rejects) once the request has failed or answered. */
  private readonly settled: Promise<void>;
  private failure: unknown;

  constructor(
    client: JottaClient,
    url: string,
    private readonly o: { op: string; resumePos: number; size: number; signal?: AbortSignal; hash?: MultiHash },
  ) {
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'content-length': String(o.size - o.resumePos),
    };
    if (o.resumePos > 0 && o.resumePos < o.size) headers.range = `bytes=${o.resumePos}-${o.size - 1}`;
    this.response = client
      .authed({
        method: 'POST',
        url,
        op: `${o.op}: upload`,
        headers,
        body: this.body,
        signal: o.signal,
        // §11: uploads slow down gradually past 5 TB stored; undici's head timer runs while a slow
        // body is still being sent, so it is off here. The engine's heartbeats (fed by onProgress)
        // and the signal bound the attempt instead.
        headersTimeoutMs: 0,
      })
      .then(async (res) => (await res.body.json().catch(() => undefined)) as UploadResponseJson | undefined);
    this.settled = this.response.then(
      () => undefined,
      (err: unknown) => {
        this.failure = err;
      },
    );
  }

  /** The MD5 of the bytes sent, when the upload started at 0. */
  get sentMd5(): string | undefined {
    return this.o.hash?.digest().md5;
  }

  async put(chunk: Buffer): Promise<void> {
    if (this.failure !== undefined) throw this.mapped();
    this.o.hash?.update(chunk);
    if (!this.body.write(chunk)) await Promise.race([once(this.body, 'drain').catch(() => {}), this.settled]);
    if (this.failure !== undefined) throw this.mapped();
  }

  async finish(): Promise<void> {
    this.body.end();
    await this.settled;
    if (this.failure !== undefined) throw this.mapped();
    this.reply = await this.response;
  }

  async abort(): Promise<void> {
    this.body.destroy();
    await this.settled;
  }

  private mapped(): unknown {
    const e = toConnectorError(this.failure, `${this.o.op}: upload`, this.o.signal);
    // A 404 from the upload URL is about the upload session (expired, or already finished), not
    // the file: allocating again resumes from what the server holds.
    if (isConnectorError(e, 'not_found')) return new ConnectorError('transient', `${e.message} (the upload session is gone; the next attempt allocates again)`, { status: e.status, cause: e });
    return e;
  }
}

/** §7.1: the MD5 must be known before allocate. */
async function declaredMd5(source: UploadSource, opts: WriteOptions, op: string): Promise<{ md5: string; origin: Md5Origin }> {
  const known = source.hashes.md5?.toLowerCase();
  if (known && MD5_HEX.test(known)) return { md5: known, origin: 'source' };
  const r = opts.resume as Partial<JottaUploadState> | undefined;
  if (r && typeof r.md5 === 'string' && MD5_HEX.test(r.md5) && r.size === source.size && r.mtimeMs === source.mtimeMs) {
    return { md5: r.md5, origin: 'resume_state' };
  }
  if (source.size === 0) return { md5: EMPTY_MD5, origin: 'prepass' };
  return { md5: await prepass(source, opts, op), origin: 'prepass' };
}

/**
 * Hashes the whole source before the upload (rclone buffers to memory or a temp file instead,
 * §7.2 "Missing md5"; a second read of the source keeps memory flat). onProgress(0) is called as it
 * goes, so an activity heartbeating from onProgress stays alive through a long pre-pass.
 */
async function prepass(source: UploadSource, opts: WriteOptions, op: string): Promise<string> {
  const readable = await source.open(0, opts.signal).catch((err: unknown) => Promise.reject(sourceFailure(err, op)));
  const hash = new MultiHash(['md5']);
  let nextBeat = PREPASS_HEARTBEAT_BYTES;
  try {
    for await (const raw of readable) {
      opts.signal?.throwIfAborted();
      const chunk = typeof raw === 'string' ? Buffer.from(raw) : (raw as Buffer);
      hash.update(chunk);
      if (hash.bytes > source.size) throw sourceSize(op, `the source delivered more than its ${source.size} bytes`);
      if (hash.bytes >= nextBeat) {
        opts.onProgress?.(0);
        nextBeat += PREPASS_HEARTBEAT_BYTES;
      }
    }
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (err instanceof ConnectorError) throw err;
    throw sourceFailure(err, op);
  } finally {
    readable.destroy();
  }
  if (hash.bytes !== source.size) throw sourceSize(op, `the source ended after ${hash.bytes} of its ${source.size} bytes`);
  return hash.digest().md5 as string;
}

async function allocate(client: JottaClient, rel: string, source: UploadSource, md5: string, op: string, signal: AbortSignal | undefined): Promise<AllocateResponseJson> {
  const modified = formatAllocateTime(source.mtimeMs);
  // §7.1: created comes from btime, "otherwise equal to modified"; a source has no btime here.
  const body: AllocateRequestJson = { bytes: source.size, created: modified, md5, modified, path: client.loc.allocatePath(rel) };
  // §7.1: rclone makes the allocate call once (CallNoRetry); so does this (POST: never retried inline).
  const res = await client.authed({
    method: 'POST',
    url: `${client.apiBase}files/v1/allocate`,
    op: `${op}: allocate`,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
  const reply = (await res.body.json().catch(() => undefined)) as AllocateResponseJson | undefined;
  if (!reply || typeof reply !== 'object') throw new ConnectorError('transient', `${op}: allocate answered something other than JSON`);
  return reply;
}

/**
 * The file as the server now reports it. §7.2: rclone re-reads right after every upload and after
 * a COMPLETED allocate and expects a COMPLETED current revision. A COMPLETED allocate onto a path
 * whose file is in the trash is restored with cphash (§5: "a file in trash is restored"; rclone
 * repairs the same trash quirk of cp this way, #6112).
 */
async function committed(deps: UploadDeps, rel: string, md5: string, source: UploadSource, op: string): Promise<Entry> {
  let entry: Entry;
  try {
    try {
      entry = await deps.stat(rel);
    } catch (err) {
      if (!isConnectorError(err, 'not_found')) throw err;
      await deps.cphash(rel, md5, source.size, source.mtimeMs);
      entry = await deps.stat(rel);
    }
  } catch (err) {
    // Read-after-write should hold (§12.4); if it does not, the write did not finish as far as
    // anyone can see. Not not_found, which would read as "the path does not exist": try again.
    if (!isConnectorError(err, 'not_found')) throw err;
    throw new ConnectorError('transient', `${op}: the file is not visible after the upload (${err.message}); writing again is cheap (allocate answers COMPLETED)`, { cause: err });
  }
  if (entry.isDir) throw new ConnectorError('conflict', `${op}: a folder is at the path`);
  const got = entry.hashes.md5;
  if (entry.size !== source.size || (got !== undefined && got !== md5)) {
    throw new ConnectorError('corrupt', `${op}: Jottacloud reports ${entry.size} bytes with MD5 ${got ?? 'none'} after the upload, expected ${source.size} bytes with MD5 ${md5}`);
  }
  return entry;
}

function sourceSize(op: string, why: string): ConnectorError {
  return new ConnectorError('corrupt', `${op}: ${why}; the upload was stopped`);
}

/** §5 cphash headers: JSize, JMd5, JCreated, JModified (Jotta time format). */
export function cphashHeaders(md5: string, size: number, mtimeMs: number): Record<string, string> {
  const t = formatJottaTime(mtimeMs);
  return { JSize: String(size), JMd5: md5, JCreated: t, JModified: t };
}
