/**
 * The Google Drive connector (Drive API v3, providers.md A.2): My Drive or a shared drive, rooted
 * at the drive's root or at a folder id; paths are resolved name by name below that root.
 * Listing, uploads, names and the change feed live in their own modules beside this one.
 */
import type { Readable } from 'node:stream';
import type { Entry } from '../../core/entry.js';
import { baseName, parentPath } from '../../core/paths.js';
import { ConnectorError, isConnectorError } from '../errors.js';
import { HttpClient, mapBodyErrors, rangedBody } from '../shared/http.js';
import { OAuth2Auth, oauthAuthMessage, type OAuthProvider, type OAuthSettings } from '../shared/oauth2.js';
import { connectorPath } from '../shared/paths.js';
import { checkedRange, emptyRead, rangeHeader } from '../shared/ranges.js';
import type { About, Capabilities, ChangeBatch, Connector, ConnectorContext, DeleteOptions, ListOptions, ReadOptions, UploadSource, WriteOptions, WriteResult } from '../types.js';
import { feed } from './changes.js';
import { DriveClient } from './client.js';
import { driveStatusMapper } from './errors.js';
import { byParent, childrenQuery, entryOf, folderEntries, listPage, listQuery, PAGE_SIZE, WALK_BATCH } from './listing.js';
import { candidateNames, choose, defaultExportFormats, listedOf, toDrive, type ExportFormats, type Listed } from './names.js';
import { uploadFile } from './upload.js';
import { FILE_FIELDS, FOLDER_MIME, qString, WALK_FILE_FIELDS, type AboutJson, type DriveFile } from './wire.js';

export type { DriveUploadState } from './upload.js';
export type { ExportFormats } from './names.js';

export const DEFAULT_API_URL = 'https://www.googleapis.com';

/** Google's authorization server, for the connect flow (rclone's scope `drive`: full access). */
export const driveOAuth: OAuthProvider = {
  name: 'Google Drive',
  authUrl: 'https://accounts.google.com/o/oauth2/auth',
  tokenUrl: 'https://oauth2.googleapis.com/token',
  scopes: ['https://www.googleapis.com/auth/drive'],
  envPrefix: 'GOOGLE',
  // A refresh token is only handed out for offline access, and again only with consent.
  authParams: { access_type: 'offline', prompt: 'consent' },
};

/** The remote's settings as stored (the token and client secret are secrets, kept in the credentials). */
export interface DriveConfig extends OAuthSettings {
  /** Where `/drive/v3` and `/upload/drive/v3` are: Google, or an emulator. */
  apiUrl?: string;
  /** A folder to root the remote at (its id); the drive's root by default. */
  rootFolderId?: string;
  /** A shared drive's id; My Drive by default. */
  driveId?: string;
  /** Per Google type, the format it is exported to (`skip`: not copied); or `skip` for all of them. */
  exportFormats?: Partial<ExportFormats> | 'skip';
}

export interface DriveConnectorOptions {
  connections?: number;
  ca?: string | string[];
  /** Clock for token expiry and the daily quota's reset (tests). */
  now?: () => number;
}

/** Drive's own limit on a name is undocumented and far larger; most destinations take 255. */
export const MAX_NAME_LENGTH = 255;

export const driveCapabilities: Capabilities = Object.freeze({
  hashes: ['md5'] as const,
  hashBeforeUpload: null,
  resumableUpload: true,
  serverSideCopy: true,
  serverSideMove: true,
  caseInsensitive: false,
  maxNameLength: MAX_NAME_LENGTH,
  // Any UTF-8, `/` included (names.ts maps it); nothing for the shared encoder to do.
  nameRules: {},
  // Drive's per-file limit: 5 TB.
  maxFileSize: 5 * 1000 ** 4,
  // rclone's default drive chunk size.
  preferredChunkSize: 8 * 1024 * 1024,
  // modifiedTime is RFC 3339 with milliseconds.
  mtimePrecisionMs: 1,
  setModTime: true,
  // A walk lists up to WALK_BATCH folders per query.
  recursiveList: true,
});

export function exportFormatsOf(setting: DriveConfig['exportFormats']): ExportFormats {
  if (setting === 'skip') return { document: 'skip', spreadsheet: 'skip', presentation: 'skip', drawing: 'skip' };
  return { ...defaultExportFormats, ...setting };
}

export function createDriveConnector(config: DriveConfig, ctx: ConnectorContext, opts: DriveConnectorOptions = {}): DriveConnector {
  return new DriveConnector(config, ctx, opts);
}

const q = (p: string) => JSON.stringify(p);

/** Folder listings kept for reads: the batches in flight read from a few folders at a time. */
const LISTINGS_KEPT = 64;

/** A path's item: the Drive file and what it is listed as. */
interface Found {
  file: DriveFile;
  listed: Listed;
}

export class DriveConnector implements Connector {
  readonly type = 'drive';
  readonly capabilities = driveCapabilities;
  readonly client: DriveClient;
  readonly auth: OAuth2Auth;
  readonly formats: ExportFormats;
  private readonly http: HttpClient;
  private readonly now: () => number;
  /** The id the remote is rooted at, as configured ('root' is My Drive's alias). */
  private readonly rootSpec: string;
  private root: Promise<DriveFile> | undefined;
  /** Folder path → id, for folders seen or made; bounded. */
  private readonly dirs = new Map<string, string>();
  /** Folders being made, so writes into one new folder do not make it twice. */
  private readonly making = new Map<string, Promise<string>>();
  /**
   * Folder path → its items by listed name, for the reads of one caller (`readable`): one listing
   * of the folder, updated by every lookup of a name in it and by changes made through this
   * connector; undefined items for a folder too large for one page. Bounded.
   */
  private readonly listings = new Map<string, { signal: AbortSignal; items: Promise<Map<string, Found> | undefined> }>();

  constructor(config: DriveConfig, ctx: ConnectorContext, opts: DriveConnectorOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.http = new HttpClient({
      connections: opts.connections,
      ca: opts.ca,
      mapStatus: driveStatusMapper({ authMessage: (d) => oauthAuthMessage(driveOAuth, ctx.remoteName, d), now: this.now }),
      // Short backoff here; a long Retry-After or the daily cap is the engine's to sleep through.
      pacer: { minSleepMs: 0, maxSleepMs: 2_000 },
      privateNetworks: ctx.host.privateNetworks,
    });
    this.auth = new OAuth2Auth(this.http, ctx, driveOAuth, config, { now: this.now });
    this.client = new DriveClient(this.http, this.auth, { apiUrl: config.apiUrl ?? DEFAULT_API_URL, driveId: config.driveId });
    this.formats = exportFormatsOf(config.exportFormats);
    this.rootSpec = config.rootFolderId ?? config.driveId ?? 'root';
  }

  // ---- paths ----

  private checked(path: string, op: string): string {
    const rel = connectorPath(path, op);
    for (const seg of rel === '' ? [] : rel.split('/')) {
      if ([...toDrive(seg)].length > MAX_NAME_LENGTH) throw new ConnectorError('invalid_name', `${op} ${q(rel)}: the name ${q(seg.slice(0, 40))}… is longer than ${MAX_NAME_LENGTH} characters`);
    }
    return rel;
  }

  /** The root folder's resource (its real id: changes name parents by id, never by alias). */
  rootFolder(signal?: AbortSignal): Promise<DriveFile> {
    this.root ??= this.client
      .json<DriveFile>({ method: 'GET', url: this.client.url(`/files/${encodeURIComponent(this.rootSpec)}`, { fields: FILE_FIELDS }), op: 'find the remote\'s root folder', signal })
      .then((f) => {
        if (f.mimeType !== FOLDER_MIME) throw new ConnectorError('conflict', `the remote's root ${q(this.rootSpec)} is a file, not a folder`);
        return f;
      })
      .catch((err: unknown) => {
        this.root = undefined;
        if (isConnectorError(err, 'not_found')) throw new ConnectorError('not_found', `the remote's root folder ${q(this.rootSpec)} does not exist or is not shared with this account`, { status: err.status });
        throw err;
      });
    return this.root;
  }

  /** The item of one name in a folder, as a listing would choose it; undefined when there is none. */
  private async child(parentId: string, segment: string, op: string, signal?: AbortSignal): Promise<Found | undefined> {
    const names = candidateNames(segment, this.formats).map((n) => `name = ${qString(n)}`).join(' or ');
    const items = await listQuery(this.client, `${qString(parentId)} in parents and trashed = false and (${names})`, op, signal, WALK_FILE_FIELDS);
    const matches = items.map((file) => ({ file, listed: listedOf(file, this.formats) })).filter((m) => m.listed.kind !== 'skip' && m.listed.name === segment);
    return matches.length ? choose(matches) : undefined;
  }

  /** The item at `rel`; undefined when it (or a folder on the way) is missing or a file is on the way. */
  private async lookup(rel: string, op: string, signal?: AbortSignal): Promise<Found | undefined> {
    const root = await this.rootFolder(signal);
    if (rel === '') return { file: root, listed: { kind: 'folder', name: '', file: root } };
    const segs = rel.split('/');
    // Start from the deepest folder already known.
    let start = segs.length - 1;
    while (start > 0 && !this.dirs.has(segs.slice(0, start).join('/'))) start--;
    let parentId = start > 0 ? (this.dirs.get(segs.slice(0, start).join('/')) as string) : root.id;
    let found: Found | undefined;
    for (let i = start; i < segs.length; i++) {
      found = await this.child(parentId, segs[i], op, signal);
      this.relisted(segs.slice(0, i).join('/'), segs[i], found);
      if (!found) return undefined;
      if (found.listed.kind === 'folder') {
        this.remember(segs.slice(0, i + 1).join('/'), found.file.id);
        parentId = found.file.id;
      } else if (i < segs.length - 1) return undefined;
    }
    return found;
  }

  private remember(rel: string, id: string): void {
    if (this.dirs.size > 20_000) this.dirs.clear();
    this.dirs.set(rel, id);
  }

  /** Forgets `rel` and every folder below it (deleted or moved), and their listings. */
  private forget(rel: string): void {
    for (const d of this.dirs.keys()) if (d === rel || d.startsWith(`${rel}/`)) this.dirs.delete(d);
    for (const d of this.listings.keys()) if (d === rel || d.startsWith(`${rel}/`)) this.listings.delete(d);
  }

  /**
   * The item a read fetches. A copy reads a folder's files one after another: the folder is
   * listed once (when it fits one page) and each file taken from that listing, where a lookup of
   * every name made two requests of each small file (rclone, too, reads by the ids its listing
   * gave). A name the listing lacks is looked up. A listing serves the reads of one signal (one
   * batch of a copy) only, so it is always younger than the plan that asked for the files: an id
   * it names is never of a file replaced before the plan.
   */
  private async readable(rel: string, op: string, signal?: AbortSignal): Promise<Found | undefined> {
    const items = rel === '' || !signal ? undefined : await this.listing(parentPath(rel), op, signal);
    return items?.get(baseName(rel)) ?? this.lookup(rel, op, signal);
  }

  /** The listing of `dir` kept for `signal`, or a new one; it is not aborted by that signal, since the caller's other reads share it. */
  private listing(dir: string, op: string, signal: AbortSignal): Promise<Map<string, Found> | undefined> {
    const kept = this.listings.get(dir);
    if (kept?.signal === signal) return kept.items;
    this.listings.delete(dir);
    if (this.listings.size >= LISTINGS_KEPT) this.listings.delete(this.listings.keys().next().value as string);
    const fresh = {
      signal,
      items: this.listFolder(dir, op).catch((err: unknown) => {
        if (this.listings.get(dir) === fresh) this.listings.delete(dir);
        throw err;
      }),
    };
    this.listings.set(dir, fresh);
    return fresh.items;
  }

  /** A folder's items by listed name as a lookup would choose them; undefined for more than one page (a lookup per name is cheaper then). */
  private async listFolder(dir: string, op: string): Promise<Map<string, Found> | undefined> {
    const found = dir === '' || this.dirs.has(dir) ? undefined : await this.lookup(dir, op);
    const id = dir === '' ? (await this.rootFolder()).id : this.dirs.get(dir) ?? (found?.listed.kind === 'folder' ? found.file.id : undefined);
    if (!id) return undefined;
    const page = await listPage(this.client, childrenQuery([id]), op, undefined);
    if (page.next) return undefined;
    const byName = new Map<string, Found[]>();
    for (const file of page.files) {
      const listed = listedOf(file, this.formats);
      if (listed.kind === 'skip') continue;
      const group = byName.get(listed.name);
      if (group) group.push({ file, listed });
      else byName.set(listed.name, [{ file, listed }]);
    }
    return new Map([...byName].map(([name, group]) => [name, choose(group)]));
  }

  /**
   * A lookup's answer for `name` in `dir` replaces what a kept listing says (a stat, then a read
   * of what it found); undefined after a change made here, so the next read looks it up.
   */
  private relisted(dir: string, name: string, found: Found | undefined): void {
    void this.listings.get(dir)?.items.then((items) => {
      if (found) items?.set(name, found);
      else items?.delete(name);
    }, () => {});
  }

  private async folderId(rel: string, op: string, signal?: AbortSignal): Promise<string> {
    const found = await this.lookup(rel, op, signal);
    if (!found) throw new ConnectorError('not_found', `${op}: no such folder`);
    if (found.listed.kind !== 'folder') throw new ConnectorError('conflict', `${op}: is a file, not a folder`);
    return found.file.id;
  }

  // ---- reading the tree ----

  async *list(dir: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    const rel = this.checked(dir, 'list');
    const op = `list ${q(rel)}`;
    const id = await this.folderId(rel, op, opts.signal);
    const items = await listQuery(this.client, childrenQuery([id]), op, opts.signal);
    const { entries, folders } = folderEntries(rel, items, this.formats, opts.onNotice);
    for (const f of folders) this.remember(f.path, f.id);
    for (let i = 0; i < entries.length; i += PAGE_SIZE) yield entries.slice(i, i + PAGE_SIZE);
  }

  /** Breadth first, WALK_BATCH folders per query; only folders wait in the queue. */
  async *walk(root: string, opts: ListOptions = {}): AsyncIterable<Entry[]> {
    const rel = this.checked(root, 'walk');
    const op = `walk ${q(rel)}`;
    const queue = [{ id: await this.folderId(rel, op, opts.signal), path: rel }];
    for (let head = 0; head < queue.length; ) {
      const batch = queue.slice(head, head + WALK_BATCH);
      head += batch.length;
      const items = await listQuery(this.client, childrenQuery(batch.map((b) => b.id)), op, opts.signal);
      const grouped = byParent(items, batch.map((b) => b.id));
      let page: Entry[] = [];
      for (const folder of batch) {
        const { entries, folders } = folderEntries(folder.path, grouped.get(folder.id) ?? [], this.formats, opts.onNotice);
        queue.push(...folders);
        page.push(...entries);
        while (page.length >= PAGE_SIZE) {
          yield page.slice(0, PAGE_SIZE);
          page = page.slice(PAGE_SIZE);
        }
      }
      if (page.length) yield page;
      if (head >= 1024 && head * 2 >= queue.length) {
        queue.splice(0, head);
        head = 0;
      }
    }
  }

  async stat(path: string, opts: ListOptions = {}): Promise<Entry> {
    const rel = this.checked(path, 'stat');
    const found = await this.lookup(rel, `stat ${q(rel)}`, opts.signal);
    if (!found) throw new ConnectorError('not_found', `stat ${q(rel)}: not found`);
    return entryOf(rel, found.listed);
  }

  // ---- bytes ----

  async read(path: string, opts: ReadOptions = {}): Promise<Readable> {
    const rel = this.checked(path, 'read');
    const op = `read ${q(rel)}`;
    const range = checkedRange(op, opts, rel);
    // A file deleted since its folder was listed is not found by its id: looked up afresh, once.
    return this.withFreshFolders(rel, async () => {
      const found = await this.readable(rel, op, range.signal);
      if (!found) throw new ConnectorError('not_found', `${op}: not found`);
      const { listed } = found;
      if (listed.kind === 'folder') throw new ConnectorError('conflict', `${op}: is a folder`);
      if (range.length === 0) return emptyRead(op, async () => entryOf(rel, listed));
      const id = encodeURIComponent(found.file.id);
      if (listed.kind === 'export') {
        // Exports take no Range: the bytes before the offset are read and dropped.
        const res = await this.client.request({ method: 'GET', url: this.client.url(`/files/${id}/export`, { mimeType: listed.mime }), op: `${op}: export as ${listed.ext}`, signal: range.signal });
        return mapBodyErrors(res.body, op, { signal: range.signal, skip: range.offset, limit: range.length });
      }
      const r = rangeHeader(range.offset, range.length);
      const res = await this.client.request({ method: 'GET', url: this.client.url(`/files/${id}`, { alt: 'media' }), op, headers: r ? { range: r } : {}, accept: [416], signal: range.signal });
      return rangedBody(res, op, range);
    });
  }

  async write(path: string, source: UploadSource, opts: WriteOptions = {}): Promise<WriteResult> {
    const rel = this.checked(path, 'write');
    const op = `write ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root, not a file`);
    const attempt = async (): Promise<WriteResult> => {
      const parentId = await this.ensureDir(parentPath(rel), opts.signal);
      const existing = await this.child(parentId, baseName(rel), op, opts.signal);
      if (existing?.listed.kind === 'folder') throw new ConnectorError('conflict', `${op}: a folder is at the path`);
      // A file of that name is given new content (a new file beside it would be a duplicate).
      const fileId = existing?.listed.kind === 'file' ? existing.file.id : undefined;
      const out = await uploadFile(this.client, { name: toDrive(baseName(rel)), parentId, fileId }, source, opts, this.capabilities.preferredChunkSize, op);
      this.relisted(parentPath(rel), baseName(rel), undefined);
      return { entry: entryOf(rel, listedOf(out.file, this.formats)), resumedFrom: out.resumedFrom, deduplicated: false, hashes: out.md5 ? { md5: out.md5 } : {} };
    };
    return this.withFreshFolders(rel, attempt);
  }

  /** A folder or listing remembered here may be out of date (deleted by someone else): forgotten and found (or made) again, once. */
  private async withFreshFolders<T>(rel: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const parent = parentPath(rel);
      if (!isConnectorError(err, 'not_found') || !((parent !== '' && this.dirs.has(parent)) || this.listings.has(parent))) throw err;
      this.forget(parent.split('/')[0]);
      return fn();
    }
  }

  // ---- changing the tree ----

  async mkdir(path: string): Promise<void> {
    const rel = this.checked(path, 'mkdir');
    await this.withFreshFolders(`${rel}/x`, () => this.ensureDir(rel));
  }

  /** The id of folder `rel`, made (with its parents) where missing. */
  private async ensureDir(rel: string, signal?: AbortSignal): Promise<string> {
    if (rel === '') return (await this.rootFolder(signal)).id;
    const known = this.dirs.get(rel);
    if (known) return known;
    let pending = this.making.get(rel);
    if (!pending) {
      pending = this.makeDir(rel, signal).finally(() => this.making.delete(rel));
      this.making.set(rel, pending);
    }
    return pending;
  }

  private async makeDir(rel: string, signal?: AbortSignal): Promise<string> {
    const op = `mkdir ${q(rel)}`;
    const parentId = await this.ensureDir(parentPath(rel), signal);
    const existing = await this.child(parentId, baseName(rel), op, signal);
    if (existing && existing.listed.kind !== 'folder') throw new ConnectorError('conflict', `${op}: a file is in the way`);
    const id =
      existing?.file.id ??
      (
        await this.client.json<DriveFile>({
          method: 'POST',
          url: this.client.url('/files', { fields: FILE_FIELDS }),
          op,
          headers: { 'content-type': 'application/json; charset=UTF-8' },
          body: JSON.stringify({ name: toDrive(baseName(rel)), mimeType: FOLDER_MIME, parents: [parentId] }),
          signal,
        })
      ).id;
    this.remember(rel, id);
    return id;
  }

  async delete(path: string, opts: DeleteOptions = {}): Promise<void> {
    const rel = this.checked(path, 'delete');
    const op = `delete ${q(rel)}`;
    if (rel === '') throw new ConnectorError('invalid_name', `${op}: is the remote's root`);
    const found = await this.lookup(rel, op);
    if (!found) throw new ConnectorError('not_found', `${op}: not found`);
    await this.remove(found.file.id, opts.permanent === true, op);
    this.forget(rel);
    this.relisted(parentPath(rel), baseName(rel), undefined);
  }

  /** To the trash (Drive keeps it 30 days), or gone for good. */
  private async remove(id: string, permanent: boolean, op: string): Promise<void> {
    const url = this.client.url(`/files/${encodeURIComponent(id)}`, permanent ? {} : { fields: 'id' });
    const res = permanent
      ? await this.client.request({ method: 'DELETE', url, op })
      : await this.client.request({ method: 'PATCH', url, op, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: JSON.stringify({ trashed: true }) });
    await res.body.dump();
  }

  /** What is at a destination goes to the trash first: Drive would keep both under one name. */
  private async clearDestination(dst: string, src: Found, op: string): Promise<void> {
    const existing = await this.lookup(dst, op);
    if (!existing || existing.file.id === src.file.id) return;
    if (existing.listed.kind === 'folder') throw new ConnectorError('conflict', `${op}: a folder is at the destination`);
    await this.remove(existing.file.id, false, op);
    this.relisted(parentPath(dst), baseName(dst), undefined);
  }

  /** The Drive name for `dst`: an exported document keeps its type, so the export extension is not part of its name. */
  private driveNameFor(dst: string, src: Found): string {
    const base = baseName(dst);
    const { listed } = src;
    if (listed.kind === 'export' && base.endsWith(`.${listed.ext}`)) return toDrive(base.slice(0, -listed.ext.length - 1));
    return toDrive(base);
  }

  async move(from: string, to: string): Promise<Entry> {
    const src = this.checked(from, 'move');
    const dst = this.checked(to, 'move');
    const op = `move ${q(src)} to ${q(dst)}`;
    if (src === '' || dst === '') throw new ConnectorError('invalid_name', `${op}: the remote's root cannot be moved or replaced`);
    const found = await this.lookup(src, op);
    if (!found) throw new ConnectorError('not_found', `${op}: not found`);
    if (src === dst) return entryOf(dst, found.listed);
    await this.clearDestination(dst, found, op);
    const parentId = await this.ensureDir(parentPath(dst));
    // The parents Drive has (an item of an old account may have several): it ends up in one.
    const oldParents = (found.file.parents ?? []).filter((p) => p !== parentId);
    const file = await this.client.json<DriveFile>({
      method: 'PATCH',
      url: this.client.url(`/files/${encodeURIComponent(found.file.id)}`, { fields: FILE_FIELDS, addParents: parentId, removeParents: oldParents.length ? oldParents.join(',') : undefined }),
      op,
      headers: { 'content-type': 'application/json; charset=UTF-8' },
      body: JSON.stringify({ name: this.driveNameFor(dst, found) }),
    });
    this.forget(src);
    this.forget(dst);
    this.relisted(parentPath(src), baseName(src), undefined);
    this.relisted(parentPath(dst), baseName(dst), undefined);
    const listed = listedOf(file, this.formats);
    if (listed.kind === 'folder') this.remember(dst, file.id);
    return entryOf(dst, listed);
  }

  async copy(from: string, to: string): Promise<Entry> {
    const src = this.checked(from, 'copy');
    const dst = this.checked(to, 'copy');
    const op = `copy ${q(src)} to ${q(dst)}`;
    if (src === '' || dst === '') throw new ConnectorError('invalid_name', `${op}: the remote's root cannot be copied or replaced`);
    const found = await this.lookup(src, op);
    if (!found) throw new ConnectorError('not_found', `${op}: not found`);
    if (found.listed.kind === 'folder') throw new ConnectorError('unsupported', `${op}: Drive copies files only, not folders`);
    await this.clearDestination(dst, found, op);
    const parentId = await this.ensureDir(parentPath(dst));
    const file = await this.client.json<DriveFile>({
      method: 'POST',
      url: this.client.url(`/files/${encodeURIComponent(found.file.id)}/copy`, { fields: FILE_FIELDS }),
      op,
      headers: { 'content-type': 'application/json; charset=UTF-8' },
      // A copy is stamped now unless told otherwise; rclone keeps the source's time too.
      body: JSON.stringify({ name: this.driveNameFor(dst, found), parents: [parentId], ...(found.file.modifiedTime ? { modifiedTime: found.file.modifiedTime } : {}) }),
    });
    return entryOf(dst, listedOf(file, this.formats));
  }

  // ---- the account ----

  async about(): Promise<About> {
    const a = await this.client.json<AboutJson>({ method: 'GET', url: this.client.url('/about', { fields: 'storageQuota' }), op: 'about' });
    const used = a.storageQuota?.usage !== undefined ? Number(a.storageQuota.usage) : null;
    const limit = a.storageQuota?.limit !== undefined ? Number(a.storageQuota.limit) : null;
    if (limit === null) return { usedBytes: used, totalBytes: null, freeBytes: null, unlimited: true };
    return { usedBytes: used, totalBytes: limit, freeBytes: used === null ? null : Math.max(0, limit - used), unlimited: false };
  }

  // ---- the change feed ----

  /** `changes.getStartPageToken`, with the time it was taken (changes.ts tells new folders from moved ones by it). */
  async changeCursor(opts: ListOptions = {}): Promise<string> {
    const at = this.now();
    const res = await this.client.json<{ startPageToken?: string }>({
      method: 'GET',
      url: this.client.url('/changes/startPageToken', this.client.loc.driveId ? { driveId: this.client.loc.driveId } : {}),
      op: 'ask for the change feed\'s position',
      signal: opts.signal,
    });
    if (!res.startPageToken) throw new ConnectorError('transient', 'changes.getStartPageToken answered without a token');
    return `${res.startPageToken}@${at}`;
  }

  changes(cursor: string, opts: ListOptions = {}): AsyncIterable<ChangeBatch> {
    return feed(
      {
        client: this.client,
        formats: this.formats,
        now: this.now,
        rootId: async () => (await this.rootFolder(opts.signal)).id,
        walk: (rel) => this.walk(rel, opts),
      },
      cursor,
      opts,
    );
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

