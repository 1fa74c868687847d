import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { exitCodeOfStatus, exitCodes } from './exitCodes.js';

/**
 * The one error of the client: what to print (one line, after "knarr: ") and the exit code.
 * Usage mistakes, API refusals and an unreachable server all end here.
 */
export class CliError extends Error {
  override name = 'CliError';
  /** `code` is the API's error code, or `unreachable` / `timeout` when no answer came at all. */
  constructor(message: string, readonly exitCode: number = exitCodes.error, readonly status: number | null = null, readonly code: string | null = null) {
    super(message);
  }
}

export const usageError = (message: string) => new CliError(message, exitCodes.usage);

type Query = Record<string, string | number | undefined | null>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * Creating a remote or a job checks it on a worker first (listing, probing a path), which can
 * take a while on a slow provider; past this the server is taken to be stuck.
 */
const requestTimeoutMs = 120_000;

/** Before a POST that starts work is sent again: a restarting server or proxy needs a moment. */
const retryDelayMs = 1_000;

export class ApiClient {
  constructor(
    readonly url: string,
    private readonly key: string | null,
    /** Where the key came from (a flag, a variable, a file), for the message when it is refused. */
    private readonly keyFrom = '',
  ) {}

  async get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return (await this.request<T>('GET', path, { query, signal })) as T;
  }

  async post<T>(path: string, body: unknown = {}): Promise<T> {
    return (await this.request<T>('POST', path, { body })) as T;
  }

  /**
   * A POST that starts work (a job, a run, a retry, a schedule, a trigger), sent with a new
   * Idempotency-Key and, when no answer came or a gateway answered 502/503/504, sent once more
   * with the same key. The server answers a key it has seen with its first answer, so a request
   * that got through before the connection dropped never starts a second transfer.
   */
  async startWork<T>(path: string, body: unknown = {}): Promise<T> {
    const opts: RequestOptions = { body, headers: { 'idempotency-key': randomUUID() } };
    try {
      return (await this.request<T>('POST', path, opts)) as T;
    } catch (err) {
      if (!worthSendingAgain(err)) throw err;
    }
    await sleep(retryDelayMs);
    // The first request may have got through and still be at work (checking the remotes can take
    // a while): the server says so with a 409 until it has its answer, which then comes back.
    const deadline = Date.now() + requestTimeoutMs;
    for (;;) {
      try {
        return (await this.request<T>('POST', path, opts)) as T;
      } catch (err) {
        if (!(err instanceof CliError && err.code === 'request_in_progress') || Date.now() > deadline) throw err;
      }
      await sleep(retryDelayMs);
    }
  }

  /** The parsed JSON answer, or null for an answer without a body (204). */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T | null> {
    const target = new URL(this.url.replace(/\/+$/, '') + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== null && v !== '') target.searchParams.set(k, String(v));
    const signal = opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(requestTimeoutMs)]) : AbortSignal.timeout(requestTimeoutMs);
    let res: Response;
    try {
      res = await fetch(target, {
        method,
        headers: {
          accept: 'application/json',
          ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.key ? { authorization: `Bearer ${this.key}` } : {}),
          ...opts.headers,
        },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal,
      });
    } catch (err) {
      // The caller's own abort (Ctrl-C while watching) is not a failure to report.
      if (opts.signal?.aborted) throw err;
      throw unreachable(this.url, err);
    }
    const text = await res.text();
    if (!res.ok) throw apiError(res.status, res.statusText, text, this.key === null ? null : this.keyFrom);
    if (text === '') return null;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`${method} ${path} answered ${res.status} with a body that is not JSON; is ${this.url} a knarr API?`);
    }
  }
}

/** The one-line error of an API answer `{"error":{"code","message","field"}}`, or of whatever else came back. */
export function apiError(status: number, statusText: string, body: string, keyFrom: string | null): CliError {
  let code: string | null = null;
  let message = `the server answered ${status}${statusText ? ` ${statusText}` : ''}`;
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.message === 'string') message = parsed.error.message;
    if (typeof parsed.error?.code === 'string') code = parsed.error.code;
  } catch {
    // Not knarr's error model (a proxy's page): the status line says enough.
  }
  // The server says what is wrong with the key; the client adds which key it sent, or how to send one.
  if (status === 401) message += keyFrom === null ? ' (no key was sent: give --key, set KNARR_API_KEY or run "knarr login")' : ` (the key from ${keyFrom || 'the settings'})`;
  return new CliError(message.replace(/\s*\n\s*/g, ' '), exitCodeOfStatus(status, code), status, code);
}

/** A request that got no answer at all: the server is down, or the URL points elsewhere. */
export function unreachable(url: string, err: unknown): CliError {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return new CliError(`knarr at ${url} did not answer within ${requestTimeoutMs / 1000} s`, exitCodes.temporary, null, 'timeout');
  const why = e.cause?.code ?? e.cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new CliError(`cannot reach knarr at ${url} (${why}): start it with "knarr server", or give the right --url (or KNARR_API_URL)`, exitCodes.temporary, null, 'unreachable');
}

/**
 * No answer, or a gateway's 502/503/504. Not a timeout: that request reached a server that is
 * still working on it, and asking again would wait as long again.
 */
function worthSendingAgain(err: unknown): boolean {
  return err instanceof CliError && err.exitCode === exitCodes.temporary && err.code !== 'timeout';
}

/** A page of a list endpoint: `{"data":[…],"next":cursor|null}`. */
export interface Page<T> {
  data: T[];
  next: string | null;
}

/**
 * Every item of a list endpoint, page after page, following `next` until it is null; `max`
 * stops early (and asks for no more than it needs).
 */
export async function* paginate<T>(client: ApiClient, path: string, query: Query, pageSize: number, max = Infinity): AsyncGenerator<T> {
  let after: string | null = null;
  let seen = 0;
  do {
    const page: Page<T> = await client.get<Page<T>>(path, { ...query, limit: Math.min(pageSize, max - seen), after });
    for (const item of page.data) {
      yield item;
      if (++seen >= max) return;
    }
    after = page.next;
  } while (after);
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
