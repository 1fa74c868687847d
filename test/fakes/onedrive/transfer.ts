/**
 * Bytes in and out: simple upload (`PUT …:/name:/content`, up to 4 MiB), upload sessions
 * (`createUploadSession` → an uploadUrl on its own path that takes no Authorization: fragments with
 * Content-Range in multiples of 320 KiB, each under 60 MiB, 202 with nextExpectedRanges, the
 * driveItem at the end; GET for the status, DELETE to cancel; 416 for bytes already held, 404 once
 * expired), and the pre-authenticated download URL with Range.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { QuickXorHash } from '../../../connectors/shared/quickxor.js';
import { readBody } from '../shared/listen.js';
import { pace } from './faults.js';
import { refuseName } from './graph.js';
import type { Emu } from './server.js';
import type { Drive, Item } from './store.js';
import { graphError, itemJson, sendJson, toSecond, type Ctx } from './wire.js';

export const SIMPLE_UPLOAD_MAX = 4 * 1024 * 1024;
export const FRAGMENT_MULTIPLE = 320 * 1024;
export const FRAGMENT_MAX = 60 * 1024 * 1024;
const SESSION_TTL_MS = 60 * 60 * 1000;

export interface Session {
  id: string;
  driveId: string;
  parentId: string;
  name: string;
  size: number | undefined;
  received: number;
  file: string;
  fd: FileHandle;
  quickXor: QuickXorHash;
  sha1: Hash;
  fsModified?: Date;
  fsCreated?: Date;
  conflict: string;
  created: number;
  expires: number;
  /** A fragment is being received: a second one at once is refused, as out of order. */
  busy: boolean;
}

/** Reads an upload body as the faults allow: the cut (destroying the socket) and the bandwidth cap. */
async function* uploadBody(emu: Emu, ctx: Ctx): AsyncGenerator<Buffer> {
  const start = Date.now();
  let sent = 0;
  for await (const raw of ctx.req) {
    let chunk = raw as Buffer;
    const pass = emu.faults.takeUploadBytes(chunk.length);
    if (pass !== undefined && pass < chunk.length) {
      chunk = chunk.subarray(0, pass);
      emu.stats.uploadBytes += chunk.length;
      emu.stats.cutUploads++;
      if (chunk.length) yield chunk;
      ctx.req.socket.destroy();
      throw new Error('cut by fault');
    }
    emu.stats.uploadBytes += chunk.length;
    sent += chunk.length;
    await pace(emu.faults.uploadBytesPerSec, sent, start);
    yield chunk;
  }
}

function parentAndName(emu: Emu, ctx: Ctx, d: Drive, base: Item, segments: string[]): { parent: Item; name: string; existing?: Item } | undefined {
  if (segments.length === 0) {
    // Addressed by id: the item itself is replaced.
    if (base.isDir || !base.parentId) {
      graphError(ctx, 400, 'invalidRequest', 'The target is a folder');
      return undefined;
    }
    return { parent: d.items.get(base.parentId)!, name: base.name, existing: base };
  }
  const parent = emu.store.lookup(d, base, segments.slice(0, -1));
  if (!parent) {
    // Graph creates missing parents on upload by path; a file in the way is a conflict.
    let cur = base;
    for (const s of segments.slice(0, -1)) {
      const next = emu.store.child(d, cur, s);
      if (next && !next.isDir) {
        graphError(ctx, 409, 'nameAlreadyExists', 'A file is in the way of the path');
        return undefined;
      }
      if (!next && refuseName(emu, ctx, d, cur, s)) return undefined;
      cur = next ?? emu.store.mkdir(d, cur, s);
    }
    return { parent: cur, name: segments.at(-1)! };
  }
  if (!parent.isDir) {
    graphError(ctx, 409, 'nameAlreadyExists', 'A file is in the way of the path');
    return undefined;
  }
  const name = segments.at(-1)!;
  if (refuseName(emu, ctx, d, parent, name)) return undefined;
  const existing = emu.store.child(d, parent, name);
  if (existing?.isDir) {
    graphError(ctx, 409, 'nameAlreadyExists', 'A folder with the same name already exists');
    return undefined;
  }
  return { parent, name, existing };
}

export async function handleSimplePut(emu: Emu, ctx: Ctx, d: Drive, base: Item, segments: string[]): Promise<void> {
  const length = Number(ctx.req.headers['content-length'] ?? NaN);
  if (Number.isFinite(length) && length > SIMPLE_UPLOAD_MAX) return graphError(ctx, 413, 'requestTooLarge', 'Simple upload is limited to 4 MB; use an upload session');
  const target = parentAndName(emu, ctx, d, base, segments);
  if (!target) return;
  if (emu.quotaFull(d)) return graphError(ctx, 507, 'quotaLimitReached', 'Insufficient Space Available');
  const file = emu.store.newBlobPath();
  const out = createWriteStream(file);
  const qx = new QuickXorHash();
  const sha1 = createHash('sha1');
  try {
    for await (const chunk of uploadBody(emu, ctx)) {
      if (qx.bytes + chunk.length > SIMPLE_UPLOAD_MAX) throw new Error('too large');
      qx.update(chunk);
      sha1.update(chunk);
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (err) {
    out.destroy();
    await rm(file, { force: true });
    if ((err as Error).message === 'too large') return graphError(ctx, 413, 'requestTooLarge', 'Simple upload is limited to 4 MB; use an upload session');
    return;
  }
  emu.stats.simplePuts++;
  const item = emu.store.commitFile(d, target.parent, target.name, file, { size: qx.bytes, quickXor: qx.digestBase64(), sha1: sha1.digest('hex').toUpperCase() });
  sendJson(ctx, target.existing ? 200 : 201, itemJson(emu, ctx, d, item));
}

export async function handleCreateSession(emu: Emu, ctx: Ctx, d: Drive, base: Item, segments: string[]): Promise<void> {
  let body: { item?: Record<string, unknown> } = {};
  const raw = (await readBody(ctx.req)).toString('utf8').trim();
  if (raw) {
    try {
      body = JSON.parse(raw) as typeof body;
    } catch {
      return graphError(ctx, 400, 'invalidRequest', 'The body must be JSON');
    }
  }
  const target = parentAndName(emu, ctx, d, base, segments);
  if (!target) return;
  const item = body.item ?? {};
  const conflict = typeof item['@microsoft.graph.conflictBehavior'] === 'string' ? (item['@microsoft.graph.conflictBehavior'] as string) : 'replace';
  if (target.existing && conflict === 'fail') return graphError(ctx, 409, 'nameAlreadyExists', 'An item with the same name already exists under the parent');
  const fsi = item.fileSystemInfo as { lastModifiedDateTime?: string; createdDateTime?: string } | undefined;
  const time = (v: string | undefined) => (v && !Number.isNaN(Date.parse(v)) ? toSecond(new Date(Date.parse(v))) : undefined);
  const id = randomBytes(18).toString('base64url');
  const file = join(emu.store.blobDir, `upload-${id}`);
  const now = Date.now();
  const session: Session = {
    id,
    driveId: d.id,
    parentId: target.parent.id,
    name: target.name,
    size: typeof item.fileSize === 'number' ? item.fileSize : undefined,
    received: 0,
    file,
    fd: await open(file, 'w'),
    quickXor: new QuickXorHash(),
    sha1: createHash('sha1'),
    fsModified: time(fsi?.lastModifiedDateTime),
    fsCreated: time(fsi?.createdDateTime),
    conflict,
    created: now,
    expires: now + SESSION_TTL_MS,
    busy: false,
  };
  emu.sessions.set(id, session);
  emu.stats.sessionsCreated++;
  sendJson(ctx, 200, { uploadUrl: `${ctx.base}/__upload/${id}`, expirationDateTime: new Date(session.expires).toISOString(), nextExpectedRanges: ['0-'] });
}

function status(s: Session): Record<string, unknown> {
  return { expirationDateTime: new Date(s.expires).toISOString(), nextExpectedRanges: [s.size === undefined ? `${s.received}-` : `${s.received}-${s.size - 1}`] };
}

async function dropSession(emu: Emu, s: Session): Promise<void> {
  emu.sessions.delete(s.id);
  await s.fd.close().catch(() => {});
  await rm(s.file, { force: true });
}

/** The upload URL: no Authorization needed (the URL is the credential). */
export async function handleUploadUrl(emu: Emu, ctx: Ctx, id: string): Promise<void> {
  const { req } = ctx;
  const s = emu.sessions.get(id);
  if (!s || s.created < emu.faults.sessionsExpiredBefore || Date.now() > s.expires) {
    if (s) await dropSession(emu, s);
    return graphError(ctx, 404, 'itemNotFound', 'The upload session was not found or has expired');
  }
  // Graph "might" answer 401 to a token sent here (rclone 1.60.1 sends one); counted, so a test can
  // show that knarr never sends its token to the URL.
  if (req.headers.authorization) emu.stats.uploadUrlWithAuth++;
  if (req.method === 'GET') {
    req.resume();
    return sendJson(ctx, 200, status(s));
  }
  if (req.method === 'DELETE') {
    req.resume();
    await dropSession(emu, s);
    ctx.res.writeHead(204).end();
    return;
  }
  if (req.method !== 'PUT') return graphError(ctx, 405, 'invalidRequest', 'Method not allowed');
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(req.headers['content-range'] ?? ''));
  const length = Number(req.headers['content-length'] ?? NaN);
  if (!m) return graphError(ctx, 400, 'invalidRequest', 'Content-Range bytes a-b/total is required');
  const [from, to, total] = [Number(m[1]), Number(m[2]), m[3] === '*' ? undefined : Number(m[3])];
  const size = to - from + 1;
  if (total === undefined || size <= 0 || length !== size || to >= total) return graphError(ctx, 400, 'invalidRequest', 'Content-Range and Content-Length disagree');
  if (s.size !== undefined && total !== s.size) return graphError(ctx, 400, 'invalidRequest', 'The total size changed during the session');
  if (size > FRAGMENT_MAX) return graphError(ctx, 413, 'requestTooLarge', 'A fragment must be smaller than 60 MiB');
  if (to !== total - 1 && size % FRAGMENT_MULTIPLE !== 0) return graphError(ctx, 400, 'invalidRequest', 'Fragments must be multiples of 320 KiB (327,680 bytes), except the last');
  if (from < s.received) return graphError(ctx, 416, 'invalidRange', 'The fragment overlaps bytes already received', {}, 'fragmentOverlap');
  if (from > s.received || s.busy) return graphError(ctx, 416, 'invalidRange', `Expected the fragment at ${s.received}`, {}, 'fragmentOutOfOrder');
  if (from === 0 && emu.quotaFull(emu.store.drives.get(s.driveId)!)) return graphError(ctx, 507, 'quotaLimitReached', 'Insufficient Space Available');
  s.busy = true;
  const parts: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of uploadBody(emu, ctx)) {
      parts.push(chunk);
      got += chunk.length;
    }
  } catch {
    // The connection was cut: a fragment is all or nothing, so nothing of it is kept.
    s.busy = false;
    return;
  }
  s.busy = false;
  if (got !== size) return graphError(ctx, 400, 'invalidRequest', 'The body is shorter than Content-Length');
  const data = Buffer.concat(parts);
  await s.fd.write(data, 0, data.length, from);
  s.quickXor.update(data);
  s.sha1.update(data);
  s.size = total;
  s.received = to + 1;
  s.expires = Date.now() + SESSION_TTL_MS;
  emu.stats.fragments++;
  if (s.received < total) return sendJson(ctx, 202, status(s));
  const d = emu.store.drives.get(s.driveId)!;
  const parent = d.items.get(s.parentId);
  emu.sessions.delete(s.id);
  await s.fd.close();
  if (!parent) {
    await rm(s.file, { force: true });
    return graphError(ctx, 404, 'itemNotFound', 'The parent folder was deleted during the upload');
  }
  const existing = emu.store.child(d, parent, s.name);
  if (existing && s.conflict === 'fail') {
    await rm(s.file, { force: true });
    return graphError(ctx, 409, 'nameAlreadyExists', 'An item with the same name already exists under the parent');
  }
  const blob = await emu.store.moveBlobIn(s.file);
  const item = emu.store.commitFile(d, parent, s.name, blob, { size: total, quickXor: s.quickXor.digestBase64(), sha1: s.sha1.digest('hex').toUpperCase(), fsModified: s.fsModified, fsCreated: s.fsCreated });
  sendJson(ctx, existing ? 200 : 201, itemJson(emu, ctx, d, item));
}

/** The pre-authenticated download URL: the signature is the credential; Range as RFC 9110. */
export async function handleDownload(emu: Emu, ctx: Ctx, driveId: string, itemId: string): Promise<void> {
  const { req, res } = ctx;
  req.resume();
  const d = emu.store.drives.get(driveId);
  const item = d?.items.get(itemId);
  if (!d || !item || item.isDir || ctx.url.searchParams.get('tempauth') !== emu.signer.sign(d.id, item)) {
    return graphError(ctx, 401, 'unauthenticated', 'The download URL is not valid (expired, or the file changed)');
  }
  if (req.headers.authorization) emu.stats.downloadUrlWithAuth++;
  const blob = emu.store.blobPath(item.blob!);
  const size = (await stat(blob)).size;
  let start = 0;
  let end = size - 1;
  let status = 200;
  const range = /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range ?? ''));
  if (range && (range[1] !== '' || range[2] !== '')) {
    if (range[1] === '') {
      start = Math.max(0, size - Number(range[2]));
    } else {
      start = Number(range[1]);
      if (range[2] !== '') end = Math.min(end, Number(range[2]));
    }
    if (start >= size || start > end) {
      res.writeHead(416, { 'content-range': `bytes */${size}`, 'content-length': '0' });
      return void res.end();
    }
    status = 206;
  }
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(end - start + 1), 'accept-ranges': 'bytes' };
  if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
  res.writeHead(status, headers);
  emu.stats.downloads++;
  if (size === 0 || end < start) return void res.end();
  const t0 = Date.now();
  let sent = 0;
  for await (const chunk of createReadStream(blob, { start, end, highWaterMark: emu.faults.downloadBytesPerSec > 0 ? 16 * 1024 : 256 * 1024 })) {
    if (res.destroyed) return;
    sent += (chunk as Buffer).length;
    emu.stats.downloadBytes += (chunk as Buffer).length;
    if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
    await pace(emu.faults.downloadBytesPerSec, sent, t0);
  }
  res.end();
}
