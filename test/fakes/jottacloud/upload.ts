/**
 * Uploads: `POST /files/v1/allocate` and the `upload_url` it hands out (shared/specs/
 * jottacloud-api.md §7.1, §7.2, §12.3 items 5 and 7). Bytes go to a temp file on disk as they
 * arrive, so a cut connection keeps what was received and the next allocate reports it as
 * `resume_pos`; the MD5 is checked when the last byte lands.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { apiError, apiUser, type Ctx, readBody, sendJson } from './http.js';
import { type Account, type FileNode, type FolderNode, key, MAX_NAME_LENGTH } from './store.js';
import { parseAllocateTime, truncateToSecond } from './time.js';
import type { AllocateRequestJson, AllocateResponseJson, UploadResponseJson } from './wire.js';

/** One resumable upload: path + md5 + size (§12.3 item 5: "keyed by path+md5+size"). */
export interface Upload {
  key: string;
  account: Account;
  mp: FolderNode;
  segs: string[];
  /** The allocate path form: `/jfs/<device>/<mountpoint>/<path>`. */
  allocatePath: string;
  md5: string;
  size: number;
  created: Date;
  modified: Date;
  tmpPath: string;
  received: number;
  /** Running MD5 of bytes [0, hashedUpTo). */
  hash?: Hash;
  hashedUpTo: number;
  /** Resolves when the request currently writing this upload has finished with it. */
  busy?: Promise<void>;
  done?: UploadResponseJson;
}

export class Uploads {
  /** upload key → upload */
  readonly byKey = new Map<string, Upload>();
  /** upload_id → upload key (every allocate hands out a fresh id, §12.3 item 5). */
  readonly byId = new Map<string, string>();
  /** upload key → the success body, for a POST repeated after completion. */
  readonly completed = new Map<string, UploadResponseJson>();
  constructor(private readonly dir: string) {}

  tmpPathFor(): string {
    return join(this.dir, randomBytes(12).toString('hex'));
  }

  async discard(u: Upload): Promise<void> {
    this.byKey.delete(u.key);
    for (const [id, k] of this.byId) if (k === u.key) this.byId.delete(id);
    await rm(u.tmpPath, { force: true });
  }
}

/** Parses the allocate `path` (§3, §12.3 item 5): `/jfs/<device>/<mp>/<p>`, or `<mp>/<p>` / `/<mp>/<p>` (device Jotta). */
function parseAllocatePath(p: string): { device: string; segs: string[] } | undefined {
  const parts = p.split('/').filter((s) => s !== '');
  if (parts.length >= 4 && parts[0].toLowerCase() === 'jfs') return { device: parts[1], segs: parts.slice(2) };
  if (parts.length >= 2) return { device: 'Jotta', segs: parts };
  return undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitIdle(u: Upload): Promise<void> {
  // A cut connection may still be flushing its last bytes; give it a moment (bounded).
  if (u.busy) await Promise.race([u.busy, sleep(5000)]);
}

export async function handleAllocate(ctx: Ctx, uploads: Uploads): Promise<void> {
  const username = apiUser(ctx);
  if (!username) return void ctx.req.resume();
  const store = ctx.emu.store;
  const acc = store.account(username) as Account;
  let body: AllocateRequestJson;
  try {
    body = JSON.parse((await readBody(ctx.req)).toString('utf8')) as AllocateRequestJson;
  } catch {
    return apiError(ctx, 400, 'InvalidArgumentException', 'Could not parse request body');
  }
  const { bytes, md5 } = body ?? {};
  if (!Number.isSafeInteger(bytes) || bytes < 0) return apiError(ctx, 400, 'InvalidArgumentException', 'bytes must be a non-negative integer');
  // §7.1: the md5 is required ("Upload without md5 no longer supported", #2462).
  if (typeof md5 !== 'string' || !/^[0-9a-f]{32}$/i.test(md5)) return apiError(ctx, 400, 'InvalidArgumentException', 'md5 is required');
  const modified = parseAllocateTime(body.modified, ctx.now);
  const created = body.created === undefined ? modified : parseAllocateTime(body.created, ctx.now);
  if (!modified || !created) return apiError(ctx, 400, 'InvalidArgumentException', 'Could not parse created/modified');
  const parsed = typeof body.path === 'string' ? parseAllocatePath(body.path) : undefined;
  if (!parsed) return apiError(ctx, 400, 'InvalidArgumentException', `Invalid path: ${String(body.path)}`);
  const dev = acc.devices.get(key(parsed.device));
  const mp = dev?.mountpoints.get(key(parsed.segs[0]));
  if (!dev || !mp) return apiError(ctx, 404, 'NoSuchPathException', `Path ${body.path} does not exist`);
  if (store.isReadOnlyMountPoint(mp)) return apiError(ctx, 400, 'InvalidArgumentException', `Cannot upload to ${mp.name}`);
  const segs = parsed.segs.slice(1);
  if (segs.some((s) => s.length > MAX_NAME_LENGTH)) {
    return apiError(ctx, 400, 'InvalidArgumentException', `JFS file names may not be longer than ${MAX_NAME_LENGTH} characters`);
  }
  const lmd5 = md5.toLowerCase();
  const times = { created: truncateToSecond(created), modified: truncateToSecond(modified) };
  const existing = store.lookup(mp, segs);
  if (existing && existing.kind === 'folder') return apiError(ctx, 400, 'InvalidArgumentException', 'A folder exists at that path');
  const cur = existing ? store.current(existing as FileNode) : undefined;
  if (body.conflict_handler === 'REJECT_CONFLICTS' && existing && cur && !existing.deleted) {
    // [A]: UniqueFileException; its status is not documented, 409 is the emulator's choice.
    return apiError(ctx, 409, 'UniqueFileException', `File ${body.path} already exists`);
  }
  const allocatePath = ['', 'jfs', dev.name, mp.name, ...segs].join('/');
  const reply = (state: AllocateResponseJson['state'], uploadId: string, uploadUrl: string, resumePos: number): void => {
    const r: AllocateResponseJson = { name: segs[segs.length - 1], path: allocatePath, state, upload_id: uploadId, upload_url: uploadUrl, bytes, resume_pos: resumePos };
    sendJson(ctx, 200, r);
  };

  // 1. Same content already at this path: only the timestamps change (§7.1, PR #5634).
  if (existing && cur && cur.md5 === lmd5 && cur.size === bytes) {
    cur.created = times.created;
    cur.modified = times.modified;
    existing.deleted = undefined;
    store.restoreAncestors(existing);
    return reply('COMPLETED', '', '', bytes);
  }
  // Quota (§9.2: 460 is the reported out-of-quota answer for uploads; unconfirmed).
  if (ctx.emu.faults.isQuotaFull(acc.username) || (acc.capacity > 0 && store.usage(acc) + bytes > acc.capacity)) {
    ctx.emu.faults.stats.quotaRefusals++;
    return apiError(ctx, 460, 'QuotaExceededException', 'Storage quota exceeded');
  }
  // 2. The content exists elsewhere in the account: deduplicated, no upload (§7.1).
  const blob = store.findBlob(acc, lmd5, bytes);
  if (blob) {
    const file = (existing as FileNode | undefined) ?? store.ensureFile(mp, segs, ctx.now);
    if (!file) return apiError(ctx, 400, 'InvalidArgumentException', 'A file exists where a folder is needed');
    store.addRevision(file, blob, times, ctx.now);
    file.deleted = undefined;
    store.restoreAncestors(file);
    return reply('COMPLETED', '', '', bytes);
  }
  // 3. Upload needed: create or resume the pending INCOMPLETE revision.
  const file = (existing as FileNode | undefined) ?? store.ensureFile(mp, segs, ctx.now);
  if (!file) return apiError(ctx, 400, 'InvalidArgumentException', 'A file exists where a folder is needed');
  const ukey = `${key(acc.username)}:${key(allocatePath)}:${lmd5}:${bytes}`;
  for (const other of [...uploads.byKey.values()]) {
    // One pending upload per path: a different md5/size replaces the previous one.
    if (other.key !== ukey && other.account === acc && key(other.allocatePath) === key(allocatePath)) await uploads.discard(other);
  }
  let u = uploads.byKey.get(ukey);
  if (!u) {
    // A fresh allocation starts a fresh upload: an earlier completed one of the same content must
    // not answer for it (its revision may since have been replaced or found corrupt).
    uploads.completed.delete(ukey);
    u = { key: ukey, account: acc, mp, segs, allocatePath, md5: lmd5, size: bytes, ...times, tmpPath: uploads.tmpPathFor(), received: 0, hash: createHash('md5'), hashedUpTo: 0 };
    uploads.byKey.set(ukey, u);
    await (await open(u.tmpPath, 'w')).close();
  } else {
    await waitIdle(u);
    u.created = times.created;
    u.modified = times.modified;
  }
  store.setPending(file, { state: 'INCOMPLETE', created: u.created, modified: u.modified, updated: ctx.now, size: bytes, md5: lmd5, received: u.received });
  const uploadId = randomBytes(24).toString('base64url');
  uploads.byId.set(uploadId, ukey);
  reply('INCOMPLETE', uploadId, `${ctx.base}/files/v1/upload/${uploadId}`, u.received);
}

/** Rebuilds the running MD5 of the first `upTo` bytes from disk (after a rewind). */
async function rehash(u: Upload, upTo: number): Promise<void> {
  const h = createHash('md5');
  if (upTo > 0) for await (const c of createReadStream(u.tmpPath, { start: 0, end: upTo - 1 })) h.update(c as Buffer);
  u.hash = h;
  u.hashedUpTo = upTo;
}

/** `POST <upload_url>` (§7.2). */
export async function handleUpload(ctx: Ctx, uploads: Uploads, uploadId: string): Promise<void> {
  const username = apiUser(ctx);
  if (!username) return void ctx.req.resume();
  const ukey = uploads.byId.get(uploadId);
  const u = ukey ? uploads.byKey.get(ukey) : undefined;
  const done = ukey ? uploads.completed.get(ukey) : undefined;
  if (!u && done) {
    // Emulator choice: a repeated POST after completion answers the same result, no new revision.
    ctx.req.resume();
    return sendJson(ctx, 200, done);
  }
  if (!u) {
    ctx.req.resume();
    return apiError(ctx, 404, 'NoSuchUploadException', 'Upload not found or expired; allocate again');
  }
  if (key(u.account.username) !== key(username)) {
    ctx.req.resume();
    return apiError(ctx, 401, 'AuthenticationCredentialsNotFoundException', 'Token mismatch!');
  }
  await waitIdle(u);
  const finished = uploads.completed.get(u.key);
  if (finished) {
    // Another request completed it meanwhile.
    ctx.req.resume();
    return sendJson(ctx, 200, finished);
  }
  if (u.busy) {
    // Emulator choice: one writer per upload; a second concurrent POST is refused, not interleaved.
    ctx.req.resume();
    return apiError(ctx, 409, 'ConflictException', 'Another request is uploading to this upload_url');
  }
  let release!: () => void;
  u.busy = new Promise<void>((r) => (release = r));
  const track = u.busy;
  ctx.emu.inflight.add(track);
  try {
    await receive(ctx, uploads, u);
  } finally {
    release();
    ctx.emu.inflight.delete(track);
    if (u.busy === track) u.busy = undefined;
  }
}

async function receive(ctx: Ctx, uploads: Uploads, u: Upload): Promise<void> {
  const rangeHeader = ctx.req.headers.range;
  ctx.entry.range = rangeHeader;
  let start = u.received; // §12.3 item 7: no Range means "from resume_pos"
  if (rangeHeader) {
    const m = /^\s*bytes\s*=\s*(\d+)\s*-\s*(\d*)\s*$/i.exec(rangeHeader);
    if (!m) {
      ctx.req.resume();
      return apiError(ctx, 416, 'RequestedRangeNotSatisfiedException', `Invalid Range ${rangeHeader}`);
    }
    start = Number(m[1]);
  }
  if (start > u.received || start > u.size) {
    ctx.req.resume();
    return apiError(ctx, 416, 'RequestedRangeNotSatisfiedException', `Range starts at ${start} but only ${u.received} bytes are stored`);
  }
  if (start < u.received) {
    await truncate(u.tmpPath, start);
    u.received = start;
  }
  if (u.hashedUpTo !== start || !u.hash) await rehash(u, start);
  const faults = ctx.emu.faults;
  const cutAfter = faults.takeCut('upload');
  const fh = await open(u.tmpPath, 'r+');
  // Kept now: leaving the loop early destroys the request and may detach its socket.
  const socket = ctx.req.socket;
  let pos = start;
  let inThisRequest = 0;
  let overflow = false;
  let cut = false;
  try {
    for await (const chunk0 of ctx.req as AsyncIterable<Buffer>) {
      let chunk = chunk0;
      if (pos + chunk.length > u.size) {
        overflow = true;
        break;
      }
      if (cutAfter !== undefined && inThisRequest + chunk.length >= cutAfter) {
        chunk = chunk.subarray(0, Math.max(0, cutAfter - inThisRequest));
        cut = true;
      }
      await faults.paceUpload(chunk.length);
      if (chunk.length) await fh.write(chunk, 0, chunk.length, pos);
      u.hash?.update(chunk);
      pos += chunk.length;
      inThisRequest += chunk.length;
      u.received = pos;
      u.hashedUpTo = pos;
      if (cut) break;
    }
  } catch {
    // The client went away mid-body: keep what arrived (§12.3 item 7).
  } finally {
    await fh.close();
    ctx.entry.bytes = inThisRequest;
    const file = ctx.emu.store.lookup(u.mp, u.segs);
    if (file && file.kind === 'file' && file.pending && file.pending.md5 === u.md5) file.pending.received = u.received;
  }
  if (cut) {
    // The fault: a connection lost mid-upload. Bytes before the cut are stored.
    ctx.entry.cut = true;
    ctx.entry.status = 0;
    socket.destroy();
    ctx.res.destroy();
    return;
  }
  if (overflow) {
    ctx.req.resume();
    return apiError(ctx, 400, 'InvalidArgumentException', `More than the allocated ${u.size} bytes`);
  }
  if (ctx.req.destroyed && !ctx.req.complete) return; // client aborted; nobody to answer
  if (u.received < u.size) {
    // §7.2: a partial chunk is stored and answered with 420.
    return apiError(ctx, 420, 'IncompleteUploadOpenApiException', `Received ${u.received} of ${u.size} bytes`);
  }
  await complete(ctx, uploads, u);
}

async function complete(ctx: Ctx, uploads: Uploads, u: Upload): Promise<void> {
  const store = ctx.emu.store;
  const actual = (u.hash as Hash).digest('hex');
  u.hash = undefined;
  const node = store.lookup(u.mp, u.segs);
  const file = node && node.kind === 'file' ? node : store.ensureFile(u.mp, u.segs, ctx.now);
  if (actual !== u.md5) {
    // §7.2: the revision ends CORRUPT (latestRevision keeps the claimed md5); currentRevision stays.
    await uploads.discard(u);
    if (file) {
      store.setPending(file, { state: 'CORRUPT', created: u.created, modified: u.modified, updated: ctx.now, size: u.size, md5: u.md5, received: 0 });
    }
    return apiError(ctx, 421, 'CorruptUploadOpenApiException', 'checksum mismatch');
  }
  if (!file) {
    await uploads.discard(u);
    return apiError(ctx, 400, 'InvalidArgumentException', 'A folder exists at that path');
  }
  const corrupt = ctx.emu.faults.takeCorruption();
  if (corrupt === 'bytes' && u.size > 0) {
    // Fault: the server keeps different bytes than it received (one byte flipped), still reporting the declared md5.
    const fh = await open(u.tmpPath, 'r+');
    const b = Buffer.alloc(1);
    const at = Math.floor(u.size / 2);
    await fh.read(b, 0, 1, at);
    b[0] ^= 0xff;
    await fh.write(b, 0, 1, at);
    await fh.close();
  }
  const existingBlob = store.findBlob(u.account, u.md5, u.size);
  let blob = existingBlob;
  if (!blob || corrupt) {
    const id = store.newBlobId();
    await rename(u.tmpPath, store.blobPath(id));
    // A corrupted blob is registered apart, so it never serves as a dedup source for good content.
    blob = corrupt ? { id, md5: u.md5, size: u.size, refs: 0 } : store.registerBlob(u.account, id, u.md5, u.size);
    if (corrupt) u.account.blobs.set(id, blob);
  } else {
    await rm(u.tmpPath, { force: true });
  }
  const rev = store.addRevision(file, blob, { created: u.created, modified: u.modified }, ctx.now);
  if (corrupt === 'md5') {
    // Fault: correct bytes, wrong md5 reported (last hex digit changed).
    rev.md5 = rev.md5.slice(0, -1) + (rev.md5.endsWith('0') ? '1' : '0');
  }
  file.deleted = undefined;
  store.restoreAncestors(file);
  u.done = { path: u.allocatePath, content_id: blob.id, bytes: u.size, md5: rev.md5, modified: u.modified.getTime() };
  uploads.byKey.delete(u.key);
  uploads.completed.set(u.key, u.done);
  sendJson(ctx, 200, u.done);
}
