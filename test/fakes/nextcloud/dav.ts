/**
 * `/remote.php/dav/files/<user>/…`: PROPFIND, PROPPATCH, GET/HEAD (ranges), PUT, MKCOL, DELETE,
 * MOVE, COPY, as Nextcloud (Sabre + apps/dav) answers them.
 */
import { copyFileSync, createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { type Ctx, decodeSegments, encodePath, fail, header, type HashName, parseChecksumHeader, readText, receiveBody, send } from './http.js';
import { ocId, propEntry } from './props.js';
import type { DirNode, FileNode, Node } from './store.js';
import { type Clark, multistatus, parseProppatch, parsePropfind, type ResponseEntry } from './xml.js';

export const filesBase = (user: string): string => `/remote.php/dav/files/${user}`;

export function hrefOf(ctx: Ctx, node: Node): string {
  const segs = ctx.emu.store.pathOf(node);
  const p = `${filesBase(ctx.emu.user)}/${segs.join('/')}`;
  return encodePath(node.kind === 'dir' && segs.length > 0 ? `${p}/` : p);
}

/** Names Nextcloud's filename validator refuses by default. */
function badName(name: string): string | undefined {
  if (name === '.' || name === '..') return `${name} is an invalid file name`;
  if (name === '.htaccess') return '".htaccess" is a forbidden file or folder name.';
  if (name.includes('\\') || [...name].some((c) => c.charCodeAt(0) < 0x20)) return `"${name}" contains at least one invalid character`;
  if (name.trim() !== name && name.trim() === '') return 'Empty filename is not allowed';
  return undefined;
}

/** X-OC-Mtime → whole seconds; undefined = absent; NaN = not an integer (refused with 400). */
export function mtimeHeader(ctx: Ctx): number | undefined {
  const v = header(ctx.req, 'x-oc-mtime');
  if (v === undefined) return undefined;
  return /^-?\d+(\.\d+)?$/.test(v.trim()) ? Math.floor(Number(v.trim())) : NaN;
}

/** Resolves the `Destination` header to decoded segments below the user's files root. */
export function destinationSegs(ctx: Ctx): string[] | { status: number; message: string } {
  const dest = header(ctx.req, 'destination');
  if (!dest) return { status: 400, message: 'The destination header was not supplied' };
  let pathname: string;
  try {
    pathname = new URL(dest, 'http://destination.invalid').pathname;
  } catch {
    return { status: 400, message: `Destination is not a URL: ${dest}` };
  }
  const base = `${filesBase(ctx.emu.user)}/`;
  const segs = decodeSegments(pathname);
  const baseSegs = decodeSegments(base) as string[];
  if (!segs || segs.length < baseSegs.length || baseSegs.some((s, i) => segs[i] !== s)) {
    return { status: 403, message: `Requested uri (${pathname}) is out of base uri (${base})` };
  }
  return segs.slice(baseSegs.length);
}

/** Quota check Nextcloud's QuotaPlugin does before a write: 507 when `incoming` bytes (replacing `replacing`) do not fit. */
export function quotaRefuses(ctx: Ctx, incoming: number, replacing: number, path: string): boolean {
  const quota = ctx.emu.faults.quota;
  if (quota === null) return false;
  const free = quota - ctx.emu.store.used() + replacing;
  if (incoming <= free) return false;
  fail(ctx, 507, `Insufficient space in ${path}, ${incoming} required, ${Math.max(0, free)} available`);
  return true;
}

/** Which digests to compute for an OC-Checksum header and an X-Hash request. */
export function wantedHashes(checksum: [HashName, string][] | undefined, xHash: string | undefined): Set<HashName> {
  const s = new Set<HashName>((checksum ?? []).map(([t]) => t));
  if (xHash === 'md5' || xHash === 'all') s.add('md5');
  if (xHash === 'sha1' || xHash === 'all') s.add('sha1');
  if (xHash === 'sha256' || xHash === 'all') s.add('sha256');
  return s;
}

/** The first declared checksum that differs from the bytes, if any. */
export function checksumMismatch(declared: [HashName, string][] | undefined, digests: Partial<Record<HashName, string>>): string | undefined {
  for (const [t, v] of declared ?? []) if (digests[t] !== undefined && digests[t] !== v) return t;
  return undefined;
}

/** The stored OC-Checksum, altered when the corrupt-report fault is armed (a server that lies about hashes). */
export function storedChecksum(ctx: Ctx, raw: string): string {
  const trimmed = raw.trim();
  if (!trimmed || !ctx.emu.faults.corruptNextChecksum) return trimmed;
  ctx.emu.faults.corruptNextChecksum = false;
  return trimmed.replace(/:([0-9a-fA-F])/g, (_, c: string) => `:${((parseInt(c, 16) + 1) % 16).toString(16)}`);
}

export function writeHeaders(node: FileNode, mtimeAccepted: boolean): Record<string, string> {
  const h: Record<string, string> = { ETag: `"${node.etag}"`, 'OC-ETag': `"${node.etag}"`, 'OC-FileId': ocId(node.fileId) };
  if (mtimeAccepted) h['X-OC-MTime'] = 'accepted';
  return h;
}

export async function handleFiles(ctx: Ctx, segs: string[]): Promise<void> {
  const m = ctx.req.method ?? '';
  switch (m) {
    case 'PROPFIND':
      return propfind(ctx, segs);
    case 'PROPPATCH':
      return proppatch(ctx, segs);
    case 'GET':
    case 'HEAD':
      return get(ctx, segs);
    case 'PUT':
      return put(ctx, segs);
    case 'MKCOL':
      return mkcol(ctx, segs);
    case 'DELETE':
      return del(ctx, segs);
    case 'MOVE':
    case 'COPY':
      return moveCopy(ctx, segs, m);
    case 'OPTIONS':
      return send(ctx, 200, {
        DAV: '1, 3, extended-mkcol, access-control, calendarserver-principal-property-search, nextcloud-checksum-update, nc-calendar-search, nc-enable-birthday-calendar',
        Allow: 'OPTIONS, GET, HEAD, DELETE, PROPFIND, PUT, PROPPATCH, COPY, MOVE, REPORT, MKCOL',
        'MS-Author-Via': 'DAV',
      });
    default:
      return fail(ctx, 501, `There was no plugin in the system that was willing to handle this ${m} method.`);
  }
}

async function propfind(ctx: Ctx, segs: string[]): Promise<void> {
  const depth = (header(ctx.req, 'depth') ?? '1').trim().toLowerCase();
  let want;
  try {
    want = parsePropfind(await readText(ctx.req));
  } catch (e) {
    return fail(ctx, 400, `The request body is not a valid propfind: ${(e as Error).message}`);
  }
  const node = ctx.emu.store.lookup(segs);
  if (!node) return fail(ctx, 404, `File with name ${segs.join('/')} could not be located`);
  if (depth === 'infinity' && !ctx.emu.depthInfinity) {
    return fail(ctx, 403, 'PROPFIND with Depth: infinity is not allowed on this server; walk the tree with Depth: 1');
  }
  const entries: ResponseEntry[] = [propEntry(ctx.emu, node, hrefOf(ctx, node), want)];
  if (node.kind === 'dir' && depth !== '0') {
    const walk = (d: DirNode, deep: boolean): void => {
      for (const c of [...d.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        entries.push(propEntry(ctx.emu, c, hrefOf(ctx, c), want));
        if (deep && c.kind === 'dir') walk(c, true);
      }
    };
    walk(node, depth === 'infinity');
  }
  const body = multistatus(entries);
  send(ctx, 207, { 'Content-Type': 'application/xml; charset=utf-8', Vary: 'Brief,Prefer', DAV: '1, 3, extended-mkcol' }, body);
}

/** Properties PROPPATCH may set; other live ones are protected (403), unknown ones are stored as dead properties. */
const SETTABLE = new Set<Clark>(['{DAV:}lastmodified', '{http://owncloud.org/ns}favorite', '{http://nextcloud.org/ns}creation_time', '{http://nextcloud.org/ns}upload_time']);
const PROTECTED_NS = ['{DAV:}', '{http://owncloud.org/ns}', '{http://nextcloud.org/ns}'];

async function proppatch(ctx: Ctx, segs: string[]): Promise<void> {
  let patch;
  try {
    patch = parseProppatch(await readText(ctx.req));
  } catch (e) {
    return fail(ctx, 400, `The request body is not a valid propertyupdate: ${(e as Error).message}`);
  }
  const node = ctx.emu.store.lookup(segs);
  if (!node) return fail(ctx, 404, `File with name ${segs.join('/')} could not be located`);
  const forbidden: Clark[] = [];
  const ok: Clark[] = [];
  for (const { name, value } of patch.set) {
    if (name === '{DAV:}lastmodified' && !/^\d+$/.test(value.trim())) forbidden.push(name);
    else if (SETTABLE.has(name) || !PROTECTED_NS.some((ns) => name.startsWith(ns))) ok.push(name);
    else forbidden.push(name);
  }
  for (const name of patch.remove) (PROTECTED_NS.some((ns) => name.startsWith(ns)) && !SETTABLE.has(name) ? forbidden : ok).push(name);
  const entry: ResponseEntry = { href: hrefOf(ctx, node), found: new Map(), missing: [] };
  if (forbidden.length > 0) {
    // Sabre applies a PROPPATCH atomically: one refused property fails the rest with 424.
    entry.forbidden = forbidden;
    entry.failedDependency = ok;
  } else {
    for (const { name, value } of patch.set) {
      if (name === '{DAV:}lastmodified') {
        node.mtime = Number(value.trim());
        node.etag = ctx.emu.store.touchEtag(node);
      } else if (!SETTABLE.has(name)) node.dead.set(name, value);
      entry.found.set(name, '');
    }
    for (const name of patch.remove) {
      node.dead.delete(name);
      entry.found.set(name, '');
    }
  }
  send(ctx, 207, { 'Content-Type': 'application/xml; charset=utf-8' }, multistatus([entry]));
}

function parseRange(h: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m) return undefined; // several ranges or junk: Sabre answers the whole body
  if (m[1] === '' && m[2] === '') return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || (m[2] !== '' && Number(m[2]) < start)) return 'unsatisfiable';
  return { start, end };
}

async function get(ctx: Ctx, segs: string[]): Promise<void> {
  const node = ctx.emu.store.lookup(segs);
  if (!node) return fail(ctx, 404, `File with name ${segs.join('/')} could not be located`);
  if (node.kind === 'dir') return fail(ctx, 501, 'There was no plugin in the system that was willing to handle this GET method.');
  const { req, res } = ctx;
  req.resume();
  const base: Record<string, string | number> = {
    'Content-Type': node.contentType,
    ETag: `"${node.etag}"`,
    'Last-Modified': new Date(node.mtime * 1000).toUTCString(),
    'Accept-Ranges': 'bytes',
    'OC-FileId': ocId(node.fileId),
  };
  if (node.checksum) base['OC-Checksum'] = node.checksum;
  const rh = header(req, 'range');
  const range = rh ? parseRange(rh, node.size) : undefined;
  if (range === 'unsatisfiable') return fail(ctx, 416, `The start offset (${rh}) exceeded the size of the entity (${node.size})`, { 'Content-Range': `bytes */${node.size}` });
  const ifMatch = header(req, 'if-match');
  if (ifMatch && ifMatch !== '*' && !ifMatch.split(',').some((t) => t.trim() === `"${node.etag}"`)) {
    return fail(ctx, 412, 'An If-Match header was specified, but none of the specified ETags matched.');
  }
  const status = range ? 206 : 200;
  const start = range?.start ?? 0;
  const end = range?.end ?? node.size - 1;
  const headers: Record<string, string | number> = { ...base, 'Content-Length': Math.max(0, end - start + 1) };
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${node.size}`;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || end < start) return void res.end();
  try {
    await pipeline(createReadStream(node.blob, { start, end }), res);
  } catch {
    res.destroy();
  }
}

async function put(ctx: Ctx, segs: string[]): Promise<void> {
  const { emu, req } = ctx;
  const store = emu.store;
  if (segs.length === 0) return fail(ctx, 405, 'PUT is not allowed on non-files.');
  if (header(req, 'content-range')) return fail(ctx, 400, 'Content-Range on PUT requests are forbidden.');
  const name = segs[segs.length - 1];
  const parent = store.lookup(segs.slice(0, -1));
  if (!parent || parent.kind !== 'dir') return fail(ctx, 409, 'Files cannot be created in non-existent collections');
  const existing = parent.children.get(name);
  if (existing?.kind === 'dir') return fail(ctx, 405, 'PUT is not allowed on non-files.');
  const bad = badName(name);
  if (bad) return fail(ctx, 400, bad);
  const pre = preconditionFails(ctx, existing);
  if (pre) return fail(ctx, 412, pre);
  const mtime = mtimeHeader(ctx);
  if (Number.isNaN(mtime)) return fail(ctx, 400, 'X-OC-MTime header must be an integer (unix timestamp).');
  const checksumRaw = header(req, 'oc-checksum') ?? '';
  const declared = checksumRaw ? parseChecksumHeader(checksumRaw) : undefined;
  const length = header(req, 'content-length');
  const path = `/${segs.join('/')}`;
  if (length !== undefined && quotaRefuses(ctx, Number(length), existing?.size ?? 0, path)) return;
  const xHash = header(req, 'x-hash');
  const blob = store.newBlobPath();
  const got = await receiveBody(ctx, blob, wantedHashes(declared, xHash), emu.faults.takeCut());
  if (!got.ok) return; // cut or client gone: nothing is kept
  const fresh = store.lookup(segs.slice(0, -1));
  if (!fresh || fresh.kind !== 'dir') {
    store.dropBlob(blob);
    return fail(ctx, 409, 'Files cannot be created in non-existent collections');
  }
  const bad2 = emu.verifyChecksums ? checksumMismatch(declared, got.digests) : undefined;
  if (bad2) {
    store.dropBlob(blob);
    return fail(ctx, 400, `The computed checksum does not match the one received from the client (${bad2.toUpperCase()}).`);
  }
  const current = fresh.children.get(name);
  if (emu.faults.quota !== null && got.size > emu.faults.quota - store.used() + (current?.kind === 'file' ? current.size : 0)) {
    store.dropBlob(blob);
    return fail(ctx, 507, `Insufficient space in ${path}`);
  }
  const existed = current?.kind === 'file';
  const node = store.putFile(fresh, name, blob, got.size, mtime ?? Math.floor(emu.nowMs() / 1000), storedChecksum(ctx, checksumRaw));
  const headers = writeHeaders(node, mtime !== undefined);
  if (got.digests.md5 && (xHash === 'md5' || xHash === 'all')) headers['X-Hash-MD5'] = got.digests.md5;
  if (got.digests.sha1 && (xHash === 'sha1' || xHash === 'all')) headers['X-Hash-SHA1'] = got.digests.sha1;
  if (got.digests.sha256 && (xHash === 'sha256' || xHash === 'all')) headers['X-Hash-SHA256'] = got.digests.sha256;
  send(ctx, existed ? 204 : 201, headers);
}

/** Sabre's If-Match / If-None-Match checks on a write; the failure message, or undefined. */
function preconditionFails(ctx: Ctx, existing: Node | undefined): string | undefined {
  const ifMatch = header(ctx.req, 'if-match');
  if (ifMatch !== undefined) {
    if (!existing) return 'An If-Match header was specified and the resource did not exist';
    if (ifMatch.trim() !== '*' && !ifMatch.split(',').some((t) => t.trim() === `"${existing.etag}"`)) {
      return 'An If-Match header was specified, but none of the specified ETags matched.';
    }
  }
  const ifNoneMatch = header(ctx.req, 'if-none-match');
  if (ifNoneMatch !== undefined && existing) {
    if (ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((t) => t.trim() === `"${existing.etag}"`)) {
      return 'An If-None-Match header was specified, but the ETag matched (or * was specified).';
    }
  }
  return undefined;
}

async function mkcol(ctx: Ctx, segs: string[]): Promise<void> {
  const store = ctx.emu.store;
  const body = await readText(ctx.req).catch(() => '');
  if (body.length > 0) return fail(ctx, 415, 'The request body for the MKCOL request must have an xml Content-Type');
  if (segs.length === 0 || store.lookup(segs)) return fail(ctx, 405, 'The resource you tried to create already exists');
  const name = segs[segs.length - 1];
  const parent = store.lookup(segs.slice(0, -1));
  if (!parent || parent.kind !== 'dir') return fail(ctx, 409, 'Parent node does not exist');
  const bad = badName(name);
  if (bad) return fail(ctx, 400, bad);
  if (ctx.emu.faults.quota !== null && store.used() > ctx.emu.faults.quota) return fail(ctx, 507, `Insufficient space in /${segs.join('/')}`);
  const d = store.mkdir(parent, name);
  send(ctx, 201, { 'OC-FileId': ocId(d.fileId) });
}

function del(ctx: Ctx, segs: string[]): void {
  const store = ctx.emu.store;
  const node = store.lookup(segs);
  if (!node) return fail(ctx, 404, `File with name ${segs.join('/')} could not be located`);
  if (segs.length === 0) return fail(ctx, 403, 'Permission denied to delete the home folder');
  store.remove(node);
  send(ctx, 204);
}

function moveCopy(ctx: Ctx, segs: string[], method: 'MOVE' | 'COPY'): void {
  const store = ctx.emu.store;
  const node = store.lookup(segs);
  const dest = destinationSegs(ctx);
  if (!Array.isArray(dest)) return fail(ctx, dest.status, dest.message);
  if (!node) return fail(ctx, 404, `File with name ${segs.join('/')} could not be located`);
  if (segs.length === 0 || dest.length === 0) return fail(ctx, 403, 'The home folder cannot be moved, copied or replaced');
  if (dest.join('/') === segs.join('/')) return fail(ctx, 403, 'Source and destination uri are identical.');
  if (node.kind === 'dir' && dest.length > segs.length && segs.every((s, i) => dest[i] === s)) {
    return fail(ctx, 409, 'A folder cannot be moved or copied into itself');
  }
  const parent = store.lookup(dest.slice(0, -1));
  if (!parent || parent.kind !== 'dir') return fail(ctx, 409, 'The destination node is not found');
  const name = dest[dest.length - 1];
  const bad = badName(name);
  if (bad) return fail(ctx, 400, bad);
  const overwrite = (header(ctx.req, 'overwrite') ?? 'T').trim().toUpperCase() !== 'F';
  const existing = parent.children.get(name);
  if (existing && !overwrite) return fail(ctx, 412, 'The destination node already exists, and the overwrite header is set to false');
  if (method === 'COPY' && ctx.emu.faults.quota !== null) {
    if (quotaRefuses(ctx, store.sizeOf(node), existing ? store.sizeOf(existing) : 0, `/${dest.join('/')}`)) return;
  }
  if (method === 'MOVE') store.move(node, parent, name);
  else
    store.copy(node, parent, name, (from) => {
      const to = store.newBlobPath();
      copyFileSync(from, to);
      return to;
    });
  send(ctx, existing ? 204 : 201);
}
