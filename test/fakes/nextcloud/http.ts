/**
 * Request plumbing shared by the DAV handlers: the context, Sabre-style error answers, Nextcloud's
 * href encoding, and streaming an upload body to a blob file while hashing it (and cutting it
 * when a fault says so).
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { Faults, Stats } from './faults.js';
import type { Store } from './store.js';
import { sabreError } from './xml.js';

export interface Emu {
  user: string;
  store: Store;
  faults: Faults;
  stats: Stats;
  nowMs: () => number;
  /** Whether a PUT whose body does not match its OC-Checksum is refused (see README: real Nextcloud stores it unchecked). */
  verifyChecksums: boolean;
  /** Whether PROPFIND Depth: infinity is answered (real Nextcloud) or refused with 403 (the default here). */
  depthInfinity: boolean;
  inflight: Set<Promise<unknown>>;
}

export interface Ctx {
  emu: Emu;
  req: IncomingMessage;
  res: ServerResponse;
  /** Path of the request, still percent-encoded, without the query. */
  rawPath: string;
}

/** Sabre exception class for a status, as Nextcloud names them in error documents. */
const EXCEPTION: Record<number, string> = {
  400: 'Sabre\\DAV\\Exception\\BadRequest',
  401: 'Sabre\\DAV\\Exception\\NotAuthenticated',
  403: 'Sabre\\DAV\\Exception\\Forbidden',
  404: 'Sabre\\DAV\\Exception\\NotFound',
  405: 'Sabre\\DAV\\Exception\\MethodNotAllowed',
  409: 'Sabre\\DAV\\Exception\\Conflict',
  412: 'Sabre\\DAV\\Exception\\PreconditionFailed',
  415: 'Sabre\\DAV\\Exception\\UnsupportedMediaType',
  416: 'Sabre\\DAV\\Exception\\RequestedRangeNotSatisfiable',
  423: 'OCA\\DAV\\Connector\\Sabre\\Exception\\FileLocked',
  429: 'OCA\\DAV\\Connector\\Sabre\\Exception\\TooManyRequests',
  501: 'Sabre\\DAV\\Exception\\NotImplemented',
  507: 'Sabre\\DAV\\Exception\\InsufficientStorage',
};

export function fail(ctx: Ctx, status: number, message: string, headers: Record<string, string> = {}): void {
  const { req, res } = ctx;
  // The body of a refused upload still arrives; read it so the client sees this answer, not a reset.
  req.resume();
  // Nextcloud's TooManyRequests adds an ownCloud hint element to the error document.
  const body = sabreError(EXCEPTION[status] ?? 'Sabre\\DAV\\Exception', message, status === 429 ? 'too many requests' : undefined);
  res.writeHead(status, { 'Content-Type': 'application/xml; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function send(ctx: Ctx, status: number, headers: Record<string, string | number> = {}, body?: string): void {
  ctx.req.resume();
  ctx.res.writeHead(status, { 'Content-Length': body === undefined ? 0 : Buffer.byteLength(body), ...headers });
  ctx.res.end(body);
}

export async function readText(req: IncomingMessage, limit = 1024 * 1024): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) throw new Error('request body too large');
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Sabre\HTTP\encodePath: everything but `A-Za-z0-9_-.~()/:@` is percent-encoded (UTF-8, upper-case hex). */
export function encodePath(p: string): string {
  return Array.from(Buffer.from(p, 'utf8'))
    .map((b) => {
      const ch = String.fromCharCode(b);
      return /[A-Za-z0-9_\-.~()/:@]/.test(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/** Splits an encoded path into decoded segments; undefined when a segment is not valid percent-encoded UTF-8. */
export function decodeSegments(raw: string): string[] | undefined {
  const out: string[] = [];
  for (const s of raw.split('/')) {
    if (s === '') continue;
    try {
      out.push(decodeURIComponent(s));
    } catch {
      return undefined;
    }
  }
  return out;
}

export type HashName = 'md5' | 'sha1' | 'sha256' | 'adler32';

class Adler32 {
  private a = 1;
  private b = 0;
  update(buf: Buffer): void {
    let { a, b } = this;
    for (let i = 0; i < buf.length; ) {
      // 3800 bytes keep the sums below 2^31 before the modulo.
      const end = Math.min(buf.length, i + 3800);
      for (; i < end; i++) {
        a += buf[i];
        b += a;
      }
      a %= 65521;
      b %= 65521;
    }
    this.a = a;
    this.b = b;
  }
  digest(): string {
    return ((this.b * 65536 + this.a) >>> 0).toString(16).padStart(8, '0');
  }
}

export type ReceiveResult = { ok: true; size: number; digests: Partial<Record<HashName, string>> } | { ok: false; cut: boolean };

/**
 * Streams the request body into `blob`. With `cutAfter`, the socket is destroyed once that many
 * body bytes have arrived (the bytes count in stats.bytesReceived, nothing is kept).
 */
export async function receiveBody(ctx: Ctx, blob: string, hashes: Set<HashName>, cutAfter: number | undefined): Promise<ReceiveResult> {
  const { req, emu } = ctx;
  const ws = createWriteStream(blob);
  const hs: [HashName, Hash | Adler32][] = [...hashes].map((h) => [h, h === 'adler32' ? new Adler32() : createHash(h)]);
  let size = 0;
  const closeWs = async (): Promise<void> => {
    ws.end();
    if (!ws.closed) await once(ws, 'close').catch(() => undefined);
  };
  try {
    for await (const c of req) {
      let chunk = c as Buffer;
      if (cutAfter !== undefined && size + chunk.length >= cutAfter) {
        chunk = chunk.subarray(0, cutAfter - size);
        size += chunk.length;
        emu.stats.bytesReceived += chunk.length;
        emu.stats.cuts++;
        req.socket.destroy();
        await closeWs();
        emu.store.dropBlob(blob);
        return { ok: false, cut: true };
      }
      size += chunk.length;
      emu.stats.bytesReceived += chunk.length;
      for (const [, h] of hs) h.update(chunk);
      if (!ws.write(chunk)) await once(ws, 'drain');
    }
  } catch {
    await closeWs();
    emu.store.dropBlob(blob);
    return { ok: false, cut: false };
  }
  if (cutAfter === 0) {
    // An empty body with a cut at 0: the cut still happens (nothing kept).
    emu.stats.cuts++;
    req.socket.destroy();
    await closeWs();
    emu.store.dropBlob(blob);
    return { ok: false, cut: true };
  }
  await closeWs();
  const digests: Partial<Record<HashName, string>> = {};
  for (const [n, h] of hs) digests[n] = h instanceof Adler32 ? h.digest() : h.digest('hex');
  return { ok: true, size, digests };
}

/** `OC-Checksum: SHA1:abc MD5:def` (also comma-separated) → [['sha1','abc'], …]; undefined when malformed. */
export function parseChecksumHeader(v: string): [HashName, string][] | undefined {
  const out: [HashName, string][] = [];
  for (const part of v.trim().split(/[\s,]+/).filter(Boolean)) {
    const m = /^(SHA1|MD5|SHA256|ADLER32):([0-9a-fA-F]+)$/i.exec(part);
    if (!m) return undefined;
    out.push([m[1].toLowerCase() as HashName, m[2].toLowerCase()]);
  }
  return out;
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
