/**
 * The OneDrive connector: OneDrive Personal, OneDrive for Business and SharePoint document
 * libraries through Microsoft Graph (shared/specs/providers.md A.3; the model is rclone's
 * backend/onedrive). Items are addressed by path below the drive's root; listing by `children`
 * with `@odata.nextLink`, walking by `delta`; uploads in upload.ts, the change feed in changes.ts.
 */
import type { Readable } from 'node:stream';
import type { Entry } from '../../core/entry.js';
import { baseName, joinPath, parentPath } from '../../core/paths.js';
import { ConnectorError, isConnectorError } from '../errors.js';
import { nameEncoder, type NameEncoder } from '../shared/encoder.js';
import { headerValue, HttpClient, rangedBody } from '../shared/http.js';
import { OAuth2Auth, oauthAuthMessage, type OAuthProvider } from '../shared/oauth2.js';
import { connectorPath } from '../shared/paths.js';
import { checkedRange, emptyRead, rangeHeader } from '../shared/ranges.js';
import { driveUpload, sourceFailure } from '../shared/upload.js';
import { walkByListing } from '../shared/walk.js';
import type {
  About,
  Capabilities,
  ChangeBatch,
  Connector,
  ConnectorContext,
  DeleteOptions,
  ListOptions,
  ReadOptions,
  UploadSource,
  WriteOptions,
  WriteResult,
} from '../types.js';
import { changeCursor, changes } from './changes.js';
import { GraphClient, readJson, type DriveType } from './client.js';
import { graphStatusMapper } from './errors.js';
import { MAX_NAME_CHARS, MAX_PATH_CHARS, onedriveNameRules, reservedName } from './names.js';
import { QuickXorHash, quickXorHex } from '../shared/quickxor.js';
import { fragmentSize, GraphUploadSession, graphTime, SIMPLE_UPLOAD_MAX, verified } from './upload.js';
import type { DriveInfo, DriveItem, ItemPage, MonitorReply } from './wire.js';

export type Region = 'global' | 'us' | 'de' | 'cn';

/** rclone's region map (backend/onedrive graphAPIEndpoint and authEndpoint). */
export const regions: Record<Region, { graph: string; login: string }> = {
  global: { graph: 'https://graph.microsoft.com', login: 'https://login.microsoftonline.com' },
  us: { graph: 'https://graph.microsoft.us', login: 'https://login.microsoftonline.us' },
  de: { graph: 'https://graph.microsoft.de', login: 'https://login.microsoftonline.de' },
  cn: { graph: 'https://microsoftgraph.chinacloudapi.cn', login: 'https://login.chinacloudapi.cn' },
};

export interface OneDriveConfig {
  /** The drive, as rclone's `drive_id`; absent: the SharePoint site's library, or the user's own drive. */
  driveId?: string;
  driveType?: DriveType;
  /** A SharePoint site, e.g. `https://contoso.sharepoint.com/sites/Team`: its default document library. */
  siteUrl?: string;
  region?: Region;
  /** Graph's base including `/v1.0` (tests, proxies); the region's by default. */
  apiUrl?: string;
  clientId?: string;
  authUrl?: string;
  tokenUrl?: string;
}

export interface OneDriveConnectorOptions {
  connections?: number;
  ca?: string | string[];
  /** How long to wait between copy-monitor polls, ms (tests make it short). */
  copyPollMs?: number;
}

/** The authorization server of the connect flow (the lead's registry reads it from the definition). */
export function onedriveOAuth(region: Region = 'global'): OAuthProvider {
  const login = regions[region].login;
  return {
    name: 'Microsoft OneDrive',
    authUrl: `${login}/common/oauth2/v2.0/authorize`,
    tokenUrl: `${login}/common/oauth2/v2.0/token`,
    // rclone's scopes: offline_access for the refresh token, Sites.Read.All for SharePoint libraries.
    scopes: ['Files.Read', 'Files.ReadWrite', 'Files.Read.All', 'Files.ReadWrite.All', 'Sites.Read.All', 'offline_access'],
    envPrefix: 'MICROSOFT',
  };
}

export const onedriveCapabilities: Capabilities = Object.freeze<Capabilities>({
  hashes: ['quickxor'],
  hashBeforeUpload: null,
  resumableUpload: true,
  serverSideCopy: true,
  serverSideMove: true,
  caseInsensitive: true,
  maxNameLength: MAX_NAME_CHARS,
  nameRules: onedriveNameRules,
  maxFileSize: 250 * 1024 ** 3,
  // rclone's default chunk_size for onedrive: 10 MiB (32 × 320 KiB).
  preferredChunkSize: 32 * 320 * 1024,
  mtimePrecisionMs: 1000,
  setModTime: true,
  recursiveList: true,
  // The cursor carries the tree's index, so a deleted or moved item's old path is known.
  changeFeedDeletes: true,
});

const LIST_PAGE = 1000;
const q = (p: string) => JSON.stringify(p);

export function createOneDriveConnector(config: OneDriveConfig, ctx: ConnectorContext, opts: OneDriveConnectorOptions = {}): OneDriveConnector {
  return new OneDriveConnector(config, ctx, opts);
}

export class OneDriveConnector implements Connector {
  readonly type = 'onedrive';
  readonly capabilities = onedriveCapabilities;
  readonly client: GraphClient;
  readonly names: NameEncoder;
  readonly auth: OAuth2Auth;
  private readonly http: HttpClient;
  private readonly knownDirs = new Set<string>();
  private readonly copyPollMs: number;

  constructor(config: OneDriveConfig, private readonly ctx: ConnectorContext, opts: OneDriveConnectorOptions = {}) {
    const region = config.region ?? 'global';
    const provider = onedriveOAuth(region);
    this.http = new HttpClient({
      connections: opts.connections,
      ca: opts.ca,
      mapStatus: graphStatusMapper((detail) => oauthAuthMessage(provider, ctx.remoteName, detail)),
      // rclone's onedrive pacer: 10 ms minimum sleep, 2 s maximum.
      pacer: { minSleepMs: 10, maxSleepMs: 2_000 },
      privateNetworks: ctx.host.privateNetworks,
    });
    const auth = new OAuth2Auth(this.http, ctx, provider, { clientId: config.clientId, tokenUrl: config.tokenUrl });
    this.auth = auth;
    this.names = nameEncoder(onedriveNameRules);
    const apiUrl = (config.apiUrl ?? `${regions[region].graph}/v1.0`).replace(/\/+$/, '');
    this.client = new GraphClient(this.http, auth, apiUrl, this.names, { driveId: config.driveId, siteUrl: config.siteUrl }, config.driveType);
    this.copyPollMs = opts.copyPollMs ?? 1_000;
  }

  // ---- paths and names ----

  /** A caller's path whose every name OneDrive can store once encoded, within the 400-character limit. */
  private checked(path: string, op: string, writing = false): string {
    const rel = connectorPath(path, op);
    if (rel === '' || !writing) return rel;
    const stored = rel.split('/').map((s) => this.names.encode(s));
    for (const s of stored) {
      if (s.length > MAX_NAME_CHARS) throw new ConnectorError('invalid_name', `${op} ${q(path)}: the name ${q(s.slice(0, 40))}… is longer than ${MAX_NAME_CHARS} characters`);
      const why = reservedName(s);
      if (why) throw new ConnectorError('invalid_name', `${op} ${q(path)}: OneDrive cannot store the name ${q(s)}: it ${why}`);
    }
    const length = stored.join('/').length;
    if (length > MAX_PATH_CHARS) throw new ConnectorError('invalid_name', `${op} ${q(path)}: the path is ${length} characters, more than OneDrive's ${MAX_PATH_CHARS}`);
    return rel;
  }

  /** The decoded name of a stored one, or undefined (with a notice) when it cannot be encoded back to itself. */
  decodedName(stored: string, parent: string, opts: ListOptions): string | undefined {
    const name = this.names.decode(stored);
    if (name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0') && this.names.encode(name) === stored) return name;
    opts.onNotice?.({
      path: joinPath(parent, stored.replace(/[/\0]/g, '_')),
      kind: 'unencodable',
      message: `the OneDrive name ${q(stored)} cannot be encoded back to itself (knarr would read ${q(name)}, which OneDrive stores differently); it is left out`,
    });
    return undefined;
  }

  /**
   * The decoded name of a listed item knarr can copy, or undefined with a notice: a OneNote
   * notebook (a `package`: pages held by OneNote, not files), a shortcut to another drive's item
   * (`remoteItem`), and an unencodable name are skipped.
   */
  listedName(item: DriveItem, parent: string, opts: ListOptions): string | undefined {
    const name = this.decodedName(item.name, parent, opts);
    if (name === undefined) return undefined;
    if (item.package !== undefined) {
      opts.onNotice?.({ path: joinPath(parent, name), kind: 'skipped', message: `a ${item.package.type ?? 'package'} item (a OneNote notebook) has no file bytes to copy; it is left out` });
      return undefined;
    }
    if (item.remoteItem !== undefined) {
      opts.onNotice?.({ path: joinPath(parent, name), kind: 'skipped', message: 'an item shared from another drive ("Add to My files") lives in that drive; it is left out' });
      return undefined;
    }
    return name;
  }

  entryOf(item: DriveItem, rel: string): Entry {
    const isDir = item.folder !== undefined || item.root !== undefined;
    const time = item.fileSystemInfo?.lastModifiedDateTime ?? item.lastModifiedDateTime;
    const mtimeMs = time ? Date.parse(time) : 0;
    const hashes: Entry['hashes'] = {};
    const qx = quickXorHex(item.file?.hashes?.quickXorHash);
    if (qx) hashes.quickxor = qx;
    if (item.file?.hashes?.sha1Hash) hashes.sha1 = item.file.hashes.sha1Hash.toLowerCase();
    return { path: rel, isDir, size: isDir ? 0 : (item.size ?? 0), mtimeMs: Number.isFinite(mtimeMs) ? mtimeMs : 0, hashes: isDir ? {} : hashes };
  }

  // ---- reading the tree ----

  async *list(dir: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    const rel = this.checked(dir, 'list');
    const op = `list ${q(rel)}`;
    const item = await this.item(rel, op, opts.signal);
    if (item.folder === undefined && item.root === undefined) throw new ConnectorError('conflict', `${op}: is a file, not a folder`);
    this.knownDirs.add(rel);
    let url: string | undefined = `${await this.client.itemByIdUrl(item.id, '/children', opts.signal)}?$top=${LIST_PAGE}`;
    while (url) {
      const page: ItemPage = await this.client.json<ItemPage>({ method: 'GET', url, op, signal: opts.signal });
      const entries: Entry[] = [];
      for (const child of page.value) {
        if (child.deleted) continue;
        const name = this.listedName(child, rel, opts);
        if (name !== undefined) entries.push(this.entryOf(child, joinPath(rel, name)));
      }
      if (entries.length > 0) yield entries;
      url = page['@odata.nextLink'];
    }
  }

  /**
   * The whole tree below `root` by delta: one enumeration, parents before children (children
   * whose parent comes later wait for it). Business and SharePoint answer delta on the drive's
   * root only, so below the root they are walked folder by folder.
   */
  async *walk(root: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    const rel = this.checked(root, 'walk');
    const op = `walk ${q(rel)}`;
    const top = await this.item(rel, op, opts.signal);
    if (top.folder === undefined && top.root === undefined) throw new ConnectorError('conflict', `${op}: is a file, not a folder`);
    const drive = await this.client.resolved(opts.signal);
    if (rel !== '' && drive.driveType !== 'personal') {
      yield* walkByListing(this, rel, opts);
      return;
    }
    const paths = new Map<string, string>([[top.id, rel]]);
    const skipped = new Set<string>();
    const waiting = new Map<string, DriveItem[]>();
    let url: string | undefined = `${await this.client.itemByIdUrl(top.id, '/delta', opts.signal)}?$top=${LIST_PAGE}`;
    while (url) {
      const page: ItemPage = await this.client.json<ItemPage>({ method: 'GET', url, op, signal: opts.signal });
      const entries: Entry[] = [];
      const place = (item: DriveItem): void => {
        const parent = item.parentReference?.id;
        if (item.id === top.id || item.deleted || !parent) return;
        if (skipped.has(parent)) {
          skipped.add(item.id);
          return;
        }
        const parentRel = paths.get(parent);
        if (parentRel === undefined) {
          waiting.set(parent, [...(waiting.get(parent) ?? []), item]);
          return;
        }
        const name = this.listedName(item, parentRel, opts);
        if (name === undefined) {
          skipped.add(item.id);
          for (const w of waiting.get(item.id) ?? []) place(w);
          waiting.delete(item.id);
          return;
        }
        const path = joinPath(parentRel, name);
        const entry = this.entryOf(item, path);
        if (entry.isDir) paths.set(item.id, path);
        entries.push(entry);
        const kids = waiting.get(item.id);
        if (kids) {
          waiting.delete(item.id);
          for (const k of kids) place(k);
        }
      };
      for (const item of page.value) place(item);
      if (entries.length > 0) yield entries;
      url = page['@odata.nextLink'];
    }
    if (waiting.size > 0) throw new ConnectorError('transient', `${op}: the delta listing named ${waiting.size} parent folder(s) it never listed; the next attempt lists again`);
  }

  async stat(path: string, opts: ListOptions = {}): Promise<Entry> {
    const rel = this.checked(path, 'stat');
    return this.entryOf(await this.item(rel, `stat ${q(rel)}`, opts.signal), rel);
  }

  /** The driveItem at a path. */
  async item(rel: string, op: string, signal?: AbortSignal): Promise<DriveItem> {
    return this.client.json<DriveItem>({ method: 'GET', url: await this.client.itemUrl(rel, '', signal), op, signal });
  }

  // ---- bytes ----

  async read(path: string, opts: ReadOptions = {}): Promise<Readable> {
    const rel = this.checked(path, 'read');
    const op = `read ${q(rel)}`;
    const range = checkedRange(op, opts, rel);
    const { offset, length, signal } = range;
    if (length === 0) return emptyRead(op, () => this.stat(rel, { signal }));
    // /content answers 302 to a pre-authenticated URL, which is fetched without the token.
    const res = await this.client.request({ method: 'GET', url: await this.client.itemUrl(rel, '/content', signal), op, signal, accept: [302] });
    await res.body.dump();
    const location = headerValue(res.headers, 'location');
    if (res.status !== 302 || !location) {
      const item = await this.item(rel, op, signal);
      if (item.folder !== undefined || item.root !== undefined) throw new ConnectorError('conflict', `${op}: is a folder`);
      throw new ConnectorError('transient', `${op}: Graph did not redirect to the file's download URL`);
    }
    const r = rangeHeader(offset, length);
    const body = await this.client.unauthenticated({ method: 'GET', url: location, op, headers: r ? { range: r } : {}, accept: [416], signal });
    return rangedBody(body, op, range);
  }

  async write(path: string, source: UploadSource, opts: WriteOptions = {}): Promise<WriteResult> {
    const rel = this.checked(path, 'write', true);
    const op = `write ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root, not a file`);
    opts.signal?.throwIfAborted();
    await this.ensureDir(parentPath(rel), opts.signal);
    const chunkSize = opts.chunkSize ?? this.capabilities.preferredChunkSize;
    if (source.size <= Math.min(SIMPLE_UPLOAD_MAX, chunkSize)) return this.simpleWrite(rel, op, source, opts);
    const fragment = fragmentSize(chunkSize);
    let session: GraphUploadSession | undefined;
    const { resumedFrom } = await driveUpload({
      op,
      source,
      opts: { ...opts, chunkSize: fragment },
      defaultChunkSize: fragment,
      begin: async () => (session = await new GraphUploadSession({ client: this.client, op, rel, source, opts, fragment }).begin()),
    });
    const item = session!.item!;
    return { entry: this.entryOf(item, rel), resumedFrom, deduplicated: false, hashes: { quickxor: session!.hash.digestHex() } };
  }

  /** Up to 4 MiB in one PUT, then the time by PATCH (a simple upload cannot carry fileSystemInfo). */
  private async simpleWrite(rel: string, op: string, source: UploadSource, opts: WriteOptions): Promise<WriteResult> {
    const data = source.data && source.data.length === source.size ? source.data : await readWhole(source, op, opts.signal);
    const hash = new QuickXorHash();
    hash.update(data);
    const put = await this.client.json<DriveItem>({
      method: 'PUT',
      url: `${await this.client.itemUrl(rel, '/content', opts.signal)}?@microsoft.graph.conflictBehavior=replace`,
      op,
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
      signal: opts.signal,
    });
    opts.onProgress?.(source.size);
    verified(op, put, source.size, hash);
    const item = await this.setTime(put.id, source.mtimeMs, op, opts.signal);
    return { entry: this.entryOf(item, rel), resumedFrom: 0, deduplicated: false, hashes: { quickxor: hash.digestHex() } };
  }

  private async setTime(id: string, mtimeMs: number, op: string, signal?: AbortSignal): Promise<DriveItem> {
    return this.client.json<DriveItem>({
      method: 'PATCH',
      url: await this.client.itemByIdUrl(id, '', signal),
      op: `${op}: set the modification time`,
      json: { fileSystemInfo: { lastModifiedDateTime: graphTime(mtimeMs) } },
      signal,
      idempotent: true,
    });
  }

  // ---- folders and the rest ----

  async mkdir(path: string): Promise<void> {
    const rel = this.checked(path, 'mkdir', true);
    await this.ensureDir(rel);
  }

  private async ensureDir(rel: string, signal?: AbortSignal): Promise<void> {
    if (rel === '' || this.knownDirs.has(rel)) return;
    const parent = parentPath(rel);
    await this.ensureDir(parent, signal);
    const op = `mkdir ${q(rel)}`;
    const res = await this.client.request({
      method: 'POST',
      url: await this.client.itemUrl(parent, '/children', signal),
      op,
      json: { name: this.names.encode(baseName(rel)), folder: {}, '@microsoft.graph.conflictBehavior': 'fail' },
      accept: [409],
      signal,
    });
    await res.body.dump();
    if (res.status === 409) {
      const there = await this.item(rel, op, signal);
      if (there.folder === undefined) throw new ConnectorError('conflict', `${op}: a file is in the way`);
    }
    this.knownDirs.add(rel);
  }

  async delete(path: string, opts: DeleteOptions = {}): Promise<void> {
    const rel = this.checked(path, 'delete');
    const op = `delete ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root`);
    const item = await this.item(rel, op);
    // To the recycle bin by default; permanentDelete skips it (Business and SharePoint).
    const res = opts.permanent
      ? await this.client.request({ method: 'POST', url: await this.client.itemByIdUrl(item.id, '/permanentDelete'), op })
      : await this.client.request({ method: 'DELETE', url: await this.client.itemByIdUrl(item.id), op });
    await res.body.dump();
    for (const d of this.knownDirs) if (d === rel || d.startsWith(`${rel}/`)) this.knownDirs.delete(d);
  }

  async move(from: string, to: string): Promise<Entry> {
    const src = this.checked(from, 'move');
    const dst = this.checked(to, 'move', true);
    const op = `move ${q(src)} to ${q(dst)}`;
    if (src === '' || dst === '') throw new ConnectorError('invalid_name', `${op}: the remote's root cannot be moved`);
    const item = await this.item(src, op);
    await this.ensureDir(parentPath(dst));
    const parent = await this.item(parentPath(dst), op);
    const moved = await this.client.json<DriveItem>({
      method: 'PATCH',
      url: `${await this.client.itemByIdUrl(item.id)}?@microsoft.graph.conflictBehavior=replace`,
      op,
      json: { name: this.names.encode(baseName(dst)), parentReference: { id: parent.id } },
    });
    for (const d of this.knownDirs) if (d === src || d.startsWith(`${src}/`)) this.knownDirs.delete(d);
    return this.entryOf(moved, dst);
  }

  /** POST copy answers 202 and a monitor URL, polled without the token until the copy completes; the time is then set, as Graph resets it. */
  async copy(from: string, to: string): Promise<Entry> {
    const src = this.checked(from, 'copy');
    const dst = this.checked(to, 'copy', true);
    const op = `copy ${q(src)} to ${q(dst)}`;
    const item = await this.item(src, op);
    await this.ensureDir(parentPath(dst));
    const parent = await this.item(parentPath(dst), op);
    const drive = await this.client.resolved();
    const res = await this.client.request({
      method: 'POST',
      url: `${await this.client.itemByIdUrl(item.id, '/copy')}?@microsoft.graph.conflictBehavior=replace`,
      op,
      headers: { prefer: 'respond-async' },
      json: { parentReference: { driveId: drive.id, id: parent.id }, name: this.names.encode(baseName(dst)) },
    });
    await res.body.dump();
    const monitor = headerValue(res.headers, 'location');
    if (!monitor) throw new ConnectorError('transient', `${op}: Graph answered the copy without a monitor URL`);
    const id = await this.awaitCopy(monitor, op);
    const copied = this.entryOf(await this.client.json<DriveItem>({ method: 'GET', url: await this.client.itemByIdUrl(id), op }), dst);
    if (copied.isDir) return copied;
    const src0 = this.entryOf(item, src);
    return this.entryOf(await this.setTime(id, src0.mtimeMs, op), dst);
  }

  private async awaitCopy(monitor: string, op: string): Promise<string> {
    let wait = Math.min(100, this.copyPollMs);
    for (;;) {
      const res = await this.client.unauthenticated({ method: 'GET', url: monitor, op: `${op}: ask how the copy goes`, accept: [202, 303] });
      const location = headerValue(res.headers, 'location');
      const status = await readJson<MonitorReply>(res, op).catch(() => ({}) as MonitorReply);
      if (status.status === 'completed' && status.resourceId) return status.resourceId;
      if (res.status === 303 && location) {
        const m = /\/items\/([^/?]+)/.exec(location);
        if (m) return decodeURIComponent(m[1]);
      }
      if (status.status === 'failed' || status.status === 'deleteFailed') {
        throw new ConnectorError('transient', `${op}: the copy failed at Graph (${status.errorCode ?? status.error?.code ?? 'no reason given'})`);
      }
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(this.copyPollMs, wait * 2);
    }
  }

  async about(): Promise<About> {
    const drive = await this.client.resolved();
    const info = await this.client.json<DriveInfo>({ method: 'GET', url: drive.base, op: 'about' });
    const total = info.quota?.total ?? null;
    const used = info.quota?.used ?? null;
    const free = info.quota?.remaining ?? (total !== null && used !== null ? Math.max(0, total - used) : null);
    return { usedBytes: used, totalBytes: total, freeBytes: free === null || total === null ? free : Math.min(free, total), unlimited: false };
  }

  changeCursor(opts: ListOptions = {}): Promise<string> {
    return changeCursor(this, opts);
  }

  changes(cursor: string, opts: ListOptions = {}): AsyncIterable<ChangeBatch> {
    return changes(this, cursor, opts);
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  /** For changes.ts: a folder's subtree as entries (a moved folder is reported whole at its new place). */
  async subtree(rel: string, opts: ListOptions): Promise<Entry[]> {
    const out: Entry[] = [];
    try {
      for await (const page of this.walk(rel, opts)) out.push(...page);
    } catch (err) {
      if (!isConnectorError(err, 'not_found')) throw err;
    }
    return out;
  }
}

async function readWhole(source: UploadSource, op: string, signal?: AbortSignal): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  const stream = await source.open(0, signal);
  try {
    for await (const raw of stream) {
      const chunk = typeof raw === 'string' ? Buffer.from(raw) : (raw as Buffer);
      parts.push(chunk);
      n += chunk.length;
      if (n > source.size) throw new ConnectorError('corrupt', `${op}: the source delivered more than its ${source.size} bytes; nothing was committed`);
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw sourceFailure(err, op);
  } finally {
    stream.destroy();
  }
  if (n !== source.size) throw new ConnectorError('corrupt', `${op}: the source ended after ${n} of its ${source.size} bytes; nothing was committed`);
  return Buffer.concat(parts);
}
