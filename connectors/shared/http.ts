import { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { isPrivateAddress, privateAddressCode, publicOnlyLookup } from './privateNetworks.js';
import { Pacer, type PacerOptions } from './pacer.js';
import { ConnectorError, type ConnectorErrorKind, type StatusRule, type ThrottleScope } from '../errors.js';
import type { ByteRange } from './ranges.js';
import { emptyStream } from './streams.js';

/**
 * THE HTTP helper of every HTTP connector: one undici `Agent` per connector (keep-alive pools per
 * origin, sized to the transfers that run at once), requests with an AbortSignal, non-2xx answers
 * and socket failures turned into `ConnectorError`s through the connector's own status table, and
 * `Retry-After` parsed into `retryAfterMs`.
 *
 * Retries. The engine (Temporal activity retries, unlimited with a capped interval, honouring
 * `retryAfterMs` as `nextRetryDelay`) owns real retrying. The only retry here is a short, bounded
 * one for idempotent requests (GET/HEAD by default; never a request with a streamed body): at most
 * `idempotentRetries` more attempts (2 by default), and only for a connection that failed before
 * any response or a 429/502/503/504 whose `Retry-After` (if any) is at most 2 s. It smooths a
 * dropped keep-alive connection or a blip of a load balancer without the cost of an activity
 * retry; anything longer is the engine's business. There is no other retry loop in the connectors.
 *
 * Pacing. Every attempt of every request of one client waits its turn at the client's pacer
 * (pacer.ts, as rclone's lib/pacer): spaced by the connector's minimum sleep, backed off after a
 * throttle or transient failure (at least the `Retry-After`), eased after successes.
 */

/** The WebDAV verbs (RFC 4918) ride on the same client: PROPFIND, PROPPATCH, MKCOL, MOVE, COPY. */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'PROPFIND' | 'PROPPATCH' | 'MKCOL' | 'MOVE' | 'COPY';
export type HttpHeaders = Record<string, string | string[] | undefined>;

export interface HttpRequest {
  method: HttpMethod;
  url: string | URL;
  headers?: Record<string, string>;
  /** A Readable body is streamed (and makes the request non-idempotent). */
  body?: string | Buffer | Uint8Array | Readable | null;
  signal?: AbortSignal;
  /** What the request does, for error messages, e.g. `list "docs"`. Never put a secret in it. */
  op: string;
  /** Statuses besides 2xx that the caller handles itself: returned, not thrown. */
  accept?: readonly number[];
  /** May be sent again after a failure; default true for GET and HEAD without a streamed body. */
  idempotent?: boolean;
  /** Time to wait for the response head, ms; 0 for none (slow uploads: undici counts it while the body is still being sent). */
  headersTimeoutMs?: number;
  /** Longest silence while the response body streams, ms; 0 for none. */
  bodyTimeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: HttpHeaders;
  /** The body, to be consumed or dumped by the caller (`text()`, `json()`, `dump()`). */
  body: Dispatcher.ResponseData['body'];
}

/** What the status table sees of a failed response. */
export interface HttpErrorInfo {
  status: number;
  headers: HttpHeaders;
  /** The first 64 KiB of the body, decoded as UTF-8. */
  bodyText: string;
  op: string;
  /** Parsed `Retry-After`, if the response had a valid one. */
  retryAfterMs?: number;
}

/** The connector's status → ConnectorError table. */
export type StatusMapper = (info: HttpErrorInfo) => ConnectorError;

export interface HttpClientOptions {
  /** Connections per origin: the number of transfers that run at once (plus a few for listings). Default 16. */
  connections?: number;
  /** Default head timeout, ms (per request override: `headersTimeoutMs`). Default 60 s. */
  headersTimeoutMs?: number;
  /** Default body idle timeout, ms. Default 120 s. */
  bodyTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this long, ms. Default 30 s. */
  keepAliveTimeoutMs?: number;
  /** Extra CA certificates (PEM) to trust, e.g. an emulator's test CA. */
  ca?: string | string[];
  userAgent?: string;
  /** The connector's status table; `defaultStatusMapper` when absent. */
  mapStatus?: StatusMapper;
  /** Extra attempts for idempotent requests, 0 to disable. Default 2. */
  idempotentRetries?: number;
  /** Spacing and backoff of this client's requests (one pacer per client, so per connector). */
  pacer?: PacerOptions;
  /** For tests: how the pacer waits. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Whether the remote may reach loopback, private and link-local addresses (HostPolicy
   * privateNetworks). When not, every connection is checked, by literal address or by what its
   * name resolves to, and a refused one fails as `forbidden`. Default true.
   */
  privateNetworks?: boolean;
}

const MAX_ERROR_BODY = 64 * 1024;
/** A Retry-After longer than this is not waited out here: the engine sleeps durably instead. */
const MAX_INLINE_RETRY_AFTER_MS = 2_000;
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);

/**
 * `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, as milliseconds from `now`
 * (0 for a date in the past). Undefined for a missing or malformed value.
 */
export function parseRetryAfter(value: string | string[] | undefined | null, now: number = Date.now()): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) {
    const seconds = Number(v);
    return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : undefined;
  }
  // HTTP-date: IMF-fixdate, and the obsolete RFC 850 and asctime forms, which Date.parse reads too.
  // A bare number with a fraction or sign is not a date; nor is anything without a letter (the month).
  if (!/[A-Za-z]{3}/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

export function headerValue(headers: HttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** A status no row of a connector's table names: a server error passes on retry, anything else is not understood. */
export function unlistedStatus(status: number): StatusRule {
  return status >= 500 ? { kind: 'transient', why: 'server error' } : { kind: 'unsupported', why: 'unexpected answer' };
}

/** The ConnectorError of a table's row: its kind and scope, with the status and Retry-After of the answer. */
export function statusError(rule: StatusRule, message: string, answer: { status: number; retryAfterMs?: number }): ConnectorError {
  return new ConnectorError(rule.kind, message, { status: answer.status, retryAfterMs: answer.retryAfterMs, scope: rule.scope });
}

/** A provider's message as a detail of ours: the first 300 characters. */
export function clipDetail(s: string): string {
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

/** A generic table for connectors without their own; theirs should cover the provider's quirks. */
export function defaultStatusMapper(info: HttpErrorInfo): ConnectorError {
  const { status } = info;
  let kind: ConnectorErrorKind;
  let scope: ThrottleScope | undefined;
  if (status === 401 || status === 403) kind = 'auth';
  else if (status === 404 || status === 410) kind = 'not_found';
  else if (status === 409 || status === 412) kind = 'conflict';
  else if (status === 413) kind = 'too_large';
  else if (status === 507) kind = 'quota_exceeded';
  else if (status === 429) {
    kind = 'throttled';
    scope = 'account';
  } else if (status === 503 && info.retryAfterMs !== undefined) kind = 'throttled';
  else if (status >= 500 || status === 408) kind = 'transient';
  else kind = 'unsupported';
  const detail = info.bodyText.trim().slice(0, 300);
  return new ConnectorError(kind, `${info.op}: HTTP ${status}${detail ? `: ${detail}` : ''}`, {
    status,
    retryAfterMs: info.retryAfterMs,
    scope,
  });
}

/** undici and Node error codes of a connection that failed or broke: worth another try. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EPROTO',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_INFO',
  'UND_ERR_DESTROYED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

function codesOf(err: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
  }
  return codes;
}

/** The message of the error in the cause chain that has `code`. */
function messageWith(err: unknown, code: string): string {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === code) return (e as Error).message;
  }
  return code;
}

/** True for a failure of the connection itself (reset, refused, timed out, closed mid-body). */
export function isNetworkError(err: unknown): boolean {
  return codesOf(err).some((c) => NETWORK_CODES.has(c));
}

/**
 * Any failure of a request or of reading its response as a ConnectorError: ConnectorErrors pass
 * through, an aborted signal rethrows its reason (so callers see the abort they asked for), and
 * connection failures become `transient`.
 */
export function toConnectorError(err: unknown, op: string, signal?: AbortSignal): unknown {
  if (err instanceof ConnectorError) return err;
  if (signal?.aborted) return signal.reason;
  if ((err as Error | null)?.name === 'AbortError') return err;
  const codes = codesOf(err);
  if (codes.includes(privateAddressCode)) return new ConnectorError('forbidden', `${op}: ${messageWith(err, privateAddressCode)}`, { cause: err });
  const why = codes.length ? codes[0] : err instanceof Error ? err.message : String(err);
  return new ConnectorError('transient', `${op}: the connection failed (${why})`, { cause: err });
}

export class HttpClient {
  private readonly agent: Agent;
  private readonly mapStatus: StatusMapper;
  private readonly retries: number;
  readonly pacer: Pacer;
  private readonly userAgent: string;
  private readonly privateNetworks: boolean;

  constructor(opts: HttpClientOptions = {}) {
    this.agent = new Agent({
      connections: opts.connections ?? 16,
      pipelining: 1,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 30_000,
      keepAliveMaxTimeout: 10 * 60_000,
      headersTimeout: opts.headersTimeoutMs ?? 60_000,
      bodyTimeout: opts.bodyTimeoutMs ?? 120_000,
      connect: { timeout: opts.connectTimeoutMs ?? 30_000, ...(opts.ca ? { ca: opts.ca } : {}), ...(opts.privateNetworks === false ? { lookup: publicOnlyLookup } : {}) },
    });
    this.privateNetworks = opts.privateNetworks ?? true;
    this.mapStatus = opts.mapStatus ?? defaultStatusMapper;
    this.retries = Math.max(0, opts.idempotentRetries ?? 2);
    this.pacer = new Pacer({ ...opts.pacer, sleep: opts.sleep ?? opts.pacer?.sleep });
    this.userAgent = opts.userAgent ?? 'knarr';
  }

  /**
   * Sends one request. 2xx and `accept`ed statuses come back with their body unread; anything
   * else is read (bounded), mapped through the status table and thrown.
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    // A literal address is never looked up, so the lookup's check cannot see it.
    if (!this.privateNetworks) {
      const host = new URL(req.url).hostname.replace(/^\[|\]$/g, '');
      if (isPrivateAddress(host)) throw new ConnectorError('forbidden', `${req.op}: ${host} is a private or local address, which remotes on this server may not reach`);
    }
    const streamed = req.body instanceof Readable;
    const idempotent = !streamed && (req.idempotent ?? (req.method === 'GET' || req.method === 'HEAD'));
    const attempts = idempotent ? 1 + this.retries : 1;
    // The one retry path: the pacer spaces every attempt, and backs off after each failure.
    for (let attempt = 1; ; attempt++) {
      req.signal?.throwIfAborted();
      await this.pacer.turn(req.signal);
      let res: HttpResponse;
      try {
        res = await this.send(req);
      } catch (err) {
        const mapped = toConnectorError(err, req.op, req.signal);
        if (mapped instanceof ConnectorError && mapped.kind === 'transient') {
          this.pacer.failed();
          if (attempt < attempts) continue;
        }
        throw mapped;
      }
      if ((res.status >= 200 && res.status < 300) || req.accept?.includes(res.status)) {
        this.pacer.succeeded();
        return res;
      }
      const error = await this.errorOf(res, req);
      if (!RETRYABLE_STATUSES.has(res.status)) {
        this.pacer.succeeded();
        throw error;
      }
      this.pacer.failed(error.retryAfterMs);
      // A long Retry-After is not waited out here: the engine sleeps durably instead.
      if (attempt < attempts && (error.retryAfterMs ?? 0) <= MAX_INLINE_RETRY_AFTER_MS) continue;
      throw error;
    }
  }

  /** The ConnectorError for a response the caller could not use (reads and discards its body). */
  async errorOf(res: HttpResponse, req: Pick<HttpRequest, 'op' | 'signal'>): Promise<ConnectorError> {
    const bodyText = await readBounded(res.body, MAX_ERROR_BODY).catch(() => '');
    return this.mapStatus({
      status: res.status,
      headers: res.headers,
      bodyText,
      op: req.op,
      retryAfterMs: parseRetryAfter(headerValue(res.headers, 'retry-after')),
    });
  }

  private async send(req: HttpRequest): Promise<HttpResponse> {
    const url = typeof req.url === 'string' ? new URL(req.url) : req.url;
    const res = await this.agent.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: req.method,
      headers: { 'user-agent': this.userAgent, ...req.headers },
      body: req.body ?? null,
      signal: req.signal ?? null,
      ...(req.headersTimeoutMs !== undefined ? { headersTimeout: req.headersTimeoutMs } : {}),
      ...(req.bodyTimeoutMs !== undefined ? { bodyTimeout: req.bodyTimeoutMs } : {}),
    });
    return { status: res.statusCode, headers: res.headers, body: res.body };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** Up to `limit` bytes of a body as UTF-8; the rest is discarded so the connection can be reused. */
export async function readBounded(body: Readable, limit: number): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    if (size < limit) parts.push(buf.subarray(0, limit - size));
    size += buf.length;
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * A response body as a plain Readable whose failures are ConnectorErrors (a cut connection while
 * the caller streams the bytes is `transient`, an abort rethrows the signal's reason). Destroying
 * the result releases the connection. `skip` bytes are dropped first and at most `limit` passed on:
 * for servers that answer a Range request with the whole file.
 */
export function mapBodyErrors(
  body: Readable,
  op: string,
  opts: { signal?: AbortSignal; skip?: number; limit?: number } = {},
): Readable {
  let skip = opts.skip ?? 0;
  let left = opts.limit ?? Infinity;
  async function* pass(): AsyncGenerator<Buffer> {
    try {
      for await (const raw of body) {
        let chunk = typeof raw === 'string' ? Buffer.from(raw) : (raw as Buffer);
        if (skip > 0) {
          const n = Math.min(skip, chunk.length);
          skip -= n;
          chunk = chunk.subarray(n);
        }
        if (chunk.length > left) chunk = chunk.subarray(0, left);
        left -= chunk.length;
        if (chunk.length) yield chunk;
        if (left <= 0) break;
      }
    } catch (err) {
      throw toConnectorError(err, op, opts.signal);
    } finally {
      if (!body.destroyed) body.destroy();
    }
  }
  return Readable.from(pass(), { objectMode: false });
}

/**
 * The bytes of a ranged GET (sent with `rangeHeader`). A 416, where the request accepted it, means
 * the file is there and the range starts at or past its end: nothing to read, unless the range
 * started at 0. A server that ignored the Range answered 200 with the whole file: the bytes
 * before `offset` are dropped.
 */
export async function rangedBody(res: HttpResponse, op: string, range: ByteRange): Promise<Readable> {
  const { offset, length, signal } = range;
  if (res.status === 416) {
    await res.body.dump();
    if (offset > 0) return emptyStream();
    throw new ConnectorError('transient', `${op}: range not satisfiable from offset 0`, { status: 416 });
  }
  const skip = res.status === 200 && offset > 0 ? offset : 0;
  return mapBodyErrors(res.body, op, { signal, skip, limit: length });
}
