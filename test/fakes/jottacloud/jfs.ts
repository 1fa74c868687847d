/**
 * The JFS host (`https://jfs.jottacloud.com/jfs/…`): account/device/mountpoint/folder/file XML,
 * `mode=bin` downloads with Range, `mode=liststream`, and the command POSTs (mkDir, dl, rm, dlDir,
 * rmDir, mv, cp, mvDir, cphash). shared/specs/jottacloud-api.md §3–§6, §9, §10, §12.3 items 8–14.
 */
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EX, type Ctx, drain, jfsError, jfsUser, parseRange, sendBare, sendXml } from './http.js';
import {
  BUILTIN_DEVICE,
  type Account,
  type Device,
  type FileNode,
  type FolderNode,
  key,
  MAX_NAME_LENGTH,
  mstyleOf,
  type Node,
  type Revision,
  type PendingRevision,
} from './store.js';
import { parseJottaTime, truncateToSecond } from './time.js';
import type { DeviceXml, FileXml, FolderChildXml, ListStreamItem, RevisionXml } from './wire.js';
import { deviceDoc, fileDoc, folderDoc, listStreamEntry, listStreamHead, listStreamTail, mountPointDoc, userDoc } from './xml.js';

// ---- path parsing (§3) ----

type Parsed =
  | { ok: true; segs: string[] }
  | { ok: false; status: number; exception: string; text: string }
  /** Refused before JFS sees it: a bare status line, no `<error>` document. */
  | { ok: false; status: 400; bare: true };

/** §3 item 4 (#9153): a name holding a literal percent escape once decoded, e.g. `Pinus%20palustris.jpg`. */
const LITERAL_ESCAPE = /%[0-9A-Fa-f]{2}/;

/**
 * Splits and percent-decodes a raw request path below `/jfs/`. Faithful quirks (§3):
 * a raw `+` is refused ("Unable to validate decoded path", #2734); a raw `;` starts a servlet path
 * parameter, so the rest of that segment is dropped (#2750: such names end in 404); a name that
 * still holds a `%XX` sequence after decoding is refused with a bare `400 Bad request` (#9153:
 * rclone reported "error 400: 400 Bad request", its message for an answer without an `<error>`
 * body), on every JFS request for that path. The allocate API takes the path inside JSON and
 * stores such names, as the real service evidently did; they are then listed but unreachable.
 */
export function parseRawJfsPath(rawPath: string): Parsed {
  const segs: string[] = [];
  for (const raw of rawPath.split('/')) {
    if (raw === '') continue; // also accepts mvDir's trailing slash (§3)
    const noParams = raw.split(';')[0];
    if (noParams.includes('+')) {
      return { ok: false, status: 400, exception: EX.illegalArgument, text: `Unable to validate decoded path: ${safeDecode(rawPath)}` };
    }
    let dec: string;
    try {
      dec = decodeURIComponent(noParams);
    } catch {
      return { ok: false, status: 400, exception: EX.illegalArgument, text: `Unable to validate decoded path: ${rawPath}` };
    }
    if (LITERAL_ESCAPE.test(dec)) return { ok: false, status: 400, bare: true };
    if (dec !== '') segs.push(dec);
  }
  return { ok: true, segs };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `mv`/`cp`/`mvDir` targets: raw absolute `/<user>/<device>/<mp>/<path>`, already form-decoded (§3). */
function parseAbsTarget(v: string): string[] {
  return v.split('/').filter((s) => s !== '');
}

// ---- XML shapes from the store ----

function revisionXml(r: Revision, md5Override?: string): RevisionXml {
  return {
    number: r.number,
    state: 'COMPLETED',
    created: r.created,
    modified: r.modified,
    mime: r.mime,
    mstyle: mstyleOf(r.mime),
    size: r.size,
    md5: md5Override ?? r.md5,
    updated: r.updated,
  };
}

/** §4.2: INCOMPLETE shows `<size>` (bytes received) only on a stat of the file; CORRUPT never. */
function pendingXml(p: PendingRevision, stat: boolean): RevisionXml {
  return {
    number: p.number,
    state: p.state,
    created: p.created,
    modified: p.modified,
    mime: p.mime,
    mstyle: mstyleOf(p.mime),
    size: p.state === 'INCOMPLETE' && stat ? p.received : undefined,
    md5: p.md5,
    updated: p.updated,
  };
}

export function fileXml(ctx: Ctx, f: FileNode, opts: { stat: boolean; trash?: boolean }): FileXml {
  const store = ctx.emu.store;
  const cur = store.current(f);
  return {
    name: f.name,
    uuid: f.uuid,
    deleted: f.deleted,
    parentPath: store.jfsPath(f.parent),
    currentRevision: cur ? revisionXml(cur) : undefined,
    latestRevision: f.pending ? pendingXml(f.pending, opts.stat) : undefined,
    revisions: opts.stat ? f.revisions.slice(0, -1).reverse().map((r) => revisionXml(r)) : undefined,
    contextType: opts.trash ? 'TRASH' : undefined,
  };
}

function folderChildXml(ctx: Ctx, d: FolderNode, trash = false): FolderChildXml {
  return { name: d.name, deleted: d.deleted, parentPath: ctx.emu.store.parentJfsPath(d), contextType: trash ? 'TRASH' : undefined };
}

function sortByName<T extends { name: string }>(xs: Iterable<T>): T[] {
  return [...xs].sort((a, b) => (key(a.name) < key(b.name) ? -1 : key(a.name) > key(b.name) ? 1 : 0));
}

/** A folder or mountpoint listing (§4.2); trashed children are included, marked `deleted` (§12.3 item 10). */
function sendFolder(ctx: Ctx, folder: FolderNode, withMetadata = true): void {
  const store = ctx.emu.store;
  const folders = sortByName(folder.folders.values()).map((d) => folderChildXml(ctx, d));
  const files = withMetadata ? sortByName(folder.files.values()).map((f) => fileXml(ctx, f, { stat: false })) : [];
  const shownFolders = withMetadata ? folders : [];
  if (withMetadata && ctx.emu.faults.folderTooLarge(folders.length + files.length)) {
    // #5639: huge folders fail server side.
    jfsError(ctx, 500, EX.transientData, 'PreparedStatementCallback; SQL []; Packet for query is too large');
    return;
  }
  if (folder.device) {
    sendXml(
      ctx,
      200,
      mountPointDoc(
        {
          kind: 'mountPoint',
          name: folder.name,
          parentPath: store.parentJfsPath(folder),
          size: store.folderSize(folder, true),
          modified: folder.modified,
          device: folder.device.name,
          user: folder.device.account.username,
          folders: shownFolders,
          files,
        },
        ctx.emu.nodeName,
        ctx.now,
      ),
    );
    return;
  }
  sendXml(
    ctx,
    200,
    folderDoc(
      { kind: 'folder', name: folder.name, deleted: folder.deleted, parentPath: store.parentJfsPath(folder), folders: shownFolders, files, withMetadata },
      ctx.emu.nodeName,
      ctx.now,
    ),
  );
}

function sendFile(ctx: Ctx, f: FileNode, status = 200): void {
  sendXml(ctx, status, fileDoc(fileXml(ctx, f, { stat: true }), ctx.emu.nodeName, ctx.now));
}

function deviceXml(ctx: Ctx, dev: Device): DeviceXml {
  const store = ctx.emu.store;
  return {
    name: dev.name,
    displayName: dev.name,
    type: dev.type,
    sid: dev.sid,
    size: store.deviceSize(dev),
    modified: dev.created,
    user: dev.account.username,
    mountPoints: store.listedMountPoints(dev).map((m) => ({ name: m.name, size: store.folderSize(m, true), modified: m.modified, deleted: m.deleted })),
  };
}

// ---- the handler ----

interface Target {
  acc: Account;
  segs: string[]; // below the user: [device, mountpoint, ...path]
}

export async function handleJfs(ctx: Ctx): Promise<void> {
  const rawPath = (ctx.req.url ?? '/').split('?')[0];
  const parsed = parseRawJfsPath(rawPath.replace(/^\/jfs(\/|$)/i, '/'));
  drain(ctx.req);
  if (!parsed.ok) return 'bare' in parsed ? sendBare(ctx, parsed.status) : jfsError(ctx, parsed.status, parsed.exception, parsed.text);
  const tokenUser = jfsUser(ctx);
  if (!tokenUser) return;
  if (parsed.segs.length === 0) {
    return jfsError(ctx, 400, 'org.springframework.security.core.userdetails.UsernameNotFoundException', 'Username not found in url!');
  }
  const [user, ...segs] = parsed.segs;
  // §2.8 / #3434: a user name in the URL that is not the token's gives "Token mismatch!".
  if (key(user) !== key(tokenUser)) return jfsError(ctx, 401, EX.tokenMismatch, 'Token mismatch!');
  const acc = ctx.emu.store.account(tokenUser) as Account;
  const t: Target = { acc, segs };
  const q = ctx.url.searchParams;
  if (ctx.req.method === 'GET' || ctx.req.method === 'HEAD') return handleGet(ctx, t, q);
  if (ctx.req.method === 'POST') return handlePost(ctx, t, q);
  jfsError(ctx, 405, 'org.springframework.web.HttpRequestMethodNotSupportedException', `Request method '${ctx.req.method}' not supported`);
}

function notFound(ctx: Ctx, acc: Account, segs: string[], file = true): void {
  const p = `/${[acc.username, ...segs].join('/')}`;
  if (file) jfsError(ctx, 404, EX.noSuchFile, `File ${p} does not exist`);
  else jfsError(ctx, 404, EX.noSuchPath, `Path ${p} does not exist`);
}

/** Resolves device and mountpoint, answering 404 itself when either is missing. */
function resolveMountPoint(ctx: Ctx, t: Target): { dev: Device; mp: FolderNode } | undefined {
  const dev = t.acc.devices.get(key(t.segs[0]));
  if (!dev) {
    jfsError(ctx, 404, EX.noSuchDevice, `Device /${t.acc.username}/${t.segs[0]} does not exist`);
    return undefined;
  }
  const mp = dev.mountpoints.get(key(t.segs[1]));
  if (!mp) {
    jfsError(ctx, 404, EX.noSuchMountPoint, `Mount point /${t.acc.username}/${dev.name}/${t.segs[1]} does not exist`);
    return undefined;
  }
  return { dev, mp };
}

async function handleGet(ctx: Ctx, t: Target, q: URLSearchParams): Promise<void> {
  const store = ctx.emu.store;
  if (t.segs.length === 0) {
    const acc = t.acc;
    const full = ctx.emu.faults.isQuotaFull(acc.username);
    const usage = store.usage(acc);
    return sendXml(
      ctx,
      200,
      userDoc(
        {
          username: acc.username,
          accountType: acc.accountType,
          locked: false,
          capacity: full ? usage : acc.capacity,
          maxDevices: -1,
          maxMobileDevices: -1,
          usage,
          readLocked: false,
          writeLocked: full,
          quotaWriteLocked: full,
          enableSync: true,
          enableFolderShare: true,
          devices: [...acc.devices.values()].map((d) => deviceXml(ctx, d)),
        },
        ctx.emu.nodeName,
        ctx.now,
      ),
    );
  }
  if (t.segs.length === 1) {
    const dev = t.acc.devices.get(key(t.segs[0]));
    if (!dev) return jfsError(ctx, 404, EX.noSuchDevice, `Device /${t.acc.username}/${t.segs[0]} does not exist`);
    return sendXml(ctx, 200, deviceDoc(deviceXml(ctx, dev), ctx.emu.nodeName, ctx.now));
  }
  const mode = q.get('mode');
  if (mode === 'liststream') {
    const closed = new Promise<void>((resolve) => ctx.res.once('close', () => resolve()));
    if (!(await ctx.emu.faults.waitIfListingsHeld(t.acc.username, closed))) return;
  }
  const r = resolveMountPoint(ctx, t);
  if (!r) return;
  const rest = t.segs.slice(2);
  // §5: `GET /jfs/<user>/Jotta/Trash` lists trashed items with contextType="TRASH" and their original parent.
  if (r.dev.type === 'JOTTA' && key(r.mp.name) === 'trash' && rest.length === 0 && !mode) return sendTrash(ctx, t.acc, r.mp);
  const node = store.lookup(r.mp, rest);
  if (!node) return notFound(ctx, t.acc, t.segs, rest.length > 0);
  if (mode === 'bin') return download(ctx, node);
  if (mode === 'liststream') return listStream(ctx, node);
  if (mode === 'enableShare' || mode === 'disableShare') {
    // §14 optional: share links are not modelled; the file comes back unshared.
    if (node.kind !== 'file') return notFound(ctx, t.acc, t.segs);
    return sendFile(ctx, node);
  }
  if (node.kind === 'file') return sendFile(ctx, node);
  sendFolder(ctx, node);
}

function sendTrash(ctx: Ctx, acc: Account, trashMp: FolderNode): void {
  const store = ctx.emu.store;
  const roots = store.trashRoots(acc);
  const folders = roots.filter((n): n is FolderNode => n.kind === 'folder').map((d) => folderChildXml(ctx, d, true));
  const files = roots.filter((n): n is FileNode => n.kind === 'file').map((f) => fileXml(ctx, f, { stat: false, trash: true }));
  sendXml(
    ctx,
    200,
    mountPointDoc(
      { kind: 'mountPoint', name: trashMp.name, parentPath: store.parentJfsPath(trashMp), size: 0, device: BUILTIN_DEVICE, user: acc.username, folders, files },
      ctx.emu.nodeName,
      ctx.now,
    ),
  );
}

/** §6: `mode=bin` returns the current completed revision, honouring one `Range` (206 + Content-Range, 416 on a bad one). */
async function download(ctx: Ctx, node: Node): Promise<void> {
  const store = ctx.emu.store;
  const cur = node.kind === 'file' ? store.current(node) : undefined;
  if (!cur) return jfsError(ctx, 404, EX.noSuchFile, `File ${store.jfsPath(node)} does not exist`);
  const size = cur.size;
  const range = parseRange(ctx.req.headers.range, size);
  ctx.entry.range = ctx.req.headers.range;
  if (range === 'invalid') {
    return jfsError(ctx, 416, EX.rangeNotSatisfied, `Requested range not satisfiable`, { 'Content-Range': `bytes */${size}` });
  }
  // A multi-range request is answered with the whole body (allowed by RFC 9110; rclone never sends one).
  const partial = typeof range === 'object';
  const start = partial ? range.start : 0;
  const end = partial ? range.end : size - 1;
  const length = Math.max(0, end - start + 1);
  const headers: Record<string, string | number> = {
    'Content-Type': cur.mime,
    'Content-Length': length,
    'Accept-Ranges': 'bytes',
    'Last-Modified': cur.modified.toUTCString(),
  };
  if (partial) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  ctx.entry.status = partial ? 206 : 200;
  ctx.res.writeHead(partial ? 206 : 200, headers);
  if (ctx.req.method === 'HEAD' || length === 0) {
    ctx.res.end();
    return;
  }
  const cutAfter = ctx.emu.faults.takeCut('download');
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (cutAfter !== undefined && sent + chunk.length >= cutAfter) {
        const keep = chunk.subarray(0, Math.max(0, cutAfter - sent));
        sent += keep.length;
        ctx.entry.bytes = sent;
        ctx.entry.cut = true;
        // Let the kept bytes reach the socket, then cut it (the fault: a connection lost mid-body).
        ctx.res.write(keep, () => ctx.res.socket?.destroy());
        cb(new Error('emulator: download cut'));
        return;
      }
      sent += chunk.length;
      ctx.entry.bytes = sent;
      cb(null, chunk);
    },
  });
  try {
    await pipeline(createReadStream(store.blobPath(cur.blobId), { start, end }), counter, ctx.res);
  } catch {
    ctx.res.socket?.destroy();
  }
}

/**
 * §4.4 `mode=liststream`: every `<folder>` (the listed one first) before its files, only completed
 * non-deleted files, paths `/<mountpoint>/…`, and an exact `<stats>` trailer.
 */
function listStream(ctx: Ctx, node: Node): void {
  const store = ctx.emu.store;
  if (node.kind === 'file') {
    // Not in the sources; the emulator answers like a listing of an empty folder.
    ctx.entry.status = 200;
    ctx.res.writeHead(200, { 'Content-Type': 'application/xml; charset=UTF-8' });
    ctx.res.end(listStreamHead + listStreamTail(0, 0));
    return;
  }
  if (node.deleted) return jfsError(ctx, 404, EX.noSuchPath, `Path ${store.jfsPath(node)} does not exist`);
  const mp = store.mountPointOf(node);
  const items: ListStreamItem[] = [];
  let folders = 0;
  let files = 0;
  const walk = (folder: FolderNode, path: string): void => {
    items.push({ kind: 'folder', path });
    folders++;
    for (const f of sortByName(folder.files.values())) {
      const cur = store.current(f);
      if (f.deleted || !cur) continue;
      items.push({ kind: 'file', parentPath: path, name: f.name, md5: cur.md5, size: cur.size, modified: cur.modified, created: cur.created });
      files++;
    }
    for (const d of sortByName(folder.folders.values())) if (!d.deleted) walk(d, `${path}/${d.name}`);
  };
  walk(node, ['', mp.name, ...store.segmentsOf(node)].join('/'));
  ctx.entry.status = 200;
  ctx.res.writeHead(200, { 'Content-Type': 'application/xml; charset=UTF-8' });
  ctx.res.write(listStreamHead);
  // Written in slices so a large tree streams rather than being one string.
  for (let i = 0; i < items.length; i += 500) ctx.res.write(items.slice(i, i + 500).map(listStreamEntry).join('\n'));
  ctx.res.end(listStreamTail(folders, files));
}

// ---- commands (§5) ----

function badName(segs: string[]): string | undefined {
  return segs.find((s) => s.length > MAX_NAME_LENGTH);
}

function nameTooLong(ctx: Ctx): void {
  jfsError(ctx, 400, EX.invalidArgument, `JFS file names may not be longer than ${MAX_NAME_LENGTH} characters`);
}

async function handlePost(ctx: Ctx, t: Target, q: URLSearchParams): Promise<void> {
  const store = ctx.emu.store;
  const ct = (ctx.req.headers['content-type'] ?? '').toLowerCase();
  if (ct.startsWith('application/octet-stream')) {
    // §5 [X #397]: an octet-stream POST is taken as a (legacy) upload, the command is ignored → 404.
    return notFound(ctx, t.acc, t.segs);
  }
  if (t.segs.length === 0) return jfsError(ctx, 400, EX.invalidArgument, 'Nothing to do');
  if (t.segs.length === 1) {
    // §3: `POST /jfs/<user>/<device>?type=WORKSTATION` creates a device; jafs: always 201.
    const type = q.get('type');
    if (!type) return jfsError(ctx, 400, EX.invalidArgument, 'Missing device type');
    if (badName(t.segs)) return nameTooLong(ctx);
    const dev = store.addDevice(t.acc, t.segs[0], type.toUpperCase(), ctx.now);
    return sendXml(ctx, 201, deviceDoc(deviceXml(ctx, dev), ctx.emu.nodeName, ctx.now));
  }
  const dev = t.acc.devices.get(key(t.segs[0]));
  if (!dev) return jfsError(ctx, 404, EX.noSuchDevice, `Device /${t.acc.username}/${t.segs[0]} does not exist`);
  const command = ['mkDir', 'dl', 'rm', 'dlDir', 'rmDir', 'mv', 'cp', 'mvDir', 'cphash'].find((c) => q.has(c));
  let mp = dev.mountpoints.get(key(t.segs[1]));
  if (!mp) {
    // §3: mountpoints are created by a bare POST, or by mkDir below a new one — not on the built-in device.
    if ((command === undefined || command === 'mkDir') && dev.type !== 'JOTTA') {
      if (badName(t.segs)) return nameTooLong(ctx);
      mp = store.addMountPoint(dev, t.segs[1], ctx.now);
      if (command === undefined) return sendFolder(ctx, mp);
    } else {
      return jfsError(ctx, 404, EX.noSuchMountPoint, `Mount point /${t.acc.username}/${dev.name}/${t.segs[1]} does not exist`);
    }
  }
  const rest = t.segs.slice(2);
  if (command === undefined) {
    if (rest.length === 0) return sendFolder(ctx, mp); // §3: 200 if the mountpoint exists
    return jfsError(ctx, 400, EX.invalidArgument, 'No command given');
  }
  const node = store.lookup(mp, rest);
  switch (command) {
    case 'mkDir':
      return mkDir(ctx, mp, rest);
    case 'dl':
      return dl(ctx, t, node);
    case 'rm':
      // §5, #2655/#6857: a permanent delete of a missing file is 404; aeroftp: rm on a folder is 404.
      if (!node || node.kind !== 'file') return notFound(ctx, t.acc, t.segs);
      store.purge(node);
      node.parent.modified = ctx.now;
      return sendXml(ctx, 200, fileDoc({ ...fileXml(ctx, node, { stat: false }), deleted: ctx.now }, ctx.emu.nodeName, ctx.now));
    case 'dlDir':
      if (!node || node.kind !== 'folder') return notFound(ctx, t.acc, t.segs, false);
      if (node.device) return jfsError(ctx, 400, EX.invalidArgument, 'Cannot delete a mount point');
      store.trash(node, ctx.now);
      return sendFolder(ctx, node, false);
    case 'rmDir':
      // aeroftp: also purges an already trashed folder at its original path.
      if (!node || node.kind !== 'folder') return notFound(ctx, t.acc, t.segs, false);
      if (node.device) return jfsError(ctx, 400, EX.invalidArgument, 'Cannot delete a mount point');
      store.purge(node);
      return sendXml(ctx, 200, folderDoc({ kind: 'folder', name: node.name, deleted: ctx.now, parentPath: store.parentJfsPath(node), folders: [], files: [], withMetadata: false }, ctx.emu.nodeName, ctx.now));
    case 'mv':
    case 'cp':
      return moveOrCopy(ctx, t, node, command, q.get(command) ?? '');
    case 'mvDir':
      return moveDir(ctx, t, node, q.get('mvDir') ?? '');
    case 'cphash':
      return cphash(ctx, mp, rest, node, t);
  }
}

function mkDir(ctx: Ctx, mp: FolderNode, rest: string[]): void {
  if (badName(rest)) return nameTooLong(ctx);
  if (ctx.emu.store.isReadOnlyMountPoint(mp) && rest.length > 0) return jfsError(ctx, 400, EX.invalidArgument, `Cannot create folders in ${mp.name}`);
  const folder = ctx.emu.store.mkdirs(mp, rest, ctx.now);
  if (!folder) return jfsError(ctx, 400, EX.invalidArgument, 'A file exists at that path');
  sendFolder(ctx, folder, false); // §5: 200 `<folder>` with no `<metadata>`
}

/** §5: `dl=true` tombstones the file; 200 even when it is missing (rclone comment, line 2119). */
function dl(ctx: Ctx, t: Target, node: Node | undefined): void {
  const store = ctx.emu.store;
  if (!node) {
    const name = t.segs[t.segs.length - 1];
    const parentPath = `/${[t.acc.username, ...t.segs.slice(0, -1)].join('/')}`;
    return sendXml(ctx, 200, fileDoc({ name, uuid: '', deleted: ctx.now, parentPath }, ctx.emu.nodeName, ctx.now));
  }
  if (node.kind === 'folder') {
    if (node.device) return jfsError(ctx, 400, EX.invalidArgument, 'Cannot delete a mount point');
    if (!node.deleted) store.trash(node, ctx.now);
    return sendFolder(ctx, node, false);
  }
  if (!node.deleted) node.deleted = ctx.now;
  sendFile(ctx, node);
}

/** Resolves an absolute `/<user>/<device>/<mp>/<path>` target of the same account. */
function resolveTarget(ctx: Ctx, t: Target, raw: string): { mp: FolderNode; segs: string[] } | undefined {
  const segs = parseAbsTarget(raw);
  if (segs.length < 4) {
    jfsError(ctx, 400, EX.invalidArgument, `Invalid target path: ${raw}`);
    return undefined;
  }
  if (key(segs[0]) !== key(t.acc.username)) {
    jfsError(ctx, 401, EX.tokenMismatch, 'Token mismatch!');
    return undefined;
  }
  const dev = t.acc.devices.get(key(segs[1]));
  const mp = dev?.mountpoints.get(key(segs[2]));
  if (!mp) {
    jfsError(ctx, 404, EX.noSuchMountPoint, `Mount point /${segs.slice(0, 3).join('/')} does not exist`);
    return undefined;
  }
  if (badName(segs.slice(3))) {
    nameTooLong(ctx);
    return undefined;
  }
  return { mp, segs: segs.slice(3) };
}

/**
 * §5 `mv=` / `cp=`: the reply is the destination `<file>`. Intermediate folders are created (jafs).
 * Onto an existing file the source's content becomes a new revision of the destination. Quirk
 * #6112: `cp` onto a *trashed* destination leaves the result in the trash.
 */
function moveOrCopy(ctx: Ctx, t: Target, node: Node | undefined, op: 'mv' | 'cp', raw: string): void {
  const store = ctx.emu.store;
  const cur = node && node.kind === 'file' && !node.deleted ? store.current(node) : undefined;
  if (!node || node.kind !== 'file' || !cur) {
    // §9.4 item 4: a retried move after success finds no source.
    return jfsError(ctx, 404, EX.noSuchFile, `Source file /${[t.acc.username, ...t.segs].join('/')} does not exist`);
  }
  const target = resolveTarget(ctx, t, raw);
  if (!target) return;
  const existing = store.lookup(target.mp, target.segs);
  if (existing && existing.kind === 'folder') return jfsError(ctx, 400, EX.invalidArgument, 'Target is a folder');
  if (op === 'mv' && existing === node) {
    // A rename that only changes case, or a move onto itself.
    const newName = target.segs[target.segs.length - 1];
    node.parent.files.delete(key(node.name));
    node.name = newName;
    node.parent.files.set(key(newName), node);
    return sendFile(ctx, node);
  }
  if (op === 'mv' && !existing) {
    const parent = store.mkdirs(target.mp, target.segs.slice(0, -1), ctx.now);
    if (!parent) return jfsError(ctx, 400, EX.invalidArgument, 'A file exists at the target path');
    node.parent.files.delete(key(node.name));
    node.parent.modified = ctx.now;
    node.name = target.segs[target.segs.length - 1];
    node.parent = parent;
    parent.files.set(key(node.name), node);
    parent.modified = ctx.now;
    return sendFile(ctx, node);
  }
  const dest = (existing as FileNode | undefined) ?? store.ensureFile(target.mp, target.segs, ctx.now);
  if (!dest) return jfsError(ctx, 400, EX.invalidArgument, 'A file exists at the target path');
  const blob = t.acc.blobs.get(cur.blobId);
  if (!blob) return jfsError(ctx, 500, 'java.lang.IllegalStateException', 'Content missing');
  const wasDeleted = dest.deleted;
  store.addRevision(dest, blob, { created: cur.created, modified: cur.modified }, ctx.now);
  if (op === 'cp') {
    dest.deleted = wasDeleted; // #6112
  } else {
    dest.deleted = undefined;
    store.restoreAncestors(dest);
    store.purge(node);
  }
  sendFile(ctx, dest);
}

/**
 * §5 `mvDir=`: the source comes unescaped with a trailing slash (handled by the path parser). A
 * trashed destination is purged first; a live one is refused (rclone checks that it is absent).
 */
function moveDir(ctx: Ctx, t: Target, node: Node | undefined, raw: string): void {
  const store = ctx.emu.store;
  if (!node || node.kind !== 'folder' || node.deleted) {
    return jfsError(ctx, 404, EX.noSuchPath, `Source folder /${[t.acc.username, ...t.segs].join('/')} does not exist`);
  }
  if (node.device) return jfsError(ctx, 400, EX.invalidArgument, 'Cannot move a mount point');
  const target = resolveTarget(ctx, t, raw);
  if (!target) return;
  const existing = store.lookup(target.mp, target.segs);
  if (existing && existing !== node) {
    if (!existing.deleted) return jfsError(ctx, 400, EX.invalidArgument, `Target ${raw} already exists`);
    store.purge(existing);
  }
  const parent = store.mkdirs(target.mp, target.segs.slice(0, -1), ctx.now);
  if (!parent) return jfsError(ctx, 400, EX.invalidArgument, 'A file exists at the target path');
  for (let p: FolderNode | undefined = parent; p; p = p.parent) {
    if (p === node) return jfsError(ctx, 400, EX.invalidArgument, 'Cannot move a folder into itself');
  }
  (node.parent as FolderNode).folders.delete(key(node.name));
  (node.parent as FolderNode).modified = ctx.now;
  node.name = target.segs[target.segs.length - 1];
  node.parent = parent;
  parent.folders.set(key(node.name), node);
  parent.modified = ctx.now;
  sendFolder(ctx, node, false);
}

/**
 * §5 `cphash=true` with `JSize`, `JMd5`, `JCreated`, `JModified`: make the file match without an
 * upload (same content → set timestamps; content elsewhere in the account → new revision by
 * dedup), restoring it from the trash; otherwise 404.
 */
function cphash(ctx: Ctx, mp: FolderNode, rest: string[], node: Node | undefined, t: Target): void {
  const store = ctx.emu.store;
  const h = ctx.req.headers;
  const md5 = String(h.jmd5 ?? '').toLowerCase();
  const size = Number(h.jsize);
  if (!/^[0-9a-f]{32}$/.test(md5)) return jfsError(ctx, 400, EX.invalidArgument, 'Upload without md5 no longer supported. Use header JMd5.');
  if (!Number.isInteger(size) || size < 0) return jfsError(ctx, 400, EX.invalidArgument, 'Missing or invalid JSize');
  // §8: malformed JCreated/JModified are silently replaced by "now".
  const modified = truncateToSecond(parseJottaTime(String(h.jmodified ?? '')) ?? ctx.now);
  const created = truncateToSecond(parseJottaTime(String(h.jcreated ?? '')) ?? modified);
  if (node && node.kind === 'folder') return notFound(ctx, t.acc, t.segs);
  if (badName(rest)) return nameTooLong(ctx);
  const cur = node ? store.current(node as FileNode) : undefined;
  if (node && cur && cur.md5 === md5 && cur.size === size) {
    cur.created = created;
    cur.modified = modified;
    node.deleted = undefined;
    store.restoreAncestors(node);
    return sendFile(ctx, node);
  }
  const blob = store.findBlob(t.acc, md5, size);
  if (!blob) return notFound(ctx, t.acc, t.segs);
  const file = (node as FileNode | undefined) ?? store.ensureFile(mp, rest, ctx.now);
  if (!file) return jfsError(ctx, 400, EX.invalidArgument, 'A folder exists at that path');
  store.addRevision(file, blob, { created, modified }, ctx.now);
  file.deleted = undefined;
  store.restoreAncestors(file);
  sendFile(ctx, file);
}
