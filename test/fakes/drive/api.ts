/**
 * The Drive v3 endpoints of providers.md D.2, on `www.googleapis.com` paths: files (list with `q`,
 * get, media with Range, export, create, patch with addParents/removeParents, delete, copy,
 * emptyTrash), uploads (media, multipart, resumable), about, changes, drives. Errors carry Drive's
 * JSON body with its `reason`, which is what clients (rclone, knarr) decide by.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseFields, project, type FieldTree } from './fields.js';
import type { Faults } from './faults.js';
import { parseQuery, QueryError } from './query.js';
import { receiveAll, readSmall, type ReceiveStats } from './receive.js';
import { docKinds, FOLDER_MIME, GOOGLE_APPS_PREFIX, MY_DRIVE_ROOT, SHORTCUT_MIME, type DriveItem, type DriveStore } from './store.js';
import type { Session, UploadSessions } from './uploads.js';

export interface ApiStats extends ReceiveStats {
  downloadBytes: number;
  listRequests: number;
  changesRequests: number;
  /** Multipart and media uploads (one request each). */
  simpleUploads: number;
}

export interface ApiDeps {
  store: DriveStore;
  faults: Faults;
  sessions: UploadSessions;
  stats: ApiStats;
  /** The storage limit about() reports; null: unlimited. */
  storageLimit: number | null;
}

const EXPORT_CAP = 10 * 1024 * 1024;

/** What each Google type exports to, as Drive's exportLinks offer it (a subset). */
export const exportTypes: Record<string, Record<string, string>> = {
  [docKinds.document]: {
    docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    odt: 'application/vnd.oasis.opendocument.text',
    pdf: 'application/pdf',
    txt: 'text/plain',
  },
  [docKinds.spreadsheet]: {
    xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    ods: 'application/x-vnd.oasis.opendocument.spreadsheet',
    csv: 'text/csv',
    pdf: 'application/pdf',
  },
  [docKinds.presentation]: {
    pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
    odp: 'application/vnd.oasis.opendocument.presentation',
    pdf: 'application/pdf',
  },
  [docKinds.drawing]: { pdf: 'application/pdf', svg: 'image/svg+xml', png: 'image/png' },
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export function driveError(res: ServerResponse, status: number, reason: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { code: status, message, errors: [{ domain: reason.includes('RateLimit') || reason === 'uploadLimitExceeded' ? 'usageLimits' : 'global', reason, message }] } }, headers);
}

export function unauthorized(res: ServerResponse, why: string): void {
  sendJson(res, 401, {
    error: {
      code: 401,
      message: `Request had invalid authentication credentials (${why}). Expected OAuth 2 access token, login cookie or other valid authentication credential.`,
      errors: [{ message: 'Invalid Credentials', domain: 'global', reason: 'authError', location: 'Authorization', locationType: 'header' }],
      status: 'UNAUTHENTICATED',
    },
  }, { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' });
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The file resource, every field Drive would have; `fields` cuts it. */
export function fileJson(store: DriveStore, it: DriveItem): Record<string, unknown> {
  const out: Record<string, unknown> = {
    kind: 'drive#file',
    id: it.id,
    name: it.name,
    mimeType: it.mimeType,
    parents: it.parents,
    trashed: it.trashed,
    explicitlyTrashed: it.trashed && !it.trashedWith,
    createdTime: iso(it.createdTime),
    modifiedTime: iso(it.modifiedTime),
    version: String(it.version),
  };
  if (it.driveId) {
    out.driveId = it.driveId;
    out.teamDriveId = it.driveId;
  }
  if (it.size !== undefined && it.digests) {
    out.size = String(it.size);
    out.quotaBytesUsed = String(it.size);
    out.md5Checksum = it.digests.md5;
    out.sha1Checksum = it.digests.sha1;
    out.sha256Checksum = it.digests.sha256;
    out.headRevisionId = `rev${it.version}`;
  }
  if (it.shortcutTargetId) out.shortcutDetails = { targetId: it.shortcutTargetId, targetMimeType: store.get(it.shortcutTargetId)?.mimeType ?? 'application/octet-stream' };
  const exports = exportTypes[it.mimeType];
  if (exports) out.exportLinks = Object.fromEntries(Object.values(exports).map((m) => [m, `https://docs.google.com/feeds/download/export?id=${it.id}&exportFormat=${encodeURIComponent(m)}`]));
  return out;
}

/** Drive's default partial response when no `fields` is given. */
const DEFAULT_FILE_FIELDS = parseFields('kind,id,name,mimeType');

function fileFields(q: URLSearchParams): FieldTree {
  return q.has('fields') ? parseFields(q.get('fields')) : DEFAULT_FILE_FIELDS;
}

function sendFile(res: ServerResponse, d: ApiDeps, it: DriveItem, q: URLSearchParams, status = 200): void {
  sendJson(res, status, project(fileJson(d.store, it), fileFields(q)));
}

/** An item a request may see: in My Drive, or in a shared drive when the client says it supports them. */
function visible(it: DriveItem | undefined, q: URLSearchParams): it is DriveItem {
  if (!it) return false;
  return !it.driveId || q.get('supportsAllDrives') === 'true' || q.get('supportsTeamDrives') === 'true';
}

function notFound(res: ServerResponse, id: string): void {
  driveError(res, 404, 'notFound', `File not found: ${id}.`);
}

/** A page token names a cached result list and an offset, so pages stay stable while the drive changes. */
const listingsOf = new WeakMap<DriveStore, Map<string, { items: DriveItem[]; offset: number }>>();
let listingSeq = 0;

function listFiles(res: ServerResponse, d: ApiDeps, q: URLSearchParams): void {
  d.stats.listRequests++;
  let listings = listingsOf.get(d.store);
  if (!listings) listingsOf.set(d.store, (listings = new Map()));
  const pageSize = Math.min(1000, Math.max(1, Number(q.get('pageSize') ?? 100) || 100), d.faults.maxPage ?? Infinity);
  let items: DriveItem[];
  let offset = 0;
  const token = q.get('pageToken');
  if (token) {
    const cached = listings.get(token);
    if (!cached) return driveError(res, 400, 'invalid', 'Invalid Value');
    listings.delete(token);
    ({ items, offset } = cached);
  } else {
    let parsed: ReturnType<typeof parseQuery> | undefined;
    try {
      parsed = q.get('q') ? parseQuery(q.get('q') as string) : undefined;
    } catch (err) {
      return driveError(res, 400, 'invalid', `Invalid Value: ${(err as QueryError).message}`);
    }
    const allDrives = q.get('includeItemsFromAllDrives') === 'true' || q.get('includeTeamDriveItems') === 'true';
    const driveId = q.get('driveId');
    const pool = parsed?.parents.length ? [...new Set(parsed.parents.flatMap((p) => d.store.children(d.store.resolveId(p), true)))] : [...d.store.items.values()];
    items = pool.filter((it) => {
      if (it.parents.length === 0) return false;
      if (driveId ? it.driveId !== driveId : it.driveId && !allDrives) return false;
      return parsed ? parsed.match(it) : !it.trashed;
    });
  }
  const page = items.slice(offset, offset + pageSize);
  const body: Record<string, unknown> = { kind: 'drive#fileList', incompleteSearch: false, files: page.map((it) => fileJson(d.store, it)) };
  if (offset + pageSize < items.length) {
    const next = `p${++listingSeq}`;
    listings.set(next, { items, offset: offset + pageSize });
    // Abandoned listings are forgotten, oldest first.
    if (listings.size > 200) listings.delete(listings.keys().next().value as string);
    body.nextPageToken = next;
  }
  const fields = q.has('fields') ? parseFields(q.get('fields')) : parseFields('kind,nextPageToken,incompleteSearch,files(kind,id,name,mimeType)');
  sendJson(res, 200, project(body, fields));
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const text = await readSmall(req);
  if (text.trim() === '') return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function parseTime(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** Checks the parents a request names; the error already sent when one is wrong. */
function checkParents(res: ServerResponse, d: ApiDeps, ids: string[], q: URLSearchParams): boolean {
  for (const id of ids) {
    const p = d.store.get(id);
    if (!visible(p, q) || p.trashed) {
      notFound(res, id);
      return false;
    }
    if (p.mimeType !== FOLDER_MIME) {
      driveError(res, 403, 'insufficientParentPermissions', 'The parent is not a folder.');
      return false;
    }
  }
  return true;
}

function parentsOf(meta: Record<string, unknown>): string[] {
  return Array.isArray(meta.parents) && meta.parents.length > 0 ? meta.parents.map(String) : [MY_DRIVE_ROOT];
}

/** Trash or restore an item; a folder takes what is below it along (implicitly trashed). */
function setTrashed(d: ApiDeps, it: DriveItem, trashed: boolean, via?: string): void {
  if (it.trashed === trashed && (via === undefined || it.trashedWith === via)) return;
  if (!trashed && via !== undefined && it.trashedWith !== via) return;
  d.store.update(it, { trashed, trashedWith: trashed ? via : undefined });
  if (it.mimeType === FOLDER_MIME) for (const c of d.store.children(it.id, true)) {
    if (trashed && !c.trashed) setTrashed(d, c, true, via ?? it.id);
    else if (!trashed && c.trashedWith === (via ?? it.id)) setTrashed(d, c, false, via ?? it.id);
  }
}

function applyParents(it: DriveItem, q: URLSearchParams, store: DriveStore): string[] {
  let parents = [...it.parents];
  const remove = (q.get('removeParents') ?? '').split(',').filter(Boolean).map((p) => store.resolveId(p));
  const add = (q.get('addParents') ?? '').split(',').filter(Boolean).map((p) => store.resolveId(p));
  parents = parents.filter((p) => !remove.includes(p));
  for (const p of add) if (!parents.includes(p)) parents.push(p);
  return parents;
}

/** A quota refusal for an upload, or undefined when the day's allowance has room for `incoming` bytes. */
export function quotaRefusal(faults: Faults, incoming: number): { reason: string; message: string } | undefined {
  if (faults.quotaBytes === null) return undefined;
  if (faults.usedToday < faults.quotaBytes && faults.usedToday + incoming <= faults.quotaBytes) return undefined;
  return faults.quotaReason === 'uploadLimitExceeded'
    ? { reason: 'uploadLimitExceeded', message: 'The user has exceeded their Drive upload limit' }
    : { reason: 'userRateLimitExceeded', message: 'User rate limit exceeded.' };
}

async function createOrUpdate(d: ApiDeps, meta: Record<string, unknown>, q: URLSearchParams, body: Pick<DriveItem, 'blob' | 'size' | 'digests'>, fileId: string | undefined, contentType?: string): Promise<DriveItem> {
  const mtime = parseTime(meta.modifiedTime) ?? Date.now();
  if (fileId) {
    const it = d.store.get(fileId) as DriveItem;
    const old = it.blob;
    const patch: Partial<DriveItem> = { ...body, modifiedTime: mtime, parents: applyParents(it, q, d.store) };
    if (typeof meta.name === 'string') patch.name = meta.name;
    return d.store.update(it, patch, old);
  }
  return d.store.create({
    name: typeof meta.name === 'string' ? meta.name : 'Untitled',
    mimeType: typeof meta.mimeType === 'string' ? meta.mimeType : (contentType ?? 'application/octet-stream'),
    parents: parentsOf(meta),
    modifiedTime: mtime,
    createdTime: parseTime(meta.createdTime) ?? Date.now(),
    ...body,
  });
}

/** multipart/related: the JSON metadata part, then the media part. */
function parseMultipart(body: Buffer, contentType: string): { meta: Record<string, unknown>; media: Buffer; mediaType?: string } | undefined {
  const m = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!m) return undefined;
  const delim = Buffer.from(`--${m[1]}`);
  const parts: Buffer[] = [];
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    const start = pos + delim.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delim, start);
    if (next < 0) return undefined;
    // Each part runs from after the delimiter line to the CRLF before the next delimiter.
    let s = start;
    if (body[s] === 0x0d && body[s + 1] === 0x0a) s += 2;
    let e = next;
    if (body[e - 2] === 0x0d && body[e - 1] === 0x0a) e -= 2;
    parts.push(body.subarray(s, e));
    pos = next;
  }
  if (parts.length !== 2) return undefined;
  const split = (p: Buffer) => {
    const i = p.indexOf('\r\n\r\n');
    return i < 0 ? { headers: '', data: p } : { headers: p.subarray(0, i).toString(), data: p.subarray(i + 4) };
  };
  const [a, b] = parts.map(split);
  try {
    const meta = a.data.length ? (JSON.parse(a.data.toString()) as Record<string, unknown>) : {};
    return { meta, media: b.data, mediaType: /content-type:\s*([^\r\n;]+)/i.exec(b.headers)?.[1] };
  } catch {
    return undefined;
  }
}

export function sessionUrl(base: string, s: Session, fileId?: string): string {
  const q = new URLSearchParams(s.query);
  q.set('uploadType', 'resumable');
  q.set('upload_id', s.id);
  return `${base}/upload/drive/v3/files${fileId ? `/${fileId}` : ''}?${q}`;
}

/** POST/PATCH /upload/drive/v3/files[/{id}] and the session URIs. */
export async function handleUpload(req: IncomingMessage, res: ServerResponse, d: ApiDeps, url: URL, base: string): Promise<void> {
  const q = url.searchParams;
  const fileId = /^\/upload\/drive\/v3\/files\/([^/]+)$/.exec(url.pathname)?.[1];
  const uploadId = q.get('upload_id');
  if (uploadId) {
    const s = d.sessions.get(uploadId);
    if (!s) return driveError(res, 404, 'notFound', 'No such upload session.');
    if (req.method === 'DELETE') {
      await d.sessions.cancel(s);
      res.writeHead(499).end();
      return;
    }
    const length = Number(req.headers['content-length'] ?? 0);
    const isQuery = /^bytes \*\//.test(String(req.headers['content-range'] ?? ''));
    const refusal = isQuery ? undefined : quotaRefusal(d.faults, length);
    if (refusal) {
      req.resume();
      return driveError(res, 403, refusal.reason, refusal.message);
    }
    const answer = await d.sessions.chunk(s, req, (sess, body) => createOrUpdate(d, sess.metadata, sess.query, body, sess.fileId, String(sess.metadata.mimeType ?? '')));
    if (answer.status === 'cut') {
      if (!res.headersSent) res.destroy();
      return;
    }
    if (answer.status === 308) {
      res.writeHead(308, answer.range ? { range: answer.range, 'content-length': '0' } : { 'content-length': '0' });
      res.end();
      return;
    }
    if (answer.status === 200) return sendFile(res, d, answer.item, s.query);
    return driveError(res, answer.status, answer.reason, answer.message);
  }

  const type = q.get('uploadType') ?? 'media';
  if (fileId) {
    const it = d.store.get(fileId);
    if (!visible(it, q) || it.mimeType === FOLDER_MIME) {
      req.resume();
      return notFound(res, fileId);
    }
  }
  if (type === 'resumable') {
    const meta = await jsonBody(req);
    if (!meta) return driveError(res, 400, 'parseError', 'Parse Error');
    if (!fileId && !checkParents(res, d, parentsOf(meta), q)) return;
    const refusal = quotaRefusal(d.faults, 0);
    if (refusal) return driveError(res, 403, refusal.reason, refusal.message);
    const total = req.headers['x-upload-content-length'] !== undefined ? Number(req.headers['x-upload-content-length']) : null;
    if (typeof req.headers['x-upload-content-type'] === 'string' && meta.mimeType === undefined) meta.mimeType = req.headers['x-upload-content-type'];
    const s = d.sessions.open(meta, new URLSearchParams([...q].filter(([k]) => k !== 'uploadType')), total, fileId);
    res.writeHead(200, { location: sessionUrl(base, s, fileId), 'x-guploader-uploadid': s.id, 'content-length': '0' });
    res.end();
    return;
  }
  if (type !== 'multipart' && type !== 'media') {
    req.resume();
    return driveError(res, 400, 'invalid', `Invalid value for uploadType: ${type}`);
  }
  const length = Number(req.headers['content-length'] ?? 0);
  const refusal = quotaRefusal(d.faults, length);
  if (refusal) {
    req.resume();
    return driveError(res, 403, refusal.reason, refusal.message);
  }
  if (length > 256 * 1024 * 1024) {
    req.resume();
    return driveError(res, 413, 'uploadTooLarge', 'Use a resumable upload for files this large.');
  }
  const body = await receiveAll(req, d.faults, d.stats);
  if (!body) {
    res.destroy();
    return;
  }
  d.stats.simpleUploads++;
  let meta: Record<string, unknown> = {};
  let media = body;
  let mediaType = req.headers['content-type'];
  if (type === 'multipart') {
    const parsed = parseMultipart(body, String(req.headers['content-type'] ?? ''));
    if (!parsed) return driveError(res, 400, 'badContent', 'Malformed multipart body.');
    ({ meta, media } = parsed);
    mediaType = parsed.mediaType;
  }
  if (!fileId && !checkParents(res, d, parentsOf(meta), q)) return;
  const stored = await d.store.writeBody(media);
  const it = await createOrUpdate(d, meta, q, stored, fileId, mediaType);
  sendFile(res, d, it, q);
}

async function pump(res: ServerResponse, d: ApiDeps, stream: NodeJS.ReadableStream): Promise<void> {
  const started = Date.now();
  let sent = 0;
  for await (const raw of stream) {
    let chunk = raw as Buffer;
    let cut = false;
    if (d.faults.cutDownloadIn !== null) {
      if (chunk.length >= d.faults.cutDownloadIn) {
        chunk = chunk.subarray(0, d.faults.cutDownloadIn);
        cut = true;
      }
      d.faults.cutDownloadIn = cut ? null : d.faults.cutDownloadIn - chunk.length;
    }
    if (chunk.length) {
      sent += chunk.length;
      d.stats.downloadBytes += chunk.length;
      d.faults.downloadedToday += chunk.length;
      if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
    }
    if (cut) {
      (stream as unknown as { destroy(): void }).destroy();
      res.socket?.destroy();
      return;
    }
    const rate = d.faults.downloadBytesPerSec;
    if (rate) {
      const ahead = (sent / rate) * 1000 - (Date.now() - started);
      if (ahead > 5) await new Promise((r) => setTimeout(r, ahead));
    }
    if (res.destroyed) {
      (stream as unknown as { destroy(): void }).destroy();
      return;
    }
  }
  res.end();
}

function downloadRefused(res: ServerResponse, faults: Faults): boolean {
  if (faults.downloadQuotaBytes === null || faults.downloadedToday < faults.downloadQuotaBytes) return false;
  driveError(res, 403, 'downloadQuotaExceeded', 'The download quota for this file has been exceeded.');
  return true;
}

async function download(req: IncomingMessage, res: ServerResponse, d: ApiDeps, it: DriveItem): Promise<void> {
  if (downloadRefused(res, d.faults)) return;
  if (it.mimeType.startsWith(GOOGLE_APPS_PREFIX)) return driveError(res, 403, 'fileNotDownloadable', 'Only files with binary content can be downloaded. Use Export with Docs Editors files.');
  const size = it.size ?? 0;
  const range = req.headers.range;
  let start = 0;
  let end = size - 1;
  let status = 200;
  if (range) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range);
    if (m && (m[1] !== '' || m[2] !== '')) {
      if (m[1] === '') {
        start = Math.max(0, size - Number(m[2]));
      } else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]));
      }
      if (start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        res.end();
        return;
      }
      status = 206;
    }
  }
  const headers: Record<string, string> = { 'content-type': it.mimeType, 'content-length': String(Math.max(0, end - start + 1)), 'accept-ranges': 'bytes' };
  if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
  res.writeHead(status, headers);
  if (size === 0 || !it.blob) {
    res.end();
    return;
  }
  await pump(res, d, d.store.bodyStream(it, start, end));
}

/** The bytes an export gives: made from the document's text, different per format (not a real OOXML file). */
export function exportBytes(it: DriveItem, mime: string): Buffer {
  return Buffer.from(`knarr drive emulator export\nmimeType: ${mime}\nname: ${it.name}\n\n${it.docText ?? ''}`);
}

function changesList(res: ServerResponse, d: ApiDeps, q: URLSearchParams): void {
  d.stats.changesRequests++;
  const seq = d.store.seqOf(Number(q.get('pageToken')));
  if (seq === undefined) return driveError(res, 400, 'invalid', 'Invalid Value');
  const pageSize = Math.min(1000, Math.max(1, Number(q.get('pageSize') ?? 100) || 100), d.faults.maxPage ?? Infinity);
  const driveId = q.get('driveId');
  const allDrives = q.get('includeItemsFromAllDrives') === 'true';
  const includeRemoved = q.get('includeRemoved') !== 'false';
  const slice = d.store.changes.slice(seq - 1, seq - 1 + pageSize);
  // Within a page a file appears once, in its latest state, as Drive coalesces changes.
  const latest = new Map<string, (typeof slice)[number]>();
  for (const c of slice) {
    if (driveId ? c.driveId !== driveId : c.driveId && !allDrives) continue;
    latest.delete(c.fileId);
    latest.set(c.fileId, c);
  }
  const changes = [...latest.values()]
    .map((c) => {
      const now = d.store.get(c.fileId);
      const removed = !now;
      if (removed && !includeRemoved) return undefined;
      return { kind: 'drive#change', changeType: 'file', type: 'file', fileId: c.fileId, removed, time: iso(c.time), ...(c.driveId ? { driveId: c.driveId } : {}), ...(now ? { file: fileJson(d.store, now) } : {}) };
    })
    .filter(Boolean);
  const next = seq + slice.length;
  const body: Record<string, unknown> = { kind: 'drive#changeList', changes };
  if (next <= d.store.changes.length) body.nextPageToken = String(d.store.tokenOf(next));
  else body.newStartPageToken = String(d.store.startPageToken());
  const fields = q.has('fields') ? parseFields(q.get('fields')) : parseFields('kind,nextPageToken,newStartPageToken,changes(kind,changeType,type,fileId,removed,time,file(kind,id,name,mimeType))');
  sendJson(res, 200, project(body, fields));
}

function about(res: ServerResponse, d: ApiDeps, q: URLSearchParams): void {
  let used = 0;
  let trash = 0;
  for (const it of d.store.items.values()) {
    if (it.driveId || it.size === undefined) continue;
    used += it.size;
    if (it.trashed) trash += it.size;
  }
  const storageQuota: Record<string, string> = { usage: String(used), usageInDrive: String(used), usageInDriveTrash: String(trash) };
  if (d.storageLimit !== null) storageQuota.limit = String(d.storageLimit);
  // rclone asks for exportFormats before it lists a Google Doc under an export extension.
  const exportFormats = Object.fromEntries(Object.entries(exportTypes).map(([from, to]) => [from, Object.values(to)]));
  const body = { kind: 'drive#about', exportFormats, importFormats: {}, user: { kind: 'drive#user', displayName: 'Emulated User', emailAddress: 'user@example.com', me: true }, storageQuota, maxUploadSize: '5242880000000', canCreateDrives: true };
  sendJson(res, 200, project(body, q.has('fields') ? parseFields(q.get('fields')) : '*'));
}

/** Everything under /drive/v3. */
export async function handleApi(req: IncomingMessage, res: ServerResponse, d: ApiDeps, url: URL): Promise<void> {
  const q = url.searchParams;
  const path = url.pathname.replace(/^\/drive\/v3/, '');
  const method = req.method ?? 'GET';
  let m: RegExpExecArray | null;

  if (path === '/about' && method === 'GET') return about(res, d, q);
  if (path === '/changes/startPageToken' && method === 'GET') return sendJson(res, 200, { kind: 'drive#startPageToken', startPageToken: String(d.store.startPageToken()) });
  if (path === '/changes' && method === 'GET') return changesList(res, d, q);
  if (path === '/drives' && method === 'GET') return sendJson(res, 200, { kind: 'drive#driveList', drives: [...d.store.drives.values()].map((x) => ({ kind: 'drive#drive', ...x })) });
  if ((m = /^\/drives\/([^/]+)$/.exec(path)) && method === 'GET') {
    const drive = d.store.drives.get(decodeURIComponent(m[1]));
    return drive ? sendJson(res, 200, { kind: 'drive#drive', ...drive }) : driveError(res, 404, 'notFound', `Shared drive not found: ${m[1]}`);
  }
  if (path === '/files' && method === 'GET') return listFiles(res, d, q);
  if (path === '/files' && method === 'POST') {
    const meta = await jsonBody(req);
    if (!meta || typeof meta.name !== 'string') return driveError(res, 400, 'required', 'Required: name');
    if (!checkParents(res, d, parentsOf(meta), q)) return;
    const mimeType = typeof meta.mimeType === 'string' ? meta.mimeType : 'application/octet-stream';
    const extra: Partial<DriveItem> = {};
    if (mimeType === SHORTCUT_MIME) {
      const target = (meta.shortcutDetails as { targetId?: string } | undefined)?.targetId;
      if (!target || !d.store.get(target)) return driveError(res, 400, 'invalid', 'shortcutDetails.targetId is required');
      extra.shortcutTargetId = target;
    }
    const it = d.store.create({ name: meta.name, mimeType, parents: parentsOf(meta), modifiedTime: parseTime(meta.modifiedTime) ?? Date.now(), ...extra });
    return sendFile(res, d, it, q);
  }
  if (path === '/files/trash' && method === 'DELETE') {
    for (const it of [...d.store.items.values()]) if (it.trashed && !it.trashedWith && d.store.items.has(it.id)) d.store.remove(it);
    res.writeHead(204).end();
    return;
  }
  if ((m = /^\/files\/([^/]+)\/copy$/.exec(path)) && method === 'POST') {
    const src = d.store.get(m[1]);
    if (!visible(src, q)) return notFound(res, m[1]);
    if (src.mimeType === FOLDER_MIME) return driveError(res, 403, 'cannotCopyFile', 'This file cannot be copied by the user.');
    const meta = (await jsonBody(req)) ?? {};
    const parents = Array.isArray(meta.parents) ? meta.parents.map(String) : src.parents;
    if (!checkParents(res, d, parents, q)) return;
    const body = await d.store.copyBody(src);
    const it = d.store.create({
      name: typeof meta.name === 'string' ? meta.name : `Copy of ${src.name}`,
      mimeType: src.mimeType,
      parents,
      modifiedTime: parseTime(meta.modifiedTime) ?? Date.now(),
      docText: src.docText,
      ...body,
    });
    return sendFile(res, d, it, q);
  }
  if ((m = /^\/files\/([^/]+)\/export$/.exec(path)) && method === 'GET') {
    const it = d.store.get(m[1]);
    if (!visible(it, q)) return notFound(res, m[1]);
    if (downloadRefused(res, d.faults)) return;
    const mime = q.get('mimeType') ?? '';
    if (!Object.values(exportTypes[it.mimeType] ?? {}).includes(mime)) return driveError(res, 400, 'badRequest', 'The requested conversion is not supported.');
    const bytes = exportBytes(it, mime);
    if (bytes.length > EXPORT_CAP) return driveError(res, 403, 'exportSizeLimitExceeded', 'This file is too large to be exported.');
    res.writeHead(200, { 'content-type': mime, 'content-length': String(bytes.length) });
    res.end(bytes);
    return;
  }
  if ((m = /^\/files\/([^/]+)$/.exec(path))) {
    const id = decodeURIComponent(m[1]);
    const it = d.store.get(id);
    if (!visible(it, q)) {
      req.resume();
      return notFound(res, id);
    }
    if (method === 'GET') {
      if (q.get('alt') === 'media') return download(req, res, d, it);
      return sendFile(res, d, it, q);
    }
    if (method === 'DELETE') {
      if (it.parents.length === 0) return driveError(res, 403, 'insufficientFilePermissions', 'The root cannot be deleted.');
      d.store.remove(it);
      res.writeHead(204).end();
      return;
    }
    if (method === 'PATCH') {
      const meta = await jsonBody(req);
      if (!meta) return driveError(res, 400, 'parseError', 'Parse Error');
      const parents = applyParents(it, q, d.store);
      if (parents.length !== it.parents.length || parents.some((p, i) => p !== it.parents[i])) {
        if (!checkParents(res, d, parents, q)) return;
        // A folder may not go below itself.
        for (let p: DriveItem | undefined = d.store.get(parents[0]); p; p = d.store.get(p.parents[0] ?? '')) {
          if (p.id === it.id) return driveError(res, 403, 'cannotMoveItemIntoItself', 'A folder cannot be moved into itself.');
        }
      }
      const patch: Partial<DriveItem> = { parents };
      if (typeof meta.name === 'string') patch.name = meta.name;
      const mt = parseTime(meta.modifiedTime);
      if (mt !== undefined) patch.modifiedTime = mt;
      d.store.update(it, patch);
      if (typeof meta.trashed === 'boolean') setTrashed(d, it, meta.trashed);
      return sendFile(res, d, it, q);
    }
  }
  req.resume();
  driveError(res, 404, 'notFound', `Not found: ${method} ${url.pathname}`);
}
