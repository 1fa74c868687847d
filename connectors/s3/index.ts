/**
 * The S3 connector (AWS and the S3-compatible providers of providers.ts), on plain SigV4 requests
 * (client.ts) through the shared HTTP client.
 *
 * Folders. S3 has keys only; a folder is a common prefix of keys, or a zero-byte `dir/` marker
 * object, which `mkdir` creates so that empty folders exist (rclone's --s3-directory-markers).
 * `walk` is one recursive listing without a delimiter, with the folders derived from the keys.
 *
 * Modification times. Kept as rclone keeps them, in `x-amz-meta-mtime`; listings carry no
 * metadata, so `list` and `walk` read each object's head (16 at a time) unless the remote says
 * `useServerModtime` (then the object's LastModified is its time, and `setModTime` is false).
 * The engine's plan compares size and mtime straight from listings, so without the heads every
 * object would look changed at each run; rclone pays the same HEAD per object when it compares.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Entry } from '../../core/entry.js';
import { normalizePath, parentPath } from '../../core/paths.js';
import { ConnectorError, isConnectorError } from '../errors.js';
import { nameEncoder } from '../shared/encoder.js';
import { HttpClient, toConnectorError, rangedBody } from '../shared/http.js';
import { connectorPath } from '../shared/paths.js';
import { emptyStream, isByteCount } from '../shared/streams.js';
import { checkedRange, rangeHeader } from '../shared/ranges.js';
import { partCount } from '../shared/partSet.js';
import { driveUpload, sourceFailure } from '../shared/upload.js';
import { XmlError, XmlStream } from '../shared/xml.js';
import type {
  About, Capabilities, ChunkWriter, ChunkWriterOptions, Connector, ConnectorContext, DeleteOptions, ListOptions, NameRules, ReadOptions,
  UploadSource, UploadState, WriteOptions, WriteResult,
} from '../types.js';
import { encodeKeyPath, encodeRfc3986, S3Client } from './client.js';
import { mapS3Error, s3StatusMapper } from './errors.js';
import {
  md5Base64, multipartChunkWriter, multipartSession, MultipartOps, partLength, singlePutSession, usableResume, type S3UploadState,
} from './multipart.js';
import { partSizeFor, providers, resolveTarget, type ProviderId } from './providers.js';
import {
  decodeListedKey, deleteErrors, deleteObjectsBody, formatMtime, listChild, md5HexToBase64, md5OfEtag, META_MD5, META_MTIME, parseHead, parseS3Error,
  S3WireError, type ListPageInfo, type ObjectHead,
} from './wire.js';

export type { S3UploadState } from './multipart.js';

/** The remote's settings as stored (the secret access key is in the credentials). */
export interface S3Config {
  provider: ProviderId;
  endpoint?: string;
  region?: string;
  bucket: string;
  pathStyle?: boolean;
  /** Not secret (rclone shows it); the credentials may hold it too, which wins. */
  accessKeyId?: string;
  /** A key prefix inside the bucket the remote is rooted at. */
  root?: string;
  objectLock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number };
  storageClass?: string;
  /** Part size asked for, bytes (raised to what the provider needs). */
  partSize?: number;
  /** Use LastModified as the modification time and skip the HEAD per listed object. */
  useServerModtime?: boolean;
}

export interface S3ConnectorOptions {
  connections?: number;
  ca?: string | string[];
  /** Objects larger than this are copied server-side with UploadPartCopy; S3 allows CopyObject up to 5 GiB. */
  copyCutoff?: number;
  /** Part size of a multipart copy (UploadPartCopy). Default: the provider's part size for the object. */
  copyPartSize?: number;
  /** Parts in flight at once for openChunkWriter. Default 4. */
  concurrency?: number;
}

const MiB = 1024 * 1024;
/** S3's longest key, in bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;
const LIST_PAGE = 1000;
const HEADS_AT_ONCE = 16;
/** Continuations of reads remembered, for the If-Match pin. */
const PINNED_READS = 1024;

/**
 * rclone's S3 default encoding: invalid UTF-8 (a lone surrogate here) and the names `.` and `..`
 * (EncodeInvalidUtf8 | EncodeDot; `/` cannot occur inside a name). Anything else is a valid key.
 */
export const s3NameRules: NameRules = Object.freeze({ invalidUnicode: true, dotNames: true });
const names = nameEncoder(s3NameRules);

export const s3Capabilities: Capabilities = Object.freeze({
  // Single-part ETags are MD5s, multipart objects carry X-Amz-Meta-Md5chksum when the source's
  // MD5 was known before the upload; other multipart objects have no MD5.
  hashes: ['md5'] as const,
  hashBeforeUpload: null,
  resumableUpload: true,
  serverSideCopy: true,
  serverSideMove: true,
  caseInsensitive: false,
  maxNameLength: MAX_KEY_BYTES,
  nameRules: s3NameRules,
  // 5 TiB: the limit most S3-compatibles still use (AWS now allows 48.8 TiB; providers.md A.1).
  maxFileSize: 5 * 1024 * 1024 * MiB,
  preferredChunkSize: 16 * MiB,
  // x-amz-meta-mtime holds nanoseconds in rclone's files; knarr keeps milliseconds.
  mtimePrecisionMs: 1,
  setModTime: true,
  recursiveList: true,
});

export function createS3Connector(config: S3Config, ctx: ConnectorContext, opts: S3ConnectorOptions = {}): S3Connector {
  return new S3Connector(config, ctx, opts);
}

const q = (p: string) => JSON.stringify(p);

export class S3Connector implements Connector {
  readonly type = 's3';
  readonly capabilities: Capabilities;
  readonly client: S3Client;
  readonly ops: MultipartOps;
  readonly preset;
  private readonly rootPrefix: string;
  private readonly pinned = new Map<string, string>();

  constructor(readonly config: S3Config, private readonly ctx: ConnectorContext, private readonly opts: S3ConnectorOptions = {}) {
    this.preset = providers[config.provider];
    const target = resolveTarget(config);
    if ('problem' in target) throw new ConnectorError('unsupported', `remote "${ctx.remoteName}": ${target.problem}`);
    const http = new HttpClient({
      connections: opts.connections,
      ca: opts.ca,
      mapStatus: s3StatusMapper(ctx.remoteName),
      // rclone's S3 pacer (pacer.NewS3): no spacing between successful calls, back off after a failure.
      pacer: { minSleepMs: 0, maxSleepMs: 2_000 },
      privateNetworks: ctx.host.privateNetworks,
    });
    this.client = new S3Client(http, { endpoint: new URL(target.endpoint), region: target.region, bucket: config.bucket, pathStyle: target.pathStyle }, config.accessKeyId, ctx.credentials);
    this.ops = new MultipartOps(this.client, ctx.remoteName);
    const root = config.root ? normalizePath(config.root) : '';
    this.rootPrefix = root ? `${names.encodePath(root)}/` : '';
    this.capabilities = config.useServerModtime ? Object.freeze({ ...s3Capabilities, setModTime: false, mtimePrecisionMs: 1000 }) : s3Capabilities;
  }

  // ---- names ----

  /** The caller's path, checked: refused when it leaves the root or its key is longer than S3 allows. */
  private rel(path: string, op: string): string {
    const rel = connectorPath(path, op);
    if (Buffer.byteLength(this.keyOf(rel)) + 1 > MAX_KEY_BYTES) {
      throw new ConnectorError('invalid_name', `${op} ${q(rel)}: the key would be longer than S3's ${MAX_KEY_BYTES} bytes`);
    }
    return rel;
  }

  private keyOf(rel: string): string {
    return this.rootPrefix + names.encodePath(rel);
  }

  /** The folder prefix of `rel` (`''` for the remote's root). */
  private prefixOf(rel: string): string {
    return rel === '' ? this.rootPrefix : `${this.keyOf(rel)}/`;
  }

  /** A listed key as a path, or null for keys no path can name (`a//b`, outside the root). */
  private relOfKey(key: string): string | null {
    if (!key.startsWith(this.rootPrefix)) return null;
    const rest = key.slice(this.rootPrefix.length).replace(/\/$/, '');
    if (rest === '' || rest.split('/').some((s) => s === '' || s === '.' || s === '..')) return null;
    return names.decodePath(rest);
  }

  // ---- reading the tree ----

  /**
   * Pages of one ListObjectsV2 walk over `prefix` (with or without the delimiter), decoded.
   * `onPage` gets the objects and common prefixes of each page.
   */
  private async *listKeys(prefix: string, delimiter: boolean, op: string, signal?: AbortSignal, maxKeys = LIST_PAGE): AsyncGenerator<{ objects: (ObjectHead & { key: string })[]; prefixes: string[] }> {
    let token: string | undefined;
    for (;;) {
      signal?.throwIfAborted();
      const query: Record<string, string> = { 'list-type': '2', 'encoding-type': 'url', 'max-keys': String(maxKeys) };
      if (prefix) query.prefix = prefix;
      if (delimiter) query.delimiter = '/';
      if (token) query['continuation-token'] = token;
      const res = await this.client.send({ method: 'GET', key: null, query, op, signal });
      const raw: { rawKey: string; size: number; etag: string; lastModifiedMs: number }[] = [];
      const rawPrefixes: string[] = [];
      const info: Partial<ListPageInfo> = {};
      const parser = new XmlStream({ select: ['ListBucketResult', '*'], onElement: (el) => listChild(el, (o) => raw.push(o), (p) => rawPrefixes.push(p), info) });
      try {
        for await (const chunk of res.body) parser.write(chunk as Buffer);
        parser.end();
      } catch (err) {
        if (err instanceof XmlError || err instanceof S3WireError) throw new ConnectorError('transient', `${op}: the listing is malformed: ${err.message}`);
        throw toConnectorError(err, op, signal);
      } finally {
        if (!res.body.destroyed) res.body.destroy();
      }
      const enc = info.urlEncoded ?? false;
      yield {
        objects: raw.map((o) => ({ key: decodeListedKey(o.rawKey, enc), size: o.size, etag: o.etag, lastModifiedMs: o.lastModifiedMs, md5: md5OfEtag(o.etag), meta: {} })),
        prefixes: rawPrefixes.map((p) => decodeListedKey(p, enc)),
      };
      if (!info.truncated) return;
      if (!info.nextToken || info.nextToken === token) throw new ConnectorError('transient', `${op}: the listing is truncated but gives no next continuation token`);
      token = info.nextToken;
    }
  }

  /** A listed object as an entry, its head read for mtime and MD5 unless the remote uses server times. */
  private async filesOf(objects: (ObjectHead & { key: string })[], signal?: AbortSignal): Promise<Entry[]> {
    const files = objects.map((o) => ({ o, rel: this.relOfKey(o.key) })).filter((f): f is { o: ObjectHead & { key: string }; rel: string } => f.rel !== null && !f.o.key.endsWith('/'));
    const out: (Entry | null)[] = new Array(files.length).fill(null);
    if (this.config.useServerModtime) return files.map(({ o, rel }) => fileEntry(rel, o));
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const i = next++;
        const { o, rel } = files[i];
        try {
          out[i] = fileEntry(rel, await this.head(o.key, `list ${q(rel)}: head`, signal));
        } catch (err) {
          // Deleted since the listing: it has left the tree.
          if (!isConnectorError(err, 'not_found')) throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(HEADS_AT_ONCE, files.length) }, worker));
    return out.filter((e): e is Entry => e !== null);
  }

  async *list(dir: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    const rel = this.rel(dir, 'list');
    const op = `list ${q(rel)}`;
    const prefix = this.prefixOf(rel);
    let found = rel === '';
    for await (const page of this.listKeys(prefix, true, op, opts.signal)) {
      // The folder's own marker says it exists, and is not one of its children.
      if (page.objects.length > 0 || page.prefixes.length > 0) found = true;
      const dirs: Entry[] = [];
      for (const p of page.prefixes) {
        const r = this.relOfKey(p);
        if (r !== null) dirs.push({ path: r, isDir: true, size: 0, mtimeMs: 0, hashes: {} });
      }
      const files = await this.filesOf(page.objects.filter((o) => o.key !== prefix), opts.signal);
      const entries = [...dirs, ...files];
      if (entries.length > 0) yield entries;
    }
    // An empty bucket lists nothing; a missing one failed above (NoSuchBucket).
    if (!found) throw new ConnectorError('not_found', `${op}: no such folder`);
  }

  async *walk(root: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    const rel = this.rel(root, 'walk');
    const op = `walk ${q(rel)}`;
    const prefix = this.prefixOf(rel);
    const dirs = new Set<string>();
    let found = rel === '';
    for await (const page of this.listKeys(prefix, false, op, opts.signal)) {
      if (page.objects.length > 0) found = true;
      const entries: Entry[] = [];
      // Every folder between the walked root and a key, once: markers and the folders keys imply.
      const addDirs = (r: string, self: boolean) => {
        const chain: string[] = [];
        for (let d = self ? r : parentPath(r); d !== rel && d !== '' && !dirs.has(d); d = parentPath(d)) chain.push(d);
        for (const d of chain.reverse()) {
          dirs.add(d);
          entries.push({ path: d, isDir: true, size: 0, mtimeMs: 0, hashes: {} });
        }
      };
      const files: (ObjectHead & { key: string })[] = [];
      for (const o of page.objects) {
        if (o.key === prefix) continue;
        const r = this.relOfKey(o.key);
        if (r === null) continue;
        addDirs(r, o.key.endsWith('/'));
        if (!o.key.endsWith('/')) files.push(o);
      }
      entries.push(...(await this.filesOf(files, opts.signal)));
      if (entries.length > 0) yield entries;
    }
    if (!found) throw new ConnectorError('not_found', `${op}: no such folder`);
  }

  private async head(key: string, op: string, signal?: AbortSignal): Promise<ObjectHead> {
    const headers: Record<string, string> = this.preset.checksumHeaders ? { 'x-amz-checksum-mode': 'ENABLED' } : {};
    const res = await this.client.send({ method: 'HEAD', key, headers, op, signal });
    await res.body.dump();
    return parseHead(res.headers);
  }

  async stat(path: string, opts: ListOptions = {}): Promise<Entry> {
    const rel = this.rel(path, 'stat');
    return this.statRel(rel, `stat ${q(rel)}`, opts.signal);
  }

  private async statRel(rel: string, op: string, signal?: AbortSignal): Promise<Entry> {
    if (rel === '') {
      // The bucket (or root prefix) answers a listing: a missing bucket is NoSuchBucket, not_found.
      for await (const page of this.listKeys(this.rootPrefix, true, op, signal, 1)) void page;
      return { path: '', isDir: true, size: 0, mtimeMs: 0, hashes: {} };
    }
    try {
      return fileEntry(rel, await this.head(this.keyOf(rel), op, signal));
    } catch (err) {
      if (!isConnectorError(err, 'not_found')) throw err;
    }
    for await (const page of this.listKeys(this.prefixOf(rel), false, op, signal, 1)) {
      if (page.objects.length > 0) return { path: rel, isDir: true, size: 0, mtimeMs: 0, hashes: {} };
    }
    throw new ConnectorError('not_found', `${op}: no such file or folder`);
  }

  // ---- bytes ----

  /**
   * A ranged GET pinned with If-Match: an object replaced since it was first read fails as
   * `corrupt` (412) instead of mixing two versions. The ETag comes from a HEAD at offset 0, and a
   * read that goes on from a later offset keeps the ETag the earlier read of the same object saw
   * (the engine's resume of a copy in the same worker), so a replaced object shows up there too.
   */
  async read(path: string, opts: ReadOptions = {}): Promise<Readable> {
    const rel = this.rel(path, 'read');
    const op = `read ${q(rel)}`;
    const { offset, length, signal } = checkedRange(op, opts, rel);
    const key = this.keyOf(rel);
    const head = await this.head(key, op, signal);
    let etag = head.etag;
    const earlier = offset > 0 ? this.pinned.get(key) : undefined;
    if (earlier !== undefined && earlier !== etag) {
      this.pinned.delete(key);
      throw new ConnectorError('corrupt', `${op}: the object was replaced since it was first read (its ETag changed); read it again from the start`, { status: 412 });
    }
    if (earlier !== undefined) etag = earlier;
    this.pin(key, etag);
    if (length === 0 || offset >= head.size) return emptyStream();
    const want = Math.min(head.size - offset, length ?? Infinity);
    const headers: Record<string, string> = { range: rangeHeader(offset, want) };
    if (etag) headers['if-match'] = etag;
    try {
      const res = await this.client.send({ method: 'GET', key, headers, op, signal });
      return await rangedBody(res, op, { offset, length: want, signal });
    } catch (err) {
      if (isConnectorError(err, 'corrupt')) this.pinned.delete(key);
      throw err;
    }
  }

  private pin(key: string, etag: string): void {
    this.pinned.delete(key);
    this.pinned.set(key, etag);
    if (this.pinned.size > PINNED_READS) this.pinned.delete(this.pinned.keys().next().value as string);
  }

  /** Headers of a new object: rclone's metadata, storage class, Object Lock retention. */
  private objectHeaders(source: Pick<UploadSource, 'mtimeMs' | 'hashes'>, md5Meta: boolean): Record<string, string> {
    const h: Record<string, string> = { 'content-type': 'application/octet-stream', [META_MTIME]: formatMtime(source.mtimeMs) };
    if (md5Meta && source.hashes.md5 && /^[0-9a-f]{32}$/i.test(source.hashes.md5)) h[META_MD5] = md5HexToBase64(source.hashes.md5);
    if (this.config.storageClass) h['x-amz-storage-class'] = this.config.storageClass;
    Object.assign(h, this.lockHeaders());
    return h;
  }

  private lockHeaders(): Record<string, string> {
    const lock = this.config.objectLock;
    if (!lock) return {};
    return {
      'x-amz-object-lock-mode': lock.mode,
      'x-amz-object-lock-retain-until-date': new Date(Date.now() + lock.days * 86_400_000).toISOString(),
    };
  }

  private partSize(size: number, requested?: number): number {
    return partSizeFor(this.preset, size, requested ?? this.config.partSize ?? this.capabilities.preferredChunkSize);
  }

  async write(path: string, source: UploadSource, opts: WriteOptions = {}): Promise<WriteResult> {
    const rel = this.rel(path, 'write');
    const op = `write ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root, not a file`);
    if (!isByteCount(source.size)) throw new RangeError(`source.size must be a byte count, not ${source.size}`);
    opts.signal?.throwIfAborted();
    const key = this.keyOf(rel);
    const resume = usableResume(opts.resume, this.config.bucket, key, source.size);
    const partSize = resume?.partSize ?? this.partSize(source.size, opts.chunkSize);
    if (partCount(source.size, partSize) > this.preset.maxParts) {
      throw new ConnectorError('too_large', `${op}: ${source.size} bytes need more than ${this.preset.maxParts} parts of ${partSize} bytes`);
    }
    let etag = '';
    const committed = (e: string) => void (etag = e);
    const entryOf = (md5?: string): Entry => ({ path: rel, isDir: false, size: source.size, mtimeMs: source.mtimeMs, hashes: md5 ? { md5 } : {} });

    if (source.size <= partSize && !resume) {
      // Object Lock needs Content-MD5 on the PUT: a source without a known MD5 is read first (one part at most).
      const data = source.data ?? (this.config.objectLock && !/^[0-9a-f]{32}$/i.test(source.hashes.md5 ?? '') ? await readWhole(source, op, opts.signal) : undefined);
      if (data && data.length === source.size) {
        const md5 = createHash('md5').update(data).digest('hex');
        const res = await this.client.send({
          method: 'PUT', key, body: data, op, signal: opts.signal,
          headers: { ...this.objectHeaders(source, false), 'content-length': String(source.size), 'content-md5': md5HexToBase64(md5) },
        });
        await res.body.dump();
        opts.onProgress?.(source.size);
        return { entry: entryOf(md5), resumedFrom: 0, deduplicated: false, hashes: { md5 } };
      }
      const hashing = createHash('md5');
      const headers: Record<string, string> = { ...this.objectHeaders(source, false), 'content-length': String(source.size) };
      if (source.hashes.md5 && /^[0-9a-f]{32}$/i.test(source.hashes.md5)) headers['content-md5'] = md5HexToBase64(source.hashes.md5);
      await driveUpload({
        op, source, opts: { ...opts, chunkSize: partSize }, defaultChunkSize: partSize,
        begin: async () => {
          const session = singlePutSession((body) => this.client.send({ method: 'PUT', key, headers, body, op, signal: opts.signal, headersTimeoutMs: 0 }), op, committed);
          return { ...session, committed: 0, put: (chunk: Buffer, pos: number) => { hashing.update(chunk); return session.put(chunk, pos); }, checkpoint: session.checkpoint, commit: session.commit, abort: session.abort };
        },
      });
      const md5 = md5OfEtag(etag) ?? hashing.digest('hex');
      return { entry: entryOf(md5OfEtag(etag) ?? md5), resumedFrom: 0, deduplicated: false, hashes: { md5 } };
    }

    const plan = { bucket: this.config.bucket, key, size: source.size, partSize };
    // Only a fresh upload read from byte 0 sees every byte it hashes.
    let hashing: ReturnType<typeof createHash> | null = null;
    const { resumedFrom } = await driveUpload({
      op, source, opts: { ...opts, chunkSize: partSize }, defaultChunkSize: partSize,
      begin: async () => {
        const session = await multipartSession(this.ops, plan, this.objectHeaders(source, true), resume, op, opts.signal, committed);
        hashing = session.committed === 0 ? createHash('md5') : null;
        return { ...session, committed: session.committed, put: (chunk: Buffer, pos: number) => { hashing?.update(chunk); return session.put(chunk, pos); }, checkpoint: session.checkpoint, commit: session.commit, abort: session.abort };
      },
    });
    const h = hashing as ReturnType<typeof createHash> | null;
    const metaMd5 = this.objectHeaders(source, true)[META_MD5] ? source.hashes.md5?.toLowerCase() : undefined;
    return { entry: entryOf(metaMd5), resumedFrom, deduplicated: false, hashes: h ? { md5: h.digest('hex') } : {} };
  }

  async openChunkWriter(path: string, source: Omit<UploadSource, 'open'>, opts: ChunkWriterOptions = {}): Promise<ChunkWriter> {
    const rel = this.rel(path, 'write');
    const op = `write ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root, not a file`);
    const key = this.keyOf(rel);
    const resume = usableResume(opts.resume, this.config.bucket, key, source.size);
    const partSize = resume?.partSize ?? this.partSize(source.size, opts.partSize);
    if (partCount(source.size, partSize) > this.preset.maxParts) {
      throw new ConnectorError('too_large', `${op}: ${source.size} bytes need more than ${this.preset.maxParts} parts of ${partSize} bytes`);
    }
    const headers = this.objectHeaders(source, true);
    const md5 = headers[META_MD5] ? source.hashes.md5?.toLowerCase() : undefined;
    return multipartChunkWriter({
      ops: this.ops, plan: { bucket: this.config.bucket, key, size: source.size, partSize }, createHeaders: headers, resume, op,
      concurrency: this.opts.concurrency ?? 4, signal: opts.signal,
      finish: async (_etag, resumedFrom) => ({ entry: { path: rel, isDir: false, size: source.size, mtimeMs: source.mtimeMs, hashes: md5 ? { md5 } : {} }, resumedFrom, deduplicated: false, hashes: {} }),
      putEmpty: () => this.write(rel, { ...source, data: Buffer.alloc(0), open: async () => emptyStream() }),
    });
  }

  /** Aborts the multipart upload a cancelled run left (its parts are invisible but billed). */
  async discardUpload(path: string, state: UploadState): Promise<void> {
    const rel = this.rel(path, 'discard upload');
    const s = state as Partial<S3UploadState>;
    if (typeof s.uploadId !== 'string' || s.key !== this.keyOf(rel)) return;
    await this.ops.abort(s.key, s.uploadId, `discard upload ${q(rel)}`);
  }

  // ---- changing the tree ----

  /** A zero-byte `dir/` marker, so the folder exists while empty; its parents are implied by it. */
  async mkdir(path: string): Promise<void> {
    const rel = this.rel(path, 'mkdir');
    const op = `mkdir ${q(rel)}`;
    if (rel === '') {
      await this.statRel('', op);
      return;
    }
    const res = await this.client.send({
      method: 'PUT', key: `${this.keyOf(rel)}/`, body: Buffer.alloc(0), op,
      headers: { 'content-length': '0', 'content-type': 'application/x-directory', 'content-md5': md5Base64(Buffer.alloc(0)), ...this.lockHeaders() },
      idempotent: true,
    });
    await res.body.dump();
  }

  /** A file, or a folder with every key below it (DeleteObjects, 1000 at a time; markers last, deepest first). */
  async delete(path: string, _opts: DeleteOptions = {}): Promise<void> {
    const rel = this.rel(path, 'delete');
    const op = `delete ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root`);
    const key = this.keyOf(rel);
    const isFile = await this.head(key, op).then(() => true, (err: unknown) => (isConnectorError(err, 'not_found') ? false : Promise.reject(err)));
    if (isFile) {
      const res = await this.client.send({ method: 'DELETE', key, op, idempotent: true });
      await res.body.dump();
      this.pinned.delete(key);
      return;
    }
    const markers: string[] = [];
    let any = false;
    for await (const page of this.listKeys(this.prefixOf(rel), false, op)) {
      const files = page.objects.map((o) => o.key).filter((k) => !k.endsWith('/'));
      markers.push(...page.objects.map((o) => o.key).filter((k) => k.endsWith('/')));
      if (page.objects.length > 0) any = true;
      if (files.length > 0) await this.deleteKeys(files.reverse(), op);
    }
    if (!any) throw new ConnectorError('not_found', `${op}: no such file or folder`);
    markers.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
    for (let i = 0; i < markers.length; i += LIST_PAGE) await this.deleteKeys(markers.slice(i, i + LIST_PAGE), op);
  }

  private async deleteKeys(keys: string[], op: string): Promise<void> {
    const body = deleteObjectsBody(keys);
    const { status, text } = await this.client.text({
      method: 'POST', key: null, query: { delete: '' }, body, op, idempotent: true,
      headers: { 'content-type': 'application/xml', 'content-md5': md5Base64(Buffer.from(body)), 'content-length': String(Buffer.byteLength(body)) },
    });
    if (parseS3Error(text)) throw mapS3Error(status, text, op, this.ctx.remoteName);
    const failed = deleteErrors(text).filter((e) => e.code !== 'NoSuchKey');
    if (failed.length > 0) {
      const f = failed[0];
      throw mapS3Error(403, `<Error><Code>${f.code}</Code><Message>${failed.length} keys not deleted, e.g. ${q(f.key).replace(/[<&]/g, '')}: ${f.message.replace(/[<&]/g, '')}</Message></Error>`, op, this.ctx.remoteName);
    }
    for (const k of keys) this.pinned.delete(k);
  }

  /** CopyObject keeps the metadata (mtime, MD5) with the COPY directive; above `copyCutoff`, UploadPartCopy. */
  async copy(from: string, to: string): Promise<Entry> {
    const src = this.rel(from, 'copy');
    const dst = this.rel(to, 'copy');
    const op = `copy ${q(src)} to ${q(dst)}`;
    if (src === '' || dst === '') throw new ConnectorError('invalid_name', `${op}: the remote's root cannot be copied or replaced`);
    const srcKey = this.keyOf(src);
    const dstKey = this.keyOf(dst);
    let head: ObjectHead;
    try {
      head = await this.head(srcKey, op);
    } catch (err) {
      if (isConnectorError(err, 'not_found') && (await this.statRel(src, op).then((e) => e.isDir, () => false))) {
        throw new ConnectorError('unsupported', `${op}: S3 copies objects server-side, not folders`);
      }
      throw err;
    }
    const copySource = `/${encodeRfc3986(this.config.bucket)}/${encodeKeyPath(srcKey)}`;
    const cutoff = this.opts.copyCutoff ?? 5 * 1024 * MiB;
    if (head.size <= cutoff) {
      const { status, text } = await this.client.text({
        method: 'PUT', key: dstKey, op, idempotent: true,
        headers: { 'x-amz-copy-source': copySource, 'x-amz-metadata-directive': 'COPY', 'x-amz-copy-source-if-match': head.etag, ...this.lockHeaders(), ...(this.config.storageClass ? { 'x-amz-storage-class': this.config.storageClass } : {}) },
      });
      if (parseS3Error(text)) throw mapS3Error(status === 200 ? 500 : status, text, op, this.ctx.remoteName);
    } else {
      await this.copyInParts(dstKey, copySource, head, op);
    }
    return fileEntry(dst, await this.head(dstKey, op));
  }

  private async copyInParts(dstKey: string, copySource: string, head: ObjectHead, op: string): Promise<void> {
    const partSize = this.opts.copyPartSize ?? this.partSize(head.size);
    const plan = { bucket: this.config.bucket, key: dstKey, size: head.size, partSize };
    const headers: Record<string, string> = { ...head.meta, 'content-type': head.contentType ?? 'application/octet-stream', ...this.lockHeaders() };
    if (this.config.storageClass) headers['x-amz-storage-class'] = this.config.storageClass;
    const uploadId = await this.ops.create(dstKey, headers, op);
    try {
      const parts: { partNumber: number; etag: string }[] = [];
      for (let n = 1; n <= partCount(head.size, partSize); n++) {
        const start = (n - 1) * partSize;
        parts.push({ partNumber: n, etag: await this.ops.copyPart(dstKey, uploadId, n, copySource, [start, start + partLength(plan, n) - 1], op) });
      }
      await this.ops.complete(dstKey, uploadId, parts, op);
    } catch (err) {
      // A copy holds no source bytes worth keeping: the next attempt copies again.
      await this.ops.abort(dstKey, uploadId, op).catch(() => {});
      throw err;
    }
  }

  /** S3 has no rename: a server-side copy, then the source is deleted. */
  async move(from: string, to: string): Promise<Entry> {
    const entry = await this.copy(from, to);
    const src = this.rel(from, 'move');
    const res = await this.client.send({ method: 'DELETE', key: this.keyOf(src), op: `move ${q(src)}: delete the source`, idempotent: true });
    await res.body.dump();
    return entry;
  }

  /** S3 reports no usage or quota for a bucket; its size is unbounded by the protocol. */
  async about(): Promise<About> {
    return { usedBytes: null, totalBytes: null, freeBytes: null, unlimited: true };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** A source of at most one part, in memory; a source that misdelivers is `corrupt`, as driveUpload has it. */
async function readWhole(source: UploadSource, op: string, signal?: AbortSignal): Promise<Buffer> {
  const stream = await source.open(0, signal).catch((err: unknown) => Promise.reject(sourceFailure(err, op)));
  const parts: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of stream) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      parts.push(buf);
      n += buf.length;
      if (n > source.size) break;
    }
  } catch (err) {
    throw sourceFailure(err, op);
  } finally {
    stream.destroy();
  }
  if (n !== source.size) throw new ConnectorError('corrupt', `${op}: the source delivered ${n > source.size ? 'more than' : `only ${n} of`} its ${source.size} bytes; nothing was committed`);
  return Buffer.concat(parts, n);
}

function fileEntry(rel: string, h: ObjectHead): Entry {
  const hashes: Entry['hashes'] = {};
  if (h.md5) hashes.md5 = h.md5;
  if (h.sha256) hashes.sha256 = h.sha256;
  return { path: rel, isDir: false, size: h.size, mtimeMs: h.mtimeMs ?? h.lastModifiedMs, hashes };
}

