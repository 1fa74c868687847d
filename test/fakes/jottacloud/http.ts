/**
 * Request context and reply helpers shared by the handlers: JFS errors are XML, api/upload errors
 * JSON (shared/specs/jottacloud-api.md §9.1).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { randomInt } from 'node:crypto';
import type { AuthService } from './auth.js';
import type { Faults, RequestRole } from './faults.js';
import type { Store } from './store.js';
import { errorDoc } from './xml.js';
import type { ApiErrorJson } from './wire.js';

/** One line of the emulator's request log (tests read it to check resume, retries, auth styles). */
export interface LogEntry {
  at: number;
  method: string;
  path: string;
  role: RequestRole | 'control' | 'other';
  status: number;
  /** `Range` request header, when sent. */
  range?: string;
  /** Upload/download body bytes moved in this request. */
  bytes?: number;
  /** True when the emulator destroyed the connection on purpose. */
  cut?: boolean;
  user?: string;
}

export interface Emu {
  store: Store;
  auth: AuthService;
  faults: Faults;
  /** The `host` attribute of XML roots (§4.2: the server node, e.g. `dn-158`). */
  nodeName: string;
  log: LogEntry[];
  /** Default account for login tokens. */
  defaultAccount: string;
  /** Base URL that login tokens point their well_known_link at. */
  publicUrl: () => string;
  /** In-flight upload handlers, so stop() can wait for them. */
  inflight: Set<Promise<unknown>>;
}

export interface Ctx {
  emu: Emu;
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** `scheme://host[:port]` as the client reached us (used for token_endpoint and upload_url). */
  base: string;
  now: Date;
  entry: LogEntry;
}

export function xId(): string {
  return String(randomInt(100_000_000, 999_999_999_999));
}

export function send(ctx: Ctx, status: number, contentType: string | undefined, body: string | Buffer, headers: Record<string, string> = {}): void {
  ctx.entry.status = status;
  if (ctx.res.headersSent || ctx.res.destroyed) return;
  const h: Record<string, string | number> = { ...headers, 'Content-Length': Buffer.byteLength(body) };
  if (contentType) h['Content-Type'] = contentType;
  ctx.res.writeHead(status, h);
  ctx.res.end(body);
}

/** A status with its reason phrase as the whole body, as a front proxy answers (`400 Bad request`). */
export function sendBare(ctx: Ctx, status: number): void {
  send(ctx, status, 'text/plain', `${status} ${STATUS_CODES[status] ?? 'Error'}`);
}

export function sendXml(ctx: Ctx, status: number, xml: string, headers: Record<string, string> = {}): void {
  send(ctx, status, 'application/xml; charset=UTF-8', xml, headers);
}

export function sendJson(ctx: Ctx, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(ctx, status, 'application/json;charset=UTF-8', JSON.stringify(body), headers);
}

/** §9.1 JFS error: `message` is `<Java exception class>: <text>`, `reason` the reason phrase, `<code>` equal to the HTTP status. */
export function jfsError(ctx: Ctx, status: number, exception: string, text: string, headers: Record<string, string> = {}): void {
  sendXml(
    ctx,
    status,
    errorDoc({
      code: status,
      message: text ? `${exception}: ${text}` : exception,
      reason: STATUS_CODES[status] ?? 'Error',
      cause: '',
      hostname: ctx.emu.nodeName,
      xId: xId(),
    }),
    headers,
  );
}

/** §9.1 api.jottacloud.com error: `{"code","message","cause","error_id","x-id"}`. */
export function apiError(ctx: Ctx, status: number, errorId: string, message: string, headers: Record<string, string> = {}): void {
  const body: ApiErrorJson = { code: status, message, cause: '', error_id: errorId, 'x-id': xId() };
  sendJson(ctx, status, body, headers);
}

/** Exception classes quoted in §9.2. */
export const EX = {
  badCredentials: 'org.springframework.security.authentication.BadCredentialsException',
  tokenMismatch: 'org.springframework.security.authentication.AuthenticationCredentialsNotFoundException',
  noSuchFile: 'no.jotta.backup.errors.NoSuchFileException',
  noSuchPath: 'no.jotta.backup.errors.NoSuchPathException',
  noSuchMountPoint: 'no.jotta.backup.errors.NoSuchMountPointException',
  noSuchDevice: 'no.jotta.backup.errors.NoSuchDeviceException',
  invalidArgument: 'no.jotta.backup.errors.InvalidArgumentException',
  illegalArgument: 'java.lang.IllegalArgumentException',
  rangeNotSatisfied: 'no.jotta.backup.errors.RequestedRangeNotSatisfiedException',
  transientData: 'org.springframework.dao.TransientDataAccessResourceException',
  tooManyRequests: 'no.jotta.backup.errors.TooManyRequestsException',
} as const;

export async function readBody(req: IncomingMessage, limit = 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Drains an unread request body so the connection can be reused. */
export function drain(req: IncomingMessage): void {
  if (!req.readableEnded) req.resume();
}

/** A single `bytes=a-b` / `bytes=a-` / `bytes=-n` range; 'multi' for several, 'invalid' for junk. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'none' | 'multi' | 'invalid' {
  if (!header) return 'none';
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return 'invalid';
  if (m[1].includes(',')) return 'multi';
  const r = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(m[1]);
  if (!r || (r[1] === '' && r[2] === '')) return 'invalid';
  if (r[1] === '') {
    const n = Number(r[2]);
    if (n === 0) return 'invalid';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(r[1]);
  const end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1);
  if (start >= size || end < start) return 'invalid';
  return { start, end };
}

/** Bearer check for jfs (§12.3 item 3): 401 with an XML `BadCredentialsException`. */
export function jfsUser(ctx: Ctx): string | undefined {
  const r = ctx.emu.auth.bearer(ctx.req.headers.authorization);
  if (r.ok) return (ctx.entry.user = r.username);
  const text = r.reason === 'missing' || r.reason === 'malformed' ? 'No token or token is malformed!' : 'Bad credentials';
  jfsError(ctx, 401, EX.badCredentials, text);
  return undefined;
}

/** Bearer check for api and the upload URL: 401 with the JSON error body. */
export function apiUser(ctx: Ctx): string | undefined {
  const r = ctx.emu.auth.bearer(ctx.req.headers.authorization);
  if (r.ok) return (ctx.entry.user = r.username);
  const text = r.reason === 'missing' || r.reason === 'malformed' ? 'No token or token is malformed!' : 'Bad credentials';
  apiError(ctx, 401, 'BadCredentialsException', text);
  return undefined;
}
