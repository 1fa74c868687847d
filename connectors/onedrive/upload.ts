/**
 * Uploads (shared/specs/providers.md A.3): a file within one chunk and at most 4 MiB by simple
 * PUT, then its time set by PATCH; anything larger through an upload session driven by the shared
 * `driveUpload`: fragments of a multiple of 320 KiB (under 60 MiB), resumed from the session's
 * `nextExpectedRanges`. The uploadUrl is the credential of the session: it is kept in the
 * UploadState (which the engine seals), sent without Authorization, and never put in a message.
 * quickXorHash is computed while the bytes stream and checked against what Graph stores; its
 * 20-byte state rides in each checkpoint, so a resumed upload is verified whole too.
 */
import type { Readable } from 'node:stream';
import type { Entry } from '../../core/entry.js';
import { ConnectorError, isConnectorError } from '../errors.js';
import { sourceFailure, type UploadSession } from '../shared/upload.js';
import type { UploadSource, UploadState, WriteOptions } from '../types.js';
import { readJson, type GraphClient } from './client.js';
import { QuickXorHash, quickXorHex, type QuickXorSnapshot } from '../shared/quickxor.js';
import { firstExpected, type DriveItem, type UploadSessionReply } from './wire.js';

export const FRAGMENT_MULTIPLE = 320 * 1024;
/** Each fragment must be under 60 MiB. */
export const MAX_FRAGMENT = Math.floor((60 * 1024 * 1024 - 1) / FRAGMENT_MULTIPLE) * FRAGMENT_MULTIPLE;
export const SIMPLE_UPLOAD_MAX = 4 * 1024 * 1024;

/** The checkpoint of an upload session. */
export interface OneDriveUploadState extends UploadState {
  uploadUrl: string;
  size: number;
  mtimeMs: number;
  /** quickXorHash of the bytes before `offset`. */
  quickxor?: QuickXorSnapshot;
}

/** `chunkSize` rounded down to what Graph takes: a multiple of 320 KiB, at least one, under 60 MiB. */
export function fragmentSize(chunkSize: number): number {
  return Math.min(MAX_FRAGMENT, Math.max(FRAGMENT_MULTIPLE, Math.floor(chunkSize / FRAGMENT_MULTIPLE) * FRAGMENT_MULTIPLE));
}

export function usableState(state: UploadState | undefined, source: UploadSource): OneDriveUploadState | undefined {
  const s = state as Partial<OneDriveUploadState> | undefined;
  if (!s || typeof s.uploadUrl !== 'string' || s.size !== source.size || s.mtimeMs !== source.mtimeMs) return undefined;
  return s as OneDriveUploadState;
}

export const graphTime = (ms: number): string => new Date(ms).toISOString();

/** The driveItem a finished upload answered, checked against the bytes that were sent. */
export function verified(op: string, item: DriveItem, size: number, hash: QuickXorHash): DriveItem {
  if (item.size !== undefined && item.size !== size) {
    throw new ConnectorError('corrupt', `${op}: Graph stored ${item.size} bytes of a file of ${size}`);
  }
  const stored = quickXorHex(item.file?.hashes?.quickXorHash);
  if (stored && hash.bytes === size && stored !== hash.digestHex()) {
    throw new ConnectorError('corrupt', `${op}: Graph's quickXorHash ${stored} differs from the ${hash.digestHex()} of the bytes sent`);
  }
  return item;
}

export interface SessionDeps {
  client: GraphClient;
  op: string;
  rel: string;
  source: UploadSource;
  opts: WriteOptions;
  fragment: number;
}

/**
 * One upload session as `driveUpload` drives it: bytes are gathered into fragments and each full
 * fragment is PUT at once, so every checkpoint (at fragment boundaries) is held by Graph.
 */
export class GraphUploadSession implements UploadSession<OneDriveUploadState> {
  committed = 0;
  /** The committed item once the last fragment is in. */
  item: DriveItem | undefined;
  hash = new QuickXorHash();
  private uploadUrl = '';
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Where `pending` starts. */
  private sentUpTo = 0;

  constructor(private readonly d: SessionDeps) {}

  /** Resumes the saved session where Graph still has it, else creates a new one. */
  async begin(): Promise<this> {
    const saved = usableState(this.d.opts.resume, this.d.source);
    if (saved) {
      const held = await this.held(saved.uploadUrl);
      if (held !== undefined && held <= this.d.source.size) {
        this.uploadUrl = saved.uploadUrl;
        this.committed = this.sentUpTo = held;
        this.hash = QuickXorHash.restore(saved.quickxor) ?? new QuickXorHash();
        if (this.hash.bytes > held) this.hash = new QuickXorHash();
        await this.hashGap(held);
        return this;
      }
    }
    await this.create();
    return this;
  }

  /** The session's first missing byte, or undefined when it expired (404) or says nothing usable. */
  private async held(uploadUrl: string): Promise<number | undefined> {
    const { op, opts } = this.d;
    try {
      const res = await this.d.client.unauthenticated({ method: 'GET', url: uploadUrl, op: `${op}: ask the upload session what it holds`, signal: opts.signal });
      return firstExpected((await readJson<UploadSessionReply>(res, op, opts.signal)).nextExpectedRanges);
    } catch (err) {
      if (isConnectorError(err, 'not_found')) return undefined;
      throw err;
    }
  }

  /** Reads the source's bytes the saved hash state has not seen, up to what Graph holds. */
  private async hashGap(held: number): Promise<void> {
    if (this.hash.bytes >= held) return;
    const { source, opts, op } = this.d;
    let stream: Readable | undefined;
    try {
      stream = await source.open(this.hash.bytes, opts.signal);
      for await (const raw of stream) {
        const chunk = typeof raw === 'string' ? Buffer.from(raw) : (raw as Buffer);
        const want = held - this.hash.bytes;
        this.hash.update(chunk.length > want ? chunk.subarray(0, want) : chunk);
        if (this.hash.bytes >= held) break;
      }
    } catch (err) {
      throw sourceFailure(err, op);
    } finally {
      stream?.destroy();
    }
    if (this.hash.bytes < held) throw new ConnectorError('corrupt', `${op}: the source ended after ${this.hash.bytes} bytes, before the ${held} the upload session holds`);
  }

  private async create(): Promise<void> {
    const { client, rel, source, op, opts } = this.d;
    const reply = await client.json<UploadSessionReply>({
      method: 'POST',
      url: await client.itemUrl(rel, '/createUploadSession', opts.signal),
      op: `${op}: create an upload session`,
      signal: opts.signal,
      json: {
        item: {
          '@microsoft.graph.conflictBehavior': 'replace',
          fileSystemInfo: { lastModifiedDateTime: graphTime(source.mtimeMs) },
        },
      },
    });
    if (!reply.uploadUrl) throw new ConnectorError('transient', `${op}: Graph answered createUploadSession without an uploadUrl`);
    this.uploadUrl = reply.uploadUrl;
    this.committed = this.sentUpTo = 0;
    this.hash = new QuickXorHash();
  }

  async put(chunk: Buffer, position: number): Promise<void> {
    if (position !== this.sentUpTo + this.pendingBytes) throw new ConnectorError('corrupt', `${this.d.op}: bytes at ${position} do not follow ${this.sentUpTo + this.pendingBytes}`);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= this.d.fragment && this.sentUpTo + this.pendingBytes < this.d.source.size) await this.sendFragment(this.d.fragment);
  }

  private async sendFragment(length: number): Promise<void> {
    const all = Buffer.concat(this.pending);
    const body = all.subarray(0, length);
    const rest = all.subarray(length);
    const { op, opts, source } = this.d;
    const from = this.sentUpTo;
    // Hashed as sent, so the state in a checkpoint is that of exactly the bytes Graph holds.
    this.hash.update(body);
    const res = await this.d.client.unauthenticated({
      method: 'PUT',
      url: this.uploadUrl,
      op: `${op}: upload bytes ${from}-${from + length - 1}`,
      headers: { 'content-length': String(length), 'content-range': `bytes ${from}-${from + length - 1}/${source.size}` },
      body,
      signal: opts.signal,
      // A cut fragment is the engine's to resume (from nextExpectedRanges), not resent blindly here.
      idempotent: false,
      headersTimeoutMs: 0,
    });
    this.sentUpTo += length;
    this.committed = this.sentUpTo;
    this.pending = rest.length ? [rest] : [];
    this.pendingBytes = rest.length;
    if (res.status === 200 || res.status === 201) this.item = await readJson<DriveItem>(res, op, opts.signal);
    else await res.body.dump();
  }

  /** The state of what Graph holds: up to the last whole fragment, which may lie before `_offset` when the source's pieces do not align with fragments. */
  async checkpoint(_offset: number): Promise<OneDriveUploadState> {
    return { offset: this.sentUpTo, uploadUrl: this.uploadUrl, size: this.d.source.size, mtimeMs: this.d.source.mtimeMs, quickxor: this.hash.snapshot() };
  }

  async commit(): Promise<void> {
    while (this.pendingBytes > 0) await this.sendFragment(Math.min(this.pendingBytes, this.d.fragment));
    if (!this.item) throw new ConnectorError('transient', `${this.d.op}: the upload session did not answer the finished item`);
    verified(this.d.op, this.item, this.d.source.size, this.hash);
  }

  async abort(discard: boolean): Promise<void> {
    if (!discard || !this.uploadUrl) return;
    const res = await this.d.client.unauthenticated({ method: 'DELETE', url: this.uploadUrl, op: `${this.d.op}: cancel the upload session`, accept: [404] });
    await res.body.dump();
  }
}

/** Entries from the finished item: the caller maps it (it knows the path). */
export type ItemToEntry = (item: DriveItem, rel: string) => Entry;
