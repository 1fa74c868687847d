/**
 * `/remote.php/dav/uploads/<user>/…`: chunked upload. Two dialects share the endpoint, as on
 * Nextcloud:
 *   - v2 (the MKCOL carried a `Destination` header): chunk names 1..10000, every request carries
 *     `Destination`, chunks of 5 MiB..5 GiB except the last, chunks cannot be read back;
 *   - v1 (no `Destination` on MKCOL; what rclone does): any chunk names, any sizes, assembled in
 *     natural name order.
 * `MOVE <id>/.file` assembles (checks OC-Total-Length, quota, OC-Checksum), writes the target,
 * and removes the upload folder. Folders idle for 24 h expire.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { createHash, type Hash } from 'node:crypto';
import {
  checksumMismatch,
  destinationSegs,
  mtimeHeader,
  quotaRefuses,
  storedChecksum,
  wantedHashes,
  writeHeaders,
} from './dav.js';
import { type Ctx, encodePath, fail, header, parseChecksumHeader, readText, receiveBody, send } from './http.js';
import { newEtag } from './store.js';
import { type Clark, multistatus, parsePropfind, type PropRequest, type PropValues, type ResponseEntry } from './xml.js';

export const MIN_V2_CHUNK = 5 * 1024 * 1024;
export const MAX_V2_CHUNK = 5 * 1024 * 1024 * 1024;
export const MAX_V2_PARTS = 10_000;
export const UPLOAD_TTL_MS = 24 * 3600 * 1000;

export interface Chunk {
  name: string;
  blob: string;
  size: number;
  mtime: number;
  etag: string;
}

export interface Upload {
  id: string;
  /** Decoded target below the user's files root (v2); undefined for a v1 upload. */
  destination: string[] | undefined;
  chunks: Map<string, Chunk>;
  touchedMs: number;
  mtime: number;
  assembling: boolean;
}

export const uploadsBase = (user: string): string => `/remote.php/dav/uploads/${user}`;

/** strnatcmp-like: digit runs compare as numbers ("2" < "10"), as Nextcloud's assembly sorts chunk names. */
export function naturalCompare(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i];
    const y = rb[i];
    if (/^\d/.test(x) && /^\d/.test(y)) {
      const d = BigInt(x) - BigInt(y);
      if (d !== 0n) return d < 0n ? -1 : 1;
    } else if (x !== y) return x < y ? -1 : 1;
  }
  return ra.length - rb.length;
}

export function orderedChunks(up: Upload): Chunk[] {
  return [...up.chunks.values()].sort((a, b) => naturalCompare(a.name, b.name));
}

export class Uploads {
  readonly byId = new Map<string, Upload>();

  constructor(private readonly nowMs: () => number) {}

  /** Drops upload folders idle for longer than 24 h (Nextcloud's background cleanup). */
  expire(dropBlob: (b: string) => void): void {
    const now = this.nowMs();
    for (const [id, up] of this.byId) {
      if (!up.assembling && now - up.touchedMs > UPLOAD_TTL_MS) {
        for (const c of up.chunks.values()) dropBlob(c.blob);
        this.byId.delete(id);
      }
    }
  }
}

const D = (l: string): Clark => `{DAV:}${l}`;

function entry(href: string, want: PropRequest, props: Map<Clark, string | undefined>): ResponseEntry {
  const found: PropValues = new Map();
  const missing: Clark[] = [];
  if (want.all || want.namesOnly) {
    for (const [k, v] of props) if (v !== undefined) found.set(k, want.all ? v : '');
  } else {
    for (const n of want.names) {
      const v = props.get(n);
      if (v === undefined) missing.push(n);
      else found.set(n, v);
    }
  }
  return { href, found, missing };
}

function folderProps(mtime: number, etag: string): Map<Clark, string | undefined> {
  return new Map([
    [D('getlastmodified'), new Date(mtime * 1000).toUTCString()],
    [D('getetag'), `&quot;${etag}&quot;`],
    [D('resourcetype'), '<d:collection/>'],
  ]);
}

function fileProps(mtime: number, etag: string, size: number): Map<Clark, string | undefined> {
  return new Map([
    [D('getlastmodified'), new Date(mtime * 1000).toUTCString()],
    [D('getcontentlength'), String(size)],
    [D('getetag'), `&quot;${etag}&quot;`],
    [D('resourcetype'), ''],
    [D('getcontenttype'), 'application/octet-stream'],
  ]);
}

/** segs: decoded path below `/remote.php/dav/uploads/<user>/`. */
export async function handleUploads(ctx: Ctx, uploads: Uploads, segs: string[]): Promise<void> {
  const { emu, req } = ctx;
  uploads.expire((b) => emu.store.dropBlob(b));
  const m = req.method ?? '';
  const base = uploadsBase(emu.user);
  if (segs.length === 0) {
    if (m !== 'PROPFIND') return fail(ctx, 405, `${m} is not allowed on the uploads root`);
    return listRoot(ctx, uploads, base);
  }
  const [id, chunkName, ...rest] = segs;
  if (rest.length > 0) return fail(ctx, 404, `No such upload resource: ${segs.join('/')}`);
  const up = uploads.byId.get(id);
  if (chunkName === undefined) {
    switch (m) {
      case 'MKCOL': {
        await readText(req).catch(() => '');
        if (up) return fail(ctx, 405, 'The resource you tried to create already exists');
        let destination: string[] | undefined;
        if (header(req, 'destination') !== undefined) {
          const d = destinationSegs(ctx);
          if (!Array.isArray(d)) return fail(ctx, d.status, d.message);
          destination = d;
        }
        const now = emu.nowMs();
        uploads.byId.set(id, { id, destination, chunks: new Map(), touchedMs: now, mtime: Math.floor(now / 1000), assembling: false });
        return send(ctx, 201);
      }
      case 'DELETE':
        req.resume();
        if (!up) return fail(ctx, 404, `File with name ${id} could not be located`);
        if (up.assembling) return fail(ctx, 423, `"${id}" is locked`);
        for (const c of up.chunks.values()) emu.store.dropBlob(c.blob);
        uploads.byId.delete(id);
        return send(ctx, 204);
      case 'PROPFIND':
        return listUpload(ctx, up, id, base);
      default:
        return fail(ctx, 405, `${m} is not allowed on an upload folder`);
    }
  }
  if (chunkName === '.file') {
    if (m === 'MOVE') return assemble(ctx, uploads, up, id);
    if (m === 'PROPFIND' && up) return listUpload(ctx, up, id, base, '.file');
    return fail(ctx, 405, `${m} is not allowed on .file; MOVE it to assemble the upload`);
  }
  switch (m) {
    case 'PUT':
      return putChunk(ctx, uploads, up, chunkName);
    case 'GET':
    case 'HEAD': {
      req.resume();
      if (!up) return fail(ctx, 404, `File with name ${id} could not be located`);
      if (up.destination) return fail(ctx, 405, 'Reading intermediate uploads is not allowed');
      const c = up.chunks.get(chunkName);
      if (!c) return fail(ctx, 404, `File with name ${chunkName} could not be located`);
      ctx.res.writeHead(200, { 'Content-Length': c.size, 'Content-Type': 'application/octet-stream', ETag: `"${c.etag}"` });
      if (m === 'HEAD') return void ctx.res.end();
      return pipeline(createReadStream(c.blob), ctx.res).catch(() => void ctx.res.destroy());
    }
    case 'DELETE': {
      req.resume();
      const c = up?.chunks.get(chunkName);
      if (!up || !c) return fail(ctx, 404, `File with name ${chunkName} could not be located`);
      emu.store.dropBlob(c.blob);
      up.chunks.delete(chunkName);
      return send(ctx, 204);
    }
    case 'PROPFIND': {
      const c = up?.chunks.get(chunkName);
      if (!up || !c) {
        req.resume();
        return fail(ctx, 404, `File with name ${chunkName} could not be located`);
      }
      let want;
      try {
        want = parsePropfind(await readText(req));
      } catch (e) {
        return fail(ctx, 400, `The request body is not a valid propfind: ${(e as Error).message}`);
      }
      const body = multistatus([entry(encodePath(`${base}/${id}/${chunkName}`), want, fileProps(c.mtime, c.etag, c.size))]);
      return send(ctx, 207, { 'Content-Type': 'application/xml; charset=utf-8' }, body);
    }
    case 'MKCOL':
      req.resume();
      return fail(ctx, 403, `Permission denied to create file (filename ${chunkName})`);
    default:
      return fail(ctx, 405, `${m} is not allowed on a chunk`);
  }
}

async function listRoot(ctx: Ctx, uploads: Uploads, base: string): Promise<void> {
  let want;
  try {
    want = parsePropfind(await readText(ctx.req));
  } catch (e) {
    return fail(ctx, 400, `The request body is not a valid propfind: ${(e as Error).message}`);
  }
  const entries = [entry(encodePath(`${base}/`), want, folderProps(Math.floor(ctx.emu.nowMs() / 1000), newEtag()))];
  if ((header(ctx.req, 'depth') ?? '1') !== '0') {
    for (const up of uploads.byId.values()) entries.push(entry(encodePath(`${base}/${up.id}/`), want, folderProps(up.mtime, newEtag())));
  }
  send(ctx, 207, { 'Content-Type': 'application/xml; charset=utf-8' }, multistatus(entries));
}

/** The upload folder lists `.file` (the future file, its size the sum of the chunks) and the chunks. */
async function listUpload(ctx: Ctx, up: Upload | undefined, id: string, base: string, only?: '.file'): Promise<void> {
  let want;
  try {
    want = parsePropfind(await readText(ctx.req));
  } catch (e) {
    return fail(ctx, 400, `The request body is not a valid propfind: ${(e as Error).message}`);
  }
  if (!up) return fail(ctx, 404, `File with name ${id} could not be located`);
  const total = [...up.chunks.values()].reduce((n, c) => n + c.size, 0);
  const futureFile = entry(encodePath(`${base}/${id}/.file`), want, fileProps(up.mtime, newEtag(), total));
  if (only) return send(ctx, 207, { 'Content-Type': 'application/xml; charset=utf-8' }, multistatus([futureFile]));
  const entries = [entry(encodePath(`${base}/${id}/`), want, folderProps(up.mtime, newEtag()))];
  if ((header(ctx.req, 'depth') ?? '1') !== '0') {
    entries.push(futureFile);
    for (const c of orderedChunks(up)) entries.push(entry(encodePath(`${base}/${id}/${c.name}`), want, fileProps(c.mtime, c.etag, c.size)));
  }
  send(ctx, 207, { 'Content-Type': 'application/xml; charset=utf-8' }, multistatus(entries));
}

async function putChunk(ctx: Ctx, uploads: Uploads, up: Upload | undefined, name: string): Promise<void> {
  const { emu, req } = ctx;
  if (!up) return fail(ctx, 409, 'Files cannot be created in non-existent collections');
  if (header(req, 'content-range')) return fail(ctx, 400, 'Content-Range on PUT requests are forbidden.');
  if (up.assembling) return fail(ctx, 423, `"${up.id}" is locked`);
  const length = header(req, 'content-length');
  if (up.destination) {
    if (header(req, 'destination') === undefined) {
      return fail(ctx, 400, 'Chunking v2: every chunk PUT needs the Destination header (without it Nextcloud would store a v1 chunk that the v2 assembly ignores)');
    }
    const n = /^\d+$/.test(name) ? Number(name) : -1;
    if (!(n >= 1 && n <= MAX_V2_PARTS)) return fail(ctx, 400, 'Invalid chunk name, must be numeric between 1 and 10000');
    if (length !== undefined && Number(length) > MAX_V2_CHUNK) return fail(ctx, 400, `Chunk ${name} is larger than 5 GiB (${length} bytes)`);
    const total = header(req, 'oc-total-length');
    if (total !== undefined && /^\d+$/.test(total)) {
      const target = emu.store.lookup(up.destination);
      if (quotaRefuses(ctx, Number(total), target?.kind === 'file' ? target.size : 0, `/${up.destination.join('/')}`)) return;
    }
  } else {
    const total = header(req, 'oc-total-length');
    if (total !== undefined && /^\d+$/.test(total) && quotaRefuses(ctx, Number(total), 0, `/${up.id}`)) return;
  }
  const blob = emu.store.newBlobPath();
  const got = await receiveBody(ctx, blob, new Set(), emu.faults.takeCut());
  // A chunk exists only once its PUT completed; a cut one leaves any earlier chunk of that name.
  if (!got.ok) return;
  if (up.destination && got.size > MAX_V2_CHUNK) {
    emu.store.dropBlob(blob);
    return fail(ctx, 400, `Chunk ${name} is larger than 5 GiB`);
  }
  if (uploads.byId.get(up.id) !== up) {
    emu.store.dropBlob(blob);
    return fail(ctx, 404, `Upload ${up.id} was aborted`);
  }
  const old = up.chunks.get(name);
  if (old) emu.store.dropBlob(old.blob);
  const now = emu.nowMs();
  up.chunks.set(name, { name, blob, size: got.size, mtime: Math.floor(now / 1000), etag: newEtag() });
  up.touchedMs = now;
  up.mtime = Math.floor(now / 1000);
  emu.stats.chunkPuts++;
  emu.stats.chunkBytes += got.size;
  send(ctx, up.destination || !old ? 201 : 204);
}

async function assemble(ctx: Ctx, uploads: Uploads, up: Upload | undefined, id: string): Promise<void> {
  const { emu, req } = ctx;
  await readText(req).catch(() => '');
  if (emu.faults.takeLock()) return fail(ctx, 423, `"${id}/.file" is locked`);
  if (!up) return fail(ctx, 404, `File with name ${id} could not be located`);
  if (up.assembling) return fail(ctx, 423, `"${id}/.file" is locked`);
  const dest = destinationSegs(ctx);
  if (!Array.isArray(dest)) return fail(ctx, dest.status, dest.message);
  if (dest.length === 0) return fail(ctx, 403, 'The home folder cannot be replaced');
  const store = emu.store;
  const parent = store.lookup(dest.slice(0, -1));
  if (!parent || parent.kind !== 'dir') return fail(ctx, 409, 'The destination node is not found');
  const name = dest[dest.length - 1];
  const existing = parent.children.get(name);
  if (existing?.kind === 'dir') return fail(ctx, 409, 'The destination is a folder');
  const chunks = orderedChunks(up);
  const total = chunks.reduce((n, c) => n + c.size, 0);
  if (up.destination) {
    const small = chunks.slice(0, -1).find((c) => c.size < MIN_V2_CHUNK);
    if (small) {
      return fail(ctx, 400, `Chunking v2: chunk ${small.name} is ${small.size} bytes; every chunk but the last must be at least 5 MiB (S3 EntityTooSmall)`);
    }
  }
  const expected = header(req, 'oc-total-length');
  if (expected !== undefined && expected.trim() !== String(total)) {
    return fail(ctx, 400, `Chunks on server do not sum up to ${expected} but to ${total} bytes`);
  }
  const mtime = mtimeHeader(ctx);
  if (Number.isNaN(mtime)) return fail(ctx, 400, 'X-OC-MTime header must be an integer (unix timestamp).');
  if (quotaRefuses(ctx, total, existing?.kind === 'file' ? existing.size : 0, `/${dest.join('/')}`)) return;
  const checksumRaw = header(req, 'oc-checksum') ?? '';
  const declared = checksumRaw ? parseChecksumHeader(checksumRaw) : undefined;
  const want = emu.verifyChecksums ? wantedHashes(declared, undefined) : new Set<never>();
  const hashers = [...want].filter((h) => h !== 'adler32').map((h) => [h, createHash(h)] as [string, Hash]);

  up.assembling = true;
  const blob = store.newBlobPath();
  try {
    const out = createWriteStream(blob);
    for (const c of chunks) {
      const tap = new Transform({
        transform(buf: Buffer, _enc, cb) {
          for (const [, h] of hashers) h.update(buf);
          cb(null, buf);
        },
      });
      await pipeline(createReadStream(c.blob), tap, out, { end: false });
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (e) {
    up.assembling = false;
    store.dropBlob(blob);
    return fail(ctx, 500, `assembling the chunks failed: ${(e as Error).message}`);
  }
  up.assembling = false;
  const digests = Object.fromEntries(hashers.map(([n, h]) => [n, h.digest('hex')]));
  const bad = checksumMismatch(declared, digests);
  if (bad) {
    store.dropBlob(blob);
    return fail(ctx, 400, `The computed checksum does not match the one received from the client (${bad.toUpperCase()}).`);
  }
  const freshParent = store.lookup(dest.slice(0, -1));
  if (!freshParent || freshParent.kind !== 'dir') {
    store.dropBlob(blob);
    return fail(ctx, 409, 'The destination node is not found');
  }
  const existed = freshParent.children.get(name)?.kind === 'file';
  const node = store.putFile(freshParent, name, blob, total, mtime ?? Math.floor(emu.nowMs() / 1000), storedChecksum(ctx, checksumRaw));
  for (const c of up.chunks.values()) store.dropBlob(c.blob);
  uploads.byId.delete(id);
  send(ctx, existed ? 204 : 201, { ...writeHeaders(node, mtime !== undefined), 'Content-Type': 'application/xml; charset=utf-8' });
}

