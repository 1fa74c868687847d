/**
 * The Dropbox connector (API v2; facts: shared/specs/providers.md A.4; the model is rclone's
 * backend/dropbox). Paths are case-insensitive and case-preserving; names are encoded as rclone's
 * default Dropbox encoding (Slash, BackSlash, Del, RightSpace, InvalidUtf8, Dot) so both tools
 * read the same tree. Small files commit in `finish_batch_v2` batches, large ones through resumable
 * upload sessions; the change feed is the `list_folder` cursor.
 */
import type { Readable } from 'node:stream';
import type { Entry } from '../../core/entry.js';
import { joinPath } from '../../core/paths.js';
import { ConnectorError } from '../errors.js';
import { nameEncoder, type NameEncoder } from '../shared/encoder.js';
import { HttpClient, rangedBody } from '../shared/http.js';
import { OAuth2Auth, oauthAuthMessage, type OAuthProvider, type OAuthSettings } from '../shared/oauth2.js';
import { connectorPath } from '../shared/paths.js';
import { checkedRange, emptyRead, rangeHeader } from '../shared/ranges.js';
import { driveUpload } from '../shared/upload.js';
import type {
  About,
  Capabilities,
  ChangeBatch,
  ChunkWriter,
  ChunkWriterOptions,
  Connector,
  ConnectorContext,
  DeleteOptions,
  ListNotice,
  ListOptions,
  ReadOptions,
  UploadSource,
  WriteOptions,
  WriteResult,
} from '../types.js';
import { FinishBatcher } from './batcher.js';
import { openConcurrentWriter } from './chunkWriter.js';
import { DropboxClient } from './client.js';
import { dropboxContentHash } from '../shared/dropboxHash.js';
import { DropboxError, dropboxStatusMapper } from './errors.js';
import { gatherUpload, MAX_REQUEST_BYTES, sessionUpload, verifiedHash, type SessionUpload } from './upload.js';
import { dropboxTime, type CommitInfo, type FileMetadata, type FinishBatchEntry, type ListFolderResult, type Metadata, type SpaceUsage } from './wire.js';

export const dropboxOAuth: OAuthProvider = Object.freeze({
  name: 'Dropbox',
  authUrl: 'https://www.dropbox.com/oauth2/authorize',
  tokenUrl: 'https://api.dropboxapi.com/oauth2/token',
  scopes: ['account_info.read', 'files.metadata.read', 'files.metadata.write', 'files.content.read', 'files.content.write'],
  envPrefix: 'DROPBOX',
  // Without it Dropbox gives a short-lived access token and no refresh token.
  authParams: { token_access_type: 'offline' },
});

export interface DropboxConfig extends OAuthSettings {
  /** The folder of the Dropbox the remote is rooted at (`Backups/2024`); the whole Dropbox when absent. */
  root?: string;
  /** The RPC host (`https://api.dropboxapi.com`), for an emulator. */
  apiUrl?: string;
  /** The content host (`https://content.dropboxapi.com`), for an emulator. */
  contentUrl?: string;
}

export interface DropboxConnectorOptions {
  connections?: number;
  /** Extra CA certificates (PEM) to trust (an emulator's). */
  ca?: string | string[];
  /** Commits per finish_batch_v2 call (≤ 1000) and the longest a commit waits for others, ms. */
  batchSize?: number;
  batchDelayMs?: number;
}

/** Dropbox's limit on one name, in characters. */
export const MAX_NAME_LENGTH = 255;
const PAGE_LIMIT = 2000;
/** Dropbox takes files up to 350 GB through upload sessions. */
const MAX_FILE_SIZE = 350 * 1000 ** 3;
/** Parts of a concurrent session, and appends where it matters, are multiples of this. */
export const DROPBOX_UNIT = 4 * 1024 * 1024;

/** rclone's default Dropbox encoding: Slash, BackSlash, Del, RightSpace, InvalidUtf8, Dot. */
export const dropboxNameRules = Object.freeze({ forbiddenChars: '\\', del: true, trailingSpace: true, invalidUnicode: true, dotNames: true });

export const dropboxCapabilities: Capabilities = Object.freeze({
  hashes: ['dropbox'] as const,
  hashBeforeUpload: null,
  resumableUpload: true,
  serverSideCopy: true,
  serverSideMove: true,
  caseInsensitive: true,
  maxNameLength: MAX_NAME_LENGTH,
  nameRules: dropboxNameRules,
  maxFileSize: MAX_FILE_SIZE,
  preferredChunkSize: 16 * 1024 * 1024,
  // client_modified is kept to the second.
  mtimePrecisionMs: 1000,
  setModTime: true,
  recursiveList: true,
  // list_folder/continue names every deleted path, and a move as a delete at the old path.
  changeFeedDeletes: true,
});

const q = (p: string) => JSON.stringify(p);

export function createDropboxConnector(config: DropboxConfig, ctx: ConnectorContext, opts: DropboxConnectorOptions = {}): DropboxConnector {
  return new DropboxConnector(config, ctx, opts);
}

export class DropboxConnector implements Connector {
  readonly type = 'dropbox';
  readonly capabilities = dropboxCapabilities;
  readonly client: DropboxClient;
  readonly auth: OAuth2Auth;
  readonly batcher: FinishBatcher;
  private readonly http: HttpClient;
  private readonly names: NameEncoder = nameEncoder(dropboxNameRules);
  /** The root below the Dropbox's top, in core/paths form, decoded. */
  private readonly root: string;
  private readonly rootSegments: number;

  constructor(config: DropboxConfig, ctx: ConnectorContext, opts: DropboxConnectorOptions = {}) {
    this.http = new HttpClient({
      connections: opts.connections,
      ca: opts.ca,
      mapStatus: dropboxStatusMapper((detail) => oauthAuthMessage(dropboxOAuth, ctx.remoteName, detail)),
      pacer: { maxSleepMs: 2_000 },
      privateNetworks: ctx.host.privateNetworks,
    });
    this.auth = new OAuth2Auth(this.http, ctx, dropboxOAuth, config);
    this.client = new DropboxClient(this.http, this.auth, config.apiUrl ?? 'https://api.dropboxapi.com', config.contentUrl ?? 'https://content.dropboxapi.com');
    this.root = connectorPath((config.root ?? '').replace(/^\/+/, ''), 'root');
    this.rootSegments = this.root === '' ? 0 : this.root.split('/').length;
    this.batcher = new FinishBatcher(
      async (entries) =>
        (await this.client.rpc<{ entries: FinishBatchEntry[] }>('files/upload_session/finish_batch_v2', { entries }, `commit ${entries.length} uploaded files`)).entries,
      { maxBatch: Math.min(1000, Math.max(1, opts.batchSize ?? 100)), maxDelayMs: opts.batchDelayMs ?? 200 },
    );
  }

  // ---- paths ----

  private checked(path: string, op: string): string {
    const rel = connectorPath(path, op);
    for (const seg of rel === '' ? [] : rel.split('/')) {
      if (this.names.encode(seg).length > MAX_NAME_LENGTH) throw new ConnectorError('invalid_name', `${op} ${q(path)}: the name ${q(seg.slice(0, 40))}… is longer than ${MAX_NAME_LENGTH} characters`);
    }
    return rel;
  }

  /** The Dropbox path of a remote path: "" for the Dropbox's top, else "/a/b" with every name encoded. */
  private apiPath(rel: string): string {
    const full = joinPath(this.root, rel);
    return full === '' ? '' : `/${this.names.encodePath(full)}`;
  }

  /** The remote path of a Dropbox display path (null when outside the root). Only the last name's case is reliable. */
  private relOf(display: string): string | null {
    const segs = display.split('/').slice(1);
    if (segs.length < this.rootSegments) return null;
    return segs.slice(this.rootSegments).map((s) => this.names.decode(s)).join('/');
  }

  // ---- reading the tree ----

  async *list(dir: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    const rel = this.checked(dir, 'list');
    yield* this.listing(rel, false, `list ${q(rel)}`, opts);
  }

  async *walk(root: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    const rel = this.checked(root, 'walk');
    yield* this.listing(rel, true, `walk ${q(rel)}`, opts);
  }

  private async *listing(rel: string, recursive: boolean, op: string, opts: ListOptions): AsyncGenerator<Entry[]> {
    const folders = new Map<string, string>();
    let page = await this.client.rpc<ListFolderResult>('files/list_folder', { path: this.apiPath(rel), recursive, limit: PAGE_LIMIT, include_non_downloadable_files: true }, op, { signal: opts.signal, idempotent: true });
    const rootLower = this.apiPath(rel).toLowerCase();
    for (;;) {
      const entries: Entry[] = [];
      for (const m of page.entries) {
        if (m['.tag'] === 'deleted' || m.path_lower === rootLower) continue;
        const e = this.entryOf(m, recursive ? folders : null, rel, opts.onNotice);
        if (e) entries.push(e);
      }
      if (entries.length > 0) yield entries;
      if (!page.has_more) return;
      opts.signal?.throwIfAborted();
      page = await this.client.rpc<ListFolderResult>('files/list_folder/continue', { cursor: page.cursor }, `${op}: next page`, { signal: opts.signal, idempotent: true });
    }
  }

  /**
   * An entry of a listing: its path from the parent's (a folder seen earlier in this listing, or
   * the listed folder) and its own decoded name, since Dropbox vouches only for the last name's
   * case. Null, with a notice, for what cannot be copied or addressed.
   */
  private entryOf(m: Exclude<Metadata, { '.tag': 'deleted' }>, folders: Map<string, string> | null, listed: string | null, onNotice?: (n: ListNotice) => void): Entry | null {
    const parentLower = (m.path_lower ?? '').slice(0, Math.max(0, (m.path_lower ?? '').lastIndexOf('/')));
    const parent = folders?.get(parentLower) ?? (folders === null && listed !== null ? listed : this.relOf((m.path_display ?? '').slice(0, Math.max(0, (m.path_display ?? '').lastIndexOf('/')))));
    if (parent === null) return null;
    const name = this.names.decode(m.name);
    const path = joinPath(parent, name);
    if (this.names.encode(name) !== m.name) {
      onNotice?.({ path, kind: 'unencodable', message: `Dropbox holds the name ${q(m.name)}, which knarr cannot address as it is (it would write it back as ${q(this.names.encode(name))}); skipped` });
      return null;
    }
    if (m['.tag'] === 'folder') {
      folders?.set(m.path_lower ?? '', path);
      return { path, isDir: true, size: 0, mtimeMs: 0, hashes: {} };
    }
    if (m.is_downloadable === false) {
      onNotice?.({ path, kind: 'skipped', message: 'a Dropbox file with no bytes to download (a Paper doc or a cloud-only file); not copied' });
      return null;
    }
    return fileEntry(path, m);
  }

  async stat(path: string, opts: ListOptions = {}): Promise<Entry> {
    const rel = this.checked(path, 'stat');
    const op = `stat ${q(rel)}`;
    if (this.apiPath(rel) === '') return { path: '', isDir: true, size: 0, mtimeMs: 0, hashes: {} };
    const m = await this.client.rpc<Metadata>('files/get_metadata', { path: this.apiPath(rel) }, op, { signal: opts.signal, idempotent: true });
    if (m['.tag'] === 'deleted') throw new ConnectorError('not_found', `${op}: deleted`);
    if (m['.tag'] === 'folder') return { path: rel, isDir: true, size: 0, mtimeMs: 0, hashes: {} };
    return fileEntry(rel, m);
  }

  // ---- bytes ----

  async read(path: string, opts: ReadOptions = {}): Promise<Readable> {
    const rel = this.checked(path, 'read');
    const op = `read ${q(rel)}`;
    const range = checkedRange(op, opts, this.apiPath(rel));
    if (range.length === 0) return emptyRead(op, () => this.stat(rel, { signal: range.signal }));
    const res = await this.client.download({ path: this.apiPath(rel) }, rangeHeader(range.offset, range.length), op, { signal: range.signal, accept: [416] });
    return rangedBody(res, op, range);
  }

  private commitInfo(rel: string, mtimeMs: number): CommitInfo {
    return { path: this.apiPath(rel), mode: 'overwrite', autorename: false, client_modified: dropboxTime(mtimeMs), mute: true, strict_conflict: false };
  }

  private chunkSizeOf(asked: number | undefined): number {
    return Math.min(MAX_REQUEST_BYTES, Math.max(1, asked ?? this.capabilities.preferredChunkSize));
  }

  async write(path: string, source: UploadSource, opts: WriteOptions = {}): Promise<WriteResult> {
    const rel = this.checked(path, 'write');
    const op = `write ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root, not a file`);
    opts.signal?.throwIfAborted();
    const chunkSize = this.chunkSizeOf(opts.chunkSize);
    const commit = this.commitInfo(rel, source.mtimeMs);
    if (source.size <= chunkSize && !opts.resume) return this.writeSmall(rel, op, source, commit, opts);

    let session: SessionUpload | undefined;
    const { resumedFrom } = await driveUpload({
      op,
      source,
      opts: { ...opts, chunkSize },
      defaultChunkSize: chunkSize,
      begin: async () => (session = await sessionUpload(this.client, { op, source, commit, chunkSize, resume: opts.resume, signal: opts.signal })),
    });
    const done = session as SessionUpload;
    const meta = done.result as FileMetadata;
    verifiedHash(meta, done.computedHash, op);
    return { entry: fileEntry(rel, meta), resumedFrom, deduplicated: false, hashes: done.computedHash ? { dropbox: done.computedHash } : {} };
  }

  /** One request with the bytes (`start`, closed), the commit in a batch with other small files. */
  private async writeSmall(rel: string, op: string, source: UploadSource, commit: CommitInfo, opts: WriteOptions): Promise<WriteResult> {
    const queued = this.batcher.begin();
    try {
      let meta: FileMetadata | undefined;
      let hash = '';
      const send = async (data: Buffer) => {
        hash = dropboxContentHash(data);
        const { session_id } = await this.client.upload<{ session_id: string }>('files/upload_session/start', { close: true, content_hash: hash }, data, `${op}: upload`, { signal: opts.signal });
        opts.onProgress?.(data.length);
        const pending = this.batcher.finish({ cursor: { session_id, offset: data.length }, commit }, op, opts.signal);
        queued();
        meta = await pending;
      };
      if (source.data && source.data.length === source.size) {
        await send(source.data);
      } else {
        await driveUpload({ op, source, opts: { ...opts, chunkSize: Number.POSITIVE_INFINITY, resume: undefined }, defaultChunkSize: Number.POSITIVE_INFINITY, begin: async () => gatherUpload(send) });
      }
      const m = meta as FileMetadata;
      verifiedHash(m, hash, op);
      return { entry: fileEntry(rel, m), resumedFrom: 0, deduplicated: false, hashes: { dropbox: hash } };
    } finally {
      queued();
    }
  }

  /**
   * Parallel parts of one large file in a `concurrent` upload session: parts are multiples of
   * 4 MiB at 4 MiB-multiple offsets, in any order, the last one closes the session.
   */
  async openChunkWriter(path: string, source: Omit<UploadSource, 'open'>, opts: ChunkWriterOptions = {}): Promise<ChunkWriter> {
    const rel = this.checked(path, 'write');
    const op = `write ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root, not a file`);
    return openConcurrentWriter(this.client, {
      op,
      source,
      opts,
      commit: this.commitInfo(rel, source.mtimeMs),
      defaultPartSize: this.capabilities.preferredChunkSize,
      entryOf: (meta: FileMetadata) => fileEntry(rel, meta),
    });
  }

  // ---- changing the tree ----

  async mkdir(path: string): Promise<void> {
    const rel = this.checked(path, 'mkdir');
    const op = `mkdir ${q(rel)}`;
    if (this.apiPath(rel) === '') return;
    try {
      await this.client.rpc('files/create_folder_v2', { path: this.apiPath(rel), autorename: false }, op);
    } catch (err) {
      if (err instanceof DropboxError && err.has('conflict', 'folder')) return;
      throw err;
    }
  }

  async delete(path: string, opts: DeleteOptions = {}): Promise<void> {
    const rel = this.checked(path, 'delete');
    const op = `delete ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root`);
    // delete_v2 keeps the file among the Dropbox's deleted files (restorable for 30 days or more): its trash.
    if (opts.permanent) await this.client.rpc('files/permanently_delete', { path: this.apiPath(rel) }, op);
    else await this.client.rpc('files/delete_v2', { path: this.apiPath(rel) }, op);
  }

  async move(from: string, to: string): Promise<Entry> {
    return this.relocate('move', from, to);
  }

  async copy(from: string, to: string): Promise<Entry> {
    return this.relocate('copy', from, to);
  }

  /** move_v2 / copy_v2; a file already at the destination is replaced, as a write would. */
  private async relocate(kind: 'move' | 'copy', from: string, to: string): Promise<Entry> {
    const src = this.checked(from, kind);
    const dst = this.checked(to, kind);
    const op = `${kind} ${q(src)} to ${q(dst)}`;
    if (src === '' || dst === '') throw new ConnectorError('invalid_name', `${op}: the remote's root cannot be ${kind === 'move' ? 'moved' : 'copied'} or replaced`);
    if (src === dst) return this.stat(dst);
    const arg = { from_path: this.apiPath(src), to_path: this.apiPath(dst), autorename: false, allow_ownership_transfer: false };
    const route = kind === 'move' ? 'files/move_v2' : 'files/copy_v2';
    let res: { metadata: Metadata };
    try {
      res = await this.client.rpc<{ metadata: Metadata }>(route, arg, op);
    } catch (err) {
      // A file in the way (not a folder, and not the source itself in another case) is replaced.
      if (!(err instanceof DropboxError && err.has('to', 'conflict', 'file')) || src.toLowerCase() === dst.toLowerCase()) throw err;
      await this.client.rpc('files/delete_v2', { path: this.apiPath(dst) }, `${op}: replace the file there`);
      res = await this.client.rpc<{ metadata: Metadata }>(route, arg, op);
    }
    const m = res.metadata;
    if (m['.tag'] === 'file') return fileEntry(dst, m);
    return { path: dst, isDir: true, size: 0, mtimeMs: 0, hashes: {} };
  }

  // ---- the account ----

  async about(): Promise<About> {
    const u = await this.client.rpc<SpaceUsage>('users/get_space_usage', undefined, 'about', { idempotent: true });
    const a = u.allocation as { '.tag': string; allocated?: number };
    if (typeof a.allocated !== 'number') return { usedBytes: u.used, totalBytes: null, freeBytes: null, unlimited: false };
    return { usedBytes: u.used, totalBytes: a.allocated, freeBytes: Math.max(0, a.allocated - u.used), unlimited: false };
  }

  // ---- the change feed ----

  async changeCursor(opts: ListOptions = {}): Promise<string> {
    const res = await this.client.rpc<{ cursor: string }>('files/list_folder/get_latest_cursor', { path: this.apiPath(''), recursive: true, include_non_downloadable_files: true }, 'the change feed\'s position', { signal: opts.signal, idempotent: true });
    return res.cursor;
  }

  async *changes(cursor: string, opts: ListOptions = {}): AsyncIterable<ChangeBatch> {
    const op = 'changes since the last run';
    const folders = new Map<string, string>();
    const rootLower = this.apiPath('').toLowerCase();
    for (let at = cursor; ; ) {
      let page: ListFolderResult;
      try {
        page = await this.client.rpc<ListFolderResult>('files/list_folder/continue', { cursor: at }, op, { signal: opts.signal, idempotent: true });
      } catch (err) {
        if (err instanceof DropboxError && err.has('reset')) {
          yield { changed: [], deleted: [], resync: true };
          return;
        }
        throw err;
      }
      const batch: ChangeBatch = { changed: [], deleted: [] };
      for (const m of page.entries) {
        if (m.path_lower === rootLower) continue;
        if (m['.tag'] === 'deleted') {
          const rel = this.relOf(m.path_display ?? '');
          if (rel) batch.deleted.push(rel);
          continue;
        }
        const e = this.entryOf(m, folders, null, opts.onNotice);
        if (e) batch.changed.push(e);
      }
      if (!page.has_more) batch.cursor = page.cursor;
      yield batch;
      if (!page.has_more) return;
      at = page.cursor;
    }
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

function fileEntry(path: string, m: FileMetadata): Entry {
  return { path, isDir: false, size: m.size, mtimeMs: Date.parse(m.client_modified), hashes: m.content_hash ? { dropbox: m.content_hash } : {} };
}

