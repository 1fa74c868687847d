/**
 * The WebDAV connector: generic servers (Apache mod_dav_fs, lighttpd, nginx...), Nextcloud and
 * ownCloud (X-OC-Mtime, OC-Checksum, chunked upload v2) and Fastmail Files, told apart by the
 * remote's `vendor` (vendors.ts). Facts: shared/specs/providers.md A.5; the model is rclone's
 * backend/webdav.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Entry, Hashes } from '../../core/entry.js';
import { baseName, joinPath, parentPath } from '../../core/paths.js';
import { ConnectorError, isConnectorError } from '../errors.js';
import { nameEncoder, type NameEncoder } from '../shared/encoder.js';
import { HttpClient, type HttpResponse, rangedBody } from '../shared/http.js';
import { connectorPath } from '../shared/paths.js';
import { checkedRange, emptyRead, rangeHeader } from '../shared/ranges.js';
import { driveUpload, type UploadSession } from '../shared/upload.js';
import { walkByListing } from '../shared/walk.js';
import type {
  About,
  Capabilities,
  Connector,
  ConnectorContext,
  DeleteOptions,
  ListOptions,
  ReadOptions,
  UploadSource,
  UploadState,
  WriteOptions,
  WriteResult,
} from '../types.js';
import { DavClient, type DavSecrets } from './client.js';
import { openNextcloudChunkWriter } from './chunkWriter.js';
import { davStatusMapper } from './errors.js';
import {
  bufferedPutSession,
  chunkedSession,
  mtimeHeader,
  nextcloudChunkSize,
  ocChecksum,
  partialPutSession,
  streamedPutSession,
  usableChunkedState,
  type BufferedPutSession,
  type ChunkedSession,
  type PutOptions,
  type UploadDeps,
} from './upload.js';
import { vendorPresets, type Vendor, type VendorPreset } from './vendors.js';
import { encodeSegment, quotaBody, type DavItem } from './wire.js';

export type { Vendor } from './vendors.js';

/** The remote's settings as stored (the password and bearer token are secrets, kept in the credentials). */
export interface WebdavConfig {
  url: string;
  vendor: Vendor;
  user: string;
  /**
   * Resumable uploads by partial PUT, vendor `other` only: absent = probed once per connector,
   * true = trusted without a probe, false = never (whole-file PUTs).
   */
  partialPut?: boolean;
}

export interface WebdavConnectorOptions {
  /** Connections per host: the transfers that run at once against this remote. Default 16. */
  connections?: number;
  /** Extra CA certificates (PEM) to trust. */
  ca?: string | string[];
}

/** ext4, xfs and most server filesystems cap one name at 255 bytes; Nextcloud refuses longer ones too. */
export const MAX_NAME_BYTES = 255;
const listPageSize = 1000;
const partialSuffix = '.knarr-partial';

/** What a remote of this vendor can do; `resumable` is whether large uploads can resume on this server. */
export function webdavCapabilities(preset: VendorPreset, resumable: boolean): Capabilities {
  return Object.freeze({
    hashes: preset.hashes,
    hashBeforeUpload: null,
    resumableUpload: resumable,
    // MOVE and COPY with a Destination on the same server (RFC 4918 §9.8, §9.9).
    serverSideCopy: true,
    serverSideMove: true,
    caseInsensitive: false,
    maxNameLength: MAX_NAME_BYTES,
    nameRules: preset.nameRules,
    maxFileSize: null,
    // Nextcloud's own clients use 10 MB chunks; the minimum of chunked upload v2 is 5 MB.
    preferredChunkSize: 10 * 1024 * 1024,
    // getlastmodified is an RFC 1123 date: whole seconds.
    mtimePrecisionMs: 1000,
    setModTime: preset.mtime !== 'none',
    recursiveList: false,
  });
}

/**
 * The type-level capabilities (the registry's): those of a generic server that cannot be shown to
 * resume. A connector's own `capabilities` are what the engine reads (engine/copy.ts,
 * activities/plan.ts), and they follow the remote's vendor and what the server proved it can do.
 */
export const webdavTypeCapabilities = webdavCapabilities(vendorPresets.other, false);

export function createWebdavConnector(config: WebdavConfig, ctx: ConnectorContext, opts: WebdavConnectorOptions = {}): WebdavConnector {
  return new WebdavConnector(config, ctx, opts);
}

const q = (p: string) => JSON.stringify(p);

/** Unfinished generic uploads live under these names beside their target; listings hide them. */
export function isPartialName(stored: string): boolean {
  return stored.startsWith('.') && stored.endsWith(partialSuffix);
}

/** The hidden temp name beside `stored` (the target's name as the server stores it) where a generic upload grows. */
export function partialNameFor(stored: string): string {
  const plain = `.${stored}${partialSuffix}`;
  if (Buffer.byteLength(plain) <= MAX_NAME_BYTES) return plain;
  return `.${createHash('sha1').update(stored).digest('hex')}${partialSuffix}`;
}

export class WebdavConnector implements Connector {
  readonly type = 'webdav';
  readonly client: DavClient;
  readonly preset: VendorPreset;
  private caps: Capabilities;
  private readonly http: HttpClient;
  private readonly names: NameEncoder;
  /** Folders known to exist (created or seen), so a write into a known folder sends no MKCOL. */
  private readonly knownDirs = new Set<string>();
  private partialPut: Promise<boolean> | undefined;
  private readonly partialPutSetting: boolean | 'probe';

  constructor(config: WebdavConfig, ctx: ConnectorContext, opts: WebdavConnectorOptions = {}) {
    const preset = vendorPresets[config.vendor];
    if (!preset) throw new ConnectorError('unsupported', `remote "${ctx.remoteName}": unknown WebDAV vendor ${q(String(config.vendor))}`);
    if (preset.refused) throw new ConnectorError('unsupported', `remote "${ctx.remoteName}": vendor ${config.vendor}: ${preset.refused}`);
    this.preset = preset;
    this.http = new HttpClient({
      connections: opts.connections,
      ca: opts.ca,
      mapStatus: davStatusMapper(ctx.remoteName),
      pacer: { maxSleepMs: 2_000 },
      privateNetworks: ctx.host.privateNetworks,
    });
    this.names = nameEncoder(preset.nameRules);
    const secrets = async (): Promise<DavSecrets> => {
      const s = await ctx.credentials.read();
      return {
        password: typeof s.password === 'string' ? s.password : undefined,
        bearerToken: typeof s.bearerToken === 'string' && s.bearerToken !== '' ? s.bearerToken : undefined,
      };
    };
    this.client = new DavClient(this.http, config.url, config.user, secrets, this.names, preset);
    // Only a vendor whose uploads go through the generic path can use partial PUT at all.
    this.partialPutSetting = preset.partialPut === 'probe' ? (config.partialPut ?? 'probe') : false;
    const chunked = preset.chunkedUpload && this.client.uploadsUrl !== null;
    this.caps = webdavCapabilities(preset, chunked || this.partialPutSetting !== false);
  }

  get capabilities(): Capabilities {
    return this.caps;
  }

  // ---- paths ----

  /** A caller's path, each name checked against the server's length limit once encoded. */
  private checked(path: string, op: string): string {
    const rel = connectorPath(path, op);
    if (rel === '') return rel;
    for (const seg of rel.split('/')) {
      if (Buffer.byteLength(this.names.encode(seg)) > MAX_NAME_BYTES) {
        throw new ConnectorError('invalid_name', `${op} ${q(path)}: the name ${q(seg.slice(0, 40))}… is longer than ${MAX_NAME_BYTES} bytes`);
      }
    }
    return rel;
  }

  private tempUrl(rel: string): { url: URL; name: string } {
    const name = partialNameFor(this.names.encode(baseName(rel)));
    return { url: new URL(encodeSegment(name), this.client.url(parentPath(rel), true)), name };
  }

  // ---- reading the tree ----

  async *list(dir: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    const rel = this.checked(dir, 'list');
    const op = `list ${q(rel)}`;
    const depth = rel === '' ? 0 : rel.split('/').length;
    let page: Entry[] = [];
    for await (const items of this.client.propfind(this.client.url(rel, true), 1, op, opts.signal)) {
      for (const item of items) {
        const segs = this.client.relativeSegments(item);
        if (!segs) continue;
        if (segs.length === depth) {
          // The folder itself; a file answers its own PROPFIND with itself only.
          if (!item.isDir) throw new ConnectorError('conflict', `${op}: is a file, not a folder`);
          continue;
        }
        if (segs.length !== depth + 1 || isPartialName(segs[depth])) continue;
        page.push(entryOf(joinPath(rel, this.names.decode(segs[depth])), item));
        if (page.length >= listPageSize) {
          yield page;
          page = [];
        }
      }
    }
    if (rel !== '') this.knownDirs.add(rel);
    if (page.length > 0) yield page;
  }

  walk(root: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    return walkByListing(this, root, opts);
  }

  async stat(path: string, opts: ListOptions = {}): Promise<Entry> {
    const rel = this.checked(path, 'stat');
    return this.statRel(rel, `stat ${q(rel)}`, opts.signal);
  }

  private async statRel(rel: string, op: string, signal?: AbortSignal): Promise<Entry> {
    const item = await this.client.propfindOne(this.client.url(rel, rel === ''), op, signal);
    return entryOf(rel, item);
  }

  // ---- bytes ----

  async read(path: string, opts: ReadOptions = {}): Promise<Readable> {
    const rel = this.checked(path, 'read');
    const op = `read ${q(rel)}`;
    const range = checkedRange(op, opts, rel);
    const { offset, length, signal } = range;
    if (length === 0) return emptyRead(op, () => this.statRel(rel, op, signal));
    const r = rangeHeader(offset, length);
    const res = await this.client.request({ method: 'GET', url: this.client.url(rel), op, headers: r ? { range: r } : {}, accept: [416], signal });
    return rangedBody(res, op, range);
  }

  async write(path: string, source: UploadSource, opts: WriteOptions = {}): Promise<WriteResult> {
    const rel = this.checked(path, 'write');
    const op = `write ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root, not a file`);
    opts.signal?.throwIfAborted();
    const parent = parentPath(rel);
    await this.ensureDir(parent, opts.signal);
    const target = this.client.url(rel);
    const preset = this.preset;
    const chunkSize = opts.chunkSize ?? this.caps.preferredChunkSize;
    const headers: Record<string, string> = preset.mtime === 'x-oc-mtime' ? { 'x-oc-mtime': mtimeHeader(source.mtimeMs) } : {};
    const known = preset.sendsChecksum ? ocChecksum(source.hashes) : undefined;
    if (known) headers['oc-checksum'] = known;
    const deps = this.uploadDeps(parent);

    // A small file the engine holds whole: one PUT (servers write it to a part file first).
    if (source.data && source.data.length === source.size && source.size <= chunkSize) {
      let hashes: Hashes = {};
      if (preset.sendsChecksum && !known) {
        hashes = { sha1: createHash('sha1').update(source.data).digest('hex') };
        headers['oc-checksum'] = `SHA1:${hashes.sha1}`;
      }
      const res = await deps.putBuffer(target, source.data, op, { headers: { 'content-type': 'application/octet-stream', ...headers }, signal: opts.signal });
      await res.body.dump();
      opts.onProgress?.(source.size);
      return { entry: await this.committed(rel, source, op, headers['oc-checksum']), resumedFrom: 0, deduplicated: false, hashes };
    }

    // Nextcloud/ownCloud chunked upload v2: resumable, the checksum goes on the final MOVE.
    if (preset.chunkedUpload && this.client.uploadsUrl) {
      const cs = usableChunkedState(opts.resume, source)?.chunkSize ?? nextcloudChunkSize(chunkSize, source.size);
      if (source.size > cs) {
        let session: ChunkedSession | undefined;
        const { resumedFrom } = await driveUpload({
          op,
          source,
          opts: { ...opts, chunkSize: cs },
          defaultChunkSize: cs,
          begin: async () => (session = await chunkedSession(deps, { op, target, source, chunkSize: cs, resume: opts.resume, sendChecksum: preset.sendsChecksum, signal: opts.signal })),
        });
        const sha1 = session?.computedSha1;
        const sent = known ?? (sha1 ? `SHA1:${sha1}` : undefined);
        return { entry: await this.committed(rel, source, op, sent), resumedFrom, deduplicated: false, hashes: sha1 ? { sha1 } : {} };
      }
    }

    // Servers that write an upload to a part file first (Nextcloud, ownCloud, Fastmail): straight
    // to the target; a file of one chunk is gathered first so its checksum can lead the body.
    if (preset.sendsChecksum && source.size <= chunkSize) {
      let session: BufferedPutSession | undefined;
      await driveOnce(op, source, opts, () => (session = bufferedPutSession(deps, { op, url: target, source, headers, signal: opts.signal })));
      const sent = session?.sent ?? {};
      return { entry: await this.committed(rel, source, op, sent.checksum), resumedFrom: 0, deduplicated: false, hashes: sent.sha1 ? { sha1: sent.sha1 } : {} };
    }
    if (preset.mtime === 'x-oc-mtime') {
      await driveOnce(op, source, opts, () => streamedPutSession(deps, { op, url: target, source, headers, signal: opts.signal }));
      return { entry: await this.committed(rel, source, op, known), resumedFrom: 0, deduplicated: false, hashes: {} };
    }

    // Generic servers: a temp file beside the target, MOVEd into place once complete, so a cut
    // upload never leaves half a file under the target's name.
    const temp = this.tempUrl(rel);
    if (source.size > chunkSize && (await this.canPartialPut(parent, opts.signal))) {
      const { resumedFrom } = await driveUpload({
        op,
        source,
        opts: { ...opts, chunkSize },
        defaultChunkSize: chunkSize,
        begin: () => partialPutSession(deps, { op, temp: temp.url, tempName: temp.name, target, source, chunkSize, resume: opts.resume, signal: opts.signal }),
      });
      return { entry: await this.committed(rel, source, op), resumedFrom, deduplicated: false, hashes: {} };
    }
    await driveOnce(op, source, opts, () =>
      streamedPutSession(deps, {
        op,
        url: temp.url,
        source,
        signal: opts.signal,
        after: async () => (await deps.moveUrl(temp.url, target, `${op}: move the upload into place`, {}, opts.signal)).body.dump(),
        onFail: () => deps.deleteUrl(temp.url, `${op}: remove the partial upload`),
      }),
    );
    return { entry: await this.committed(rel, source, op), resumedFrom: 0, deduplicated: false, hashes: {} };
  }

  /** The file as the server now reports it, checked against what was sent. */
  private async committed(rel: string, source: Pick<UploadSource, 'size'>, op: string, sentChecksum?: string): Promise<Entry> {
    let entry: Entry;
    try {
      entry = await this.statRel(rel, `${op}: stat after upload`);
    } catch (err) {
      if (!isConnectorError(err, 'not_found')) throw err;
      throw new ConnectorError('transient', `${op}: the file is not visible after the upload (${err.message})`, { cause: err });
    }
    if (entry.isDir) throw new ConnectorError('conflict', `${op}: a folder is at the path`);
    if (entry.size !== source.size) throw new ConnectorError('corrupt', `${op}: the server holds ${entry.size} bytes after the upload, ${source.size} were sent`);
    if (sentChecksum) {
      const [type, value] = sentChecksum.split(':') as [string, string];
      const got = type === 'SHA1' ? entry.hashes.sha1 : entry.hashes.md5;
      if (got && got !== value.toLowerCase()) throw new ConnectorError('corrupt', `${op}: the server reports ${type} ${got}, ${value} was sent`);
    }
    return entry;
  }

  private uploadDeps(parent: string): UploadDeps {
    return {
      client: this.client,
      putBuffer: (url, data, op, o) => this.putBuffer(url, data, op, parent, o),
      moveUrl: (from, to, op, headers, signal) => this.moveUrl(from, to, op, headers, signal),
      deleteUrl: async (url, op) => (await this.client.request({ method: 'DELETE', url, op, accept: [404] })).body.dump(),
    };
  }

  /**
   * PUT of a buffer. Not repeated inline after a cut connection: the engine's retry resumes from
   * what the server holds, which is what a resume is for. A 409 means the parent folder went
   * missing behind this connector's back (deleted by someone else): made again, then once more.
   */
  private async putBuffer(url: URL, data: Buffer, op: string, parent: string, o: PutOptions = {}): Promise<HttpResponse> {
    const req = { method: 'PUT' as const, url, op, headers: o.headers, body: data, signal: o.signal, idempotent: false };
    const res = await this.client.request({ ...req, accept: [409] });
    if (res.status !== 409) return res;
    await res.body.dump();
    this.forgetDirs(parent);
    await this.ensureDir(parent, o.signal);
    return this.client.request(req);
  }

  private moveUrl(from: URL, to: URL, op: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<HttpResponse> {
    return this.client.request({ method: 'MOVE', url: from, op, headers: { destination: to.href, overwrite: 'T', ...headers }, signal });
  }

  /** Partial PUT works here: the config says so, or a probe once per connector showed it. */
  private async canPartialPut(dir: string, signal?: AbortSignal): Promise<boolean> {
    if (this.partialPutSetting !== 'probe') return this.partialPutSetting;
    this.partialPut ??= this.probePartialPut(dir, signal).then(
      (works) => {
        if (!works) this.caps = webdavCapabilities(this.preset, false);
        return works;
      },
      (err: unknown) => {
        this.partialPut = undefined;
        throw err;
      },
    );
    return this.partialPut;
  }

  /**
   * Writes a scratch file, applies two ranged PUTs (one extending it, one inside it) and reads it
   * back: only a server that did exactly that is trusted with resumable uploads. A refusal (nginx:
   * 501) or a wrong result (a server that truncates instead) turns partial PUT off.
   */
  private async probePartialPut(dir: string, signal?: AbortSignal): Promise<boolean> {
    const url = new URL(encodeSegment(`.knarr-probe-${randomBytes(6).toString('hex')}${partialSuffix}`), this.client.url(dir, true));
    const op = `probe partial PUT in ${q(dir)}`;
    const refusals = [400, 403, 405, 411, 415, 416, 501];
    const put = async (body: string, range?: string): Promise<boolean> => {
      const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
      if (range) headers['content-range'] = range;
      const res = await this.client.request({ method: 'PUT', url, op, headers, body, signal, accept: refusals });
      await res.body.dump();
      return res.status < 300;
    };
    try {
      if (!(await put('0123456789'))) return false;
      if (!(await put('abcde', 'bytes 10-14/*'))) return false;
      if (!(await put('ZZ', 'bytes 3-4/*'))) return false;
      const res = await this.client.request({ method: 'GET', url, op, signal });
      return (await res.body.text()) === '012ZZ56789abcde';
    } finally {
      await this.client.request({ method: 'DELETE', url, op, accept: [404] }).then((r) => r.body.dump(), () => {});
    }
  }

  // ---- changing the tree ----

  async mkdir(path: string): Promise<void> {
    const rel = this.checked(path, 'mkdir');
    this.knownDirs.delete(rel);
    await this.ensureDir(rel);
  }

  /** MKCOL of `rel`, its missing parents first (409: a parent is missing); 405: it exists, a folder or a file in the way. */
  private async ensureDir(rel: string, signal?: AbortSignal): Promise<void> {
    if (rel === '' || this.knownDirs.has(rel)) return;
    const op = `mkdir ${q(rel)}`;
    const url = this.client.url(rel, true);
    let res = await this.client.request({ method: 'MKCOL', url, op, accept: [405, 409], signal });
    await res.body.dump();
    if (res.status === 409) {
      await this.ensureDir(parentPath(rel), signal);
      res = await this.client.request({ method: 'MKCOL', url, op, accept: [405], signal });
      await res.body.dump();
    }
    if (res.status === 405) {
      const item = await this.client.propfindOne(url, op, signal);
      if (!item.isDir) throw new ConnectorError('conflict', `${op}: a file is in the way`, { status: 405 });
    }
    if (this.knownDirs.size > 10_000) this.knownDirs.clear();
    this.knownDirs.add(rel);
  }

  /** Forgets `rel` and every folder below it (deleted or moved away), and its parents (which may be gone too). */
  private forgetDirs(rel: string): void {
    for (const d of this.knownDirs) if (d === rel || d.startsWith(`${rel}/`) || rel.startsWith(`${d}/`)) this.knownDirs.delete(d);
  }

  async delete(path: string, _opts: DeleteOptions = {}): Promise<void> {
    const rel = this.checked(path, 'delete');
    const op = `delete ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root`);
    // WebDAV has no trash of its own (Nextcloud keeps one server-side whatever the client says).
    const res = await this.client.request({ method: 'DELETE', url: this.client.url(rel), op });
    await res.body.dump();
    this.forgetDirs(rel);
  }

  async move(from: string, to: string): Promise<Entry> {
    const src = this.checked(from, 'move');
    const dst = this.checked(to, 'move');
    const op = `move ${q(src)} to ${q(dst)}`;
    if (src === '' || dst === '') throw new ConnectorError('invalid_name', `${op}: the remote's root cannot be moved or replaced`);
    if (src === dst) return this.statRel(dst, op);
    await this.ensureDir(parentPath(dst));
    const res = await this.moveUrl(this.client.url(src), this.client.url(dst), op);
    await res.body.dump();
    this.forgetDirs(src);
    this.forgetDirs(dst);
    return this.statRel(dst, op);
  }

  async copy(from: string, to: string): Promise<Entry> {
    const src = this.checked(from, 'copy');
    const dst = this.checked(to, 'copy');
    const op = `copy ${q(src)} to ${q(dst)}`;
    if (src === '' || dst === '') throw new ConnectorError('invalid_name', `${op}: the remote's root cannot be copied or replaced`);
    const entry = await this.statRel(src, op);
    await this.ensureDir(parentPath(dst));
    const headers: Record<string, string> = { destination: this.client.url(dst).href, overwrite: 'T' };
    // rclone does the same: a copy keeps the source's time where the server takes it.
    if (this.preset.mtime === 'x-oc-mtime' && !entry.isDir) headers['x-oc-mtime'] = mtimeHeader(entry.mtimeMs);
    const res = await this.client.request({ method: 'COPY', url: this.client.url(src), op, headers });
    await res.body.dump();
    this.forgetDirs(dst);
    return this.statRel(dst, op);
  }

  /**
   * Nextcloud/ownCloud: parts of a large file as chunks of one upload, several at once. Absent
   * (undefined) elsewhere: a generic server takes one stream per file.
   */
  get openChunkWriter(): Connector['openChunkWriter'] {
    if (!this.preset.chunkedUpload || !this.client.uploadsUrl) return undefined;
    return async (path, source, opts = {}) => {
      const rel = this.checked(path, 'write');
      const op = `write ${q(rel)}`;
      if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root, not a file`);
      const parent = parentPath(rel);
      await this.ensureDir(parent, opts.signal);
      return openNextcloudChunkWriter(this.uploadDeps(parent), {
        op,
        target: this.client.url(rel),
        source,
        opts,
        defaultPartSize: this.caps.preferredChunkSize,
        sendChecksum: this.preset.sendsChecksum,
        committed: (sent) => this.committed(rel, source, op, sent),
      });
    };
  }

  /** What an unfinished upload left: the Nextcloud upload folder, or the generic temp file. Never the target. */
  async discardUpload(path: string, state: UploadState): Promise<void> {
    const rel = this.checked(path, 'discard upload');
    const op = `discard the unfinished upload of ${q(rel)}`;
    const chunked = typeof state.uploadId === 'string' ? usableChunkedState(state, { size: state.size as number, mtimeMs: state.mtimeMs as number }) : null;
    const url = chunked && this.client.uploadsUrl ? new URL(`${chunked.uploadId}/`, this.client.uploadsUrl) : this.tempUrl(rel).url;
    const res = await this.client.request({ method: 'DELETE', url, op, accept: [404] });
    await res.body.dump();
  }

  // ---- the account ----

  /** RFC 4331 quota properties of the root; Nextcloud answers -3 for unlimited, negative values for unknown. */
  async about(): Promise<About> {
    const item = await this.client.propfindOne(this.client.url('', true), 'about', undefined, quotaBody);
    const used = item.quotaUsed !== undefined && item.quotaUsed >= 0 ? item.quotaUsed : null;
    const free = item.quotaAvailable;
    if (free === undefined || free < 0) return { usedBytes: used, totalBytes: null, freeBytes: null, unlimited: free === -3 };
    return { usedBytes: used, totalBytes: used === null ? null : used + free, freeBytes: free, unlimited: false };
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

/** One streamed request: no checkpoint in the middle could be resumed from, so none is made. */
async function driveOnce(op: string, source: UploadSource, opts: WriteOptions, begin: () => UploadSession): Promise<void> {
  await driveUpload({ op, source, opts: { ...opts, chunkSize: Number.POSITIVE_INFINITY, resume: undefined }, defaultChunkSize: Number.POSITIVE_INFINITY, begin: async () => begin() });
}

function entryOf(rel: string, item: DavItem): Entry {
  return { path: rel, isDir: item.isDir, size: item.isDir ? 0 : item.size, mtimeMs: item.mtimeMs, hashes: item.isDir ? {} : item.hashes };
}
