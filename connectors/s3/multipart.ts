/**
 * Multipart uploads: the five calls (create, part, list parts, complete, abort), the resume
 * check against ListParts, and the two ways the engine feeds them: `driveUpload` sessions for
 * `write` (one part buffered at a time, sent in order) and a ChunkWriter for parallel parts.
 * An upload is never aborted on a failure worth retrying: its parts wait for the resume, and
 * `discardUpload` (a cancelled run) or a misdelivering source aborts it.
 */
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { ConnectorError, isConnectorError } from '../errors.js';
import type { HttpResponse } from '../shared/http.js';
import { checkPart, partCount, partLength as lengthOfPart } from '../shared/partSet.js';
import { headerValue } from '../shared/http.js';
import type { UploadSession } from '../shared/upload.js';
import type { ChunkWriter, UploadState, WriteResult } from '../types.js';
import type { S3Client } from './client.js';
import { mapS3Error } from './errors.js';
import { completeBody, parseListParts, parseS3Error, uploadIdOf, type ListedPart } from './wire.js';

/** What a resume needs; no secret in it. `parts`: [part number (1-based), ETag] of the parts held. */
export interface S3UploadState extends UploadState {
  offset: number;
  bucket: string;
  key: string;
  uploadId: string;
  partSize: number;
  size: number;
  parts: [number, string][];
}

export const md5Base64 = (data: Uint8Array): string => createHash('md5').update(data).digest('base64');
const sameEtag = (a: string, b: string) => a.replace(/"/g, '') === b.replace(/"/g, '');

export class MultipartOps {
  constructor(private readonly client: S3Client, private readonly remoteName: string) {}

  async create(key: string, headers: Record<string, string>, op: string, signal?: AbortSignal): Promise<string> {
    const { text } = await this.client.text({ method: 'POST', key, query: { uploads: '' }, headers, op: `${op}: start multipart upload`, signal });
    return uploadIdOf(text);
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, data: Buffer, op: string, signal?: AbortSignal): Promise<string> {
    const res = await this.client.send({
      method: 'PUT', key, query: { partNumber: String(partNumber), uploadId },
      headers: { 'content-length': String(data.length), 'content-md5': md5Base64(data) },
      body: data, op: `${op}: part ${partNumber}`, signal, headersTimeoutMs: 0,
    });
    await res.body.dump();
    const etag = headerValue(res.headers, 'etag');
    if (!etag) throw new ConnectorError('transient', `${op}: part ${partNumber} was answered without an ETag`);
    return etag;
  }

  async copyPart(key: string, uploadId: string, partNumber: number, copySource: string, range: [number, number], op: string): Promise<string> {
    const { status, text } = await this.client.text({
      method: 'PUT', key, query: { partNumber: String(partNumber), uploadId },
      headers: { 'x-amz-copy-source': copySource, 'x-amz-copy-source-range': `bytes=${range[0]}-${range[1]}` },
      op: `${op}: copy part ${partNumber}`,
    });
    if (parseS3Error(text)) throw mapS3Error(status, text, op, this.remoteName);
    const m = text.match(/<ETag>([^<]*)<\/ETag>/);
    if (!m) throw new ConnectorError('transient', `${op}: copied part ${partNumber} was answered without an ETag`);
    return m[1].replace(/&quot;|&#34;/g, '"');
  }

  /** Every part the provider holds (pages of 1000), or null when the upload no longer exists. */
  async listParts(key: string, uploadId: string, op: string, signal?: AbortSignal): Promise<ListedPart[] | null> {
    const all: ListedPart[] = [];
    let marker: string | undefined;
    for (;;) {
      const query: Record<string, string> = { uploadId, 'max-parts': '1000' };
      if (marker) query['part-number-marker'] = marker;
      let text: string;
      try {
        ({ text } = await this.client.text({ method: 'GET', key, query, op: `${op}: list parts`, signal }));
      } catch (err) {
        if (isConnectorError(err, 'not_found')) return null;
        throw err;
      }
      const page = parseListParts(text);
      all.push(...page.parts);
      if (!page.truncated || !page.nextMarker || page.nextMarker === marker) return all;
      marker = page.nextMarker;
    }
  }

  async complete(key: string, uploadId: string, parts: { partNumber: number; etag: string }[], op: string, signal?: AbortSignal): Promise<string> {
    const body = completeBody([...parts].sort((a, b) => a.partNumber - b.partNumber));
    const { status, text } = await this.client.text({
      method: 'POST', key, query: { uploadId }, headers: { 'content-type': 'application/xml', 'content-md5': md5Base64(Buffer.from(body)) },
      body, op: `${op}: complete multipart upload`, signal, headersTimeoutMs: 0,
    });
    // S3 may answer 200 and report the failure in the body (it finished assembling only then).
    if (parseS3Error(text)) throw mapS3Error(status === 200 ? 500 : status, text, `${op}: complete multipart upload`, this.remoteName);
    const m = text.match(/<ETag>([^<]*)<\/ETag>/);
    return m ? m[1].replace(/&quot;|&#34;/g, '"') : '';
  }

  /** Gone already counts as aborted. */
  async abort(key: string, uploadId: string, op: string): Promise<void> {
    try {
      const res = await this.client.send({ method: 'DELETE', key, query: { uploadId }, op: `${op}: abort multipart upload`, idempotent: true });
      await res.body.dump();
    } catch (err) {
      if (!isConnectorError(err, 'not_found')) throw err;
    }
  }
}

export interface PartPlan {
  bucket: string;
  key: string;
  size: number;
  partSize: number;
}

/** The length of S3's part `partNumber`, numbered from 1. */
export const partLength = (p: PartPlan, partNumber: number) => lengthOfPart(p.size, p.partSize, partNumber - 1);

/** A saved state that belongs to this upload (same bucket, key and size), or null. */
export function usableResume(resume: UploadState | undefined, bucket: string, key: string, size: number): S3UploadState | null {
  const r = resume as Partial<S3UploadState> | undefined;
  if (!r || r.bucket !== bucket || r.key !== key || r.size !== size || typeof r.uploadId !== 'string' || !(Number(r.partSize) > 0) || !Array.isArray(r.parts)) return null;
  return r as S3UploadState;
}

/**
 * The parts of a saved upload the provider really holds: listed by ListParts with the size this
 * upload gives that part and, where the state recorded an ETag (the part's MD5), the same ETag.
 * Null when the upload is gone (the write starts again).
 */
export async function heldParts(ops: MultipartOps, state: S3UploadState, op: string, signal?: AbortSignal): Promise<Map<number, string> | null> {
  const listed = await ops.listParts(state.key, state.uploadId, op, signal);
  if (!listed) return null;
  const saved = new Map(state.parts);
  const held = new Map<number, string>();
  const parts = partCount(state.size, state.partSize);
  for (const p of listed) {
    if (!(p.partNumber >= 1 && p.partNumber <= parts) || p.size !== partLength(state, p.partNumber)) continue;
    const want = saved.get(p.partNumber);
    if (want !== undefined && !sameEtag(want, p.etag)) continue;
    held.set(p.partNumber, p.etag);
  }
  return held;
}

export function stateOf(plan: PartPlan, uploadId: string, held: Map<number, string>): S3UploadState {
  let offset = 0;
  for (const n of held.keys()) offset += partLength(plan, n);
  return { offset, bucket: plan.bucket, key: plan.key, uploadId, partSize: plan.partSize, size: plan.size, parts: [...held].sort((a, b) => a[0] - b[0]) };
}

/** A `driveUpload` session over one multipart upload: parts are sent in order, one buffered at a time. */
export async function multipartSession(
  ops: MultipartOps, plan: PartPlan, createHeaders: Record<string, string>, resume: S3UploadState | null, op: string, signal: AbortSignal | undefined,
  onCommitted: (etag: string) => void,
): Promise<UploadSession<S3UploadState>> {
  let uploadId: string | undefined;
  let held = new Map<number, string>();
  if (resume && resume.partSize === plan.partSize) {
    const found = await heldParts(ops, resume, op, signal);
    if (found) {
      uploadId = resume.uploadId;
      held = found;
    }
  }
  uploadId ??= await ops.create(plan.key, createHeaders, op, signal);
  const id = uploadId;
  // driveUpload sends from the first part not held; later parts held are sent again (same number, same bytes).
  let next = 1;
  while (held.has(next)) next++;
  for (const n of [...held.keys()]) if (n > next) held.delete(n);
  const committed = Math.min(plan.size, (next - 1) * plan.partSize);
  const buffer = Buffer.allocUnsafe(Math.min(plan.partSize, Math.max(0, plan.size - committed)));
  let fill = 0;

  const flush = async () => {
    const data = buffer.subarray(0, fill);
    held.set(next, await ops.uploadPart(plan.key, id, next, data, op, signal));
    next++;
    fill = 0;
  };

  return {
    committed,
    async put(chunk) {
      for (let off = 0; off < chunk.length; ) {
        const want = partLength(plan, next);
        const n = Math.min(chunk.length - off, want - fill);
        chunk.copy(buffer, fill, off, off + n);
        fill += n;
        off += n;
        if (fill === want) await flush();
      }
    },
    async checkpoint() {
      return stateOf(plan, id, held);
    },
    async commit() {
      if (fill > 0) await flush();
      const parts = [...held].map(([partNumber, etag]) => ({ partNumber, etag }));
      onCommitted(await ops.complete(plan.key, id, parts, op, signal));
    },
    async abort(discard) {
      // Kept for the resume unless the bytes are wrong.
      if (discard) await ops.abort(plan.key, id, op);
    },
  };
}

/** A `driveUpload` session of one PUT whose body streams from the source. */
export function singlePutSession(
  send: (body: PassThrough) => Promise<HttpResponse>, op: string, onCommitted: (etag: string) => void,
): UploadSession<UploadState> {
  const body = new PassThrough();
  const response = send(body);
  let failed: unknown;
  response.catch((err: unknown) => {
    failed = err;
    body.destroy();
  });
  return {
    committed: 0,
    async put(chunk) {
      if (failed) throw failed;
      if (!body.write(chunk)) {
        await Promise.race([new Promise<void>((resolve) => body.once('drain', resolve)), response.then(() => {})]);
      }
      if (failed) throw failed;
    },
    async checkpoint(offset) {
      return { offset: 0, note: `a single PUT holds nothing before it ends (at ${offset})` };
    },
    async commit() {
      body.end();
      const res = await response;
      await res.body.dump();
      const etag = headerValue(res.headers, 'etag');
      if (etag === undefined) throw new ConnectorError('transient', `${op}: the PUT was answered without an ETag`);
      onCommitted(etag);
    },
    async abort() {
      body.destroy();
      await response.then((r) => r.body.dump(), () => {});
    },
  };
}

/** Parallel parts of one multipart upload (rclone's OpenChunkWriter). `part` is 0-based, S3's part numbers 1-based. */
export async function multipartChunkWriter(o: {
  ops: MultipartOps; plan: PartPlan; createHeaders: Record<string, string>; resume: S3UploadState | null; op: string; concurrency: number;
  signal?: AbortSignal;
  /** Turns the completed upload into the result the engine gets. */
  finish(etag: string, resumedFrom: number): Promise<WriteResult>;
  /** A zero-byte file cannot be a multipart upload: written with one PUT instead. */
  putEmpty(): Promise<WriteResult>;
}): Promise<ChunkWriter> {
  const { ops, plan, op } = o;
  let held = new Map<number, string>();
  let uploadId: string | undefined;
  if (o.resume) {
    const found = await heldParts(ops, o.resume, op, o.signal);
    if (found) {
      uploadId = o.resume.uploadId;
      held = found;
    }
  }
  uploadId ??= await ops.create(plan.key, o.createHeaders, op, o.signal);
  const id = uploadId;
  const parts = partCount(plan.size, plan.partSize);
  const resumedFrom = stateOf(plan, id, held).offset;
  return {
    partSize: plan.partSize,
    concurrency: o.concurrency,
    isDone: (part) => held.has(part + 1),
    async writeChunk(part, data, signal) {
      checkPart(plan.size, plan.partSize, part, data.length, op);
      const n = part + 1;
      // The pool's buffer is reused once this resolves; the request has read it by then.
      held.set(n, await ops.uploadPart(plan.key, id, n, data, op, signal));
    },
    state: () => stateOf(plan, id, held),
    async close(signal) {
      if (plan.size === 0) {
        await ops.abort(plan.key, id, op);
        return o.putEmpty();
      }
      if (held.size !== parts) throw new ConnectorError('corrupt', `${op}: ${parts - held.size} of ${parts} parts are missing; nothing was committed`);
      const etag = await ops.complete(plan.key, id, [...held].map(([partNumber, etag]) => ({ partNumber, etag })), op, signal);
      return o.finish(etag, resumedFrom);
    },
    async abandon() {
      // The parts stay for a resume; discardUpload aborts them when the run is cancelled.
    },
  };
}
