/**
 * Authenticated requests to the three Jottacloud hosts (shared/specs/jottacloud-api.md §1): JFS
 * (XML), api (JSON) and the server-chosen upload URL. All carry `Authorization: Bearer` (§1).
 */
import { Readable } from 'node:stream';
import { ConnectorError, isConnectorError } from '../errors.js';
import type { HttpClient, HttpRequest, HttpResponse } from '../shared/http.js';
import { authMessage } from './errors.js';
import type { JottaAuth } from './auth.js';
import type { JottaLocation } from './paths.js';
import type { CustomerJson } from './wire.js';

export class JottaClient {
  private user: Promise<string> | undefined;

  constructor(
    readonly http: HttpClient,
    readonly auth: JottaAuth,
    readonly loc: JottaLocation,
    /** `https://api.jottacloud.com/` or the emulator's. */
    readonly apiBase: string,
    readonly remoteName: string,
  ) {}

  /**
   * A request with the current access token. On a 401 the token is renewed once (see
   * JottaAuth.afterRejection) and a request without a streamed body is sent once more; a streamed
   * upload cannot be replayed, so it fails as transient and resumes on the engine's retry.
   */
  async authed(req: HttpRequest): Promise<HttpResponse> {
    const token = await this.auth.accessToken();
    try {
      return await this.http.request(withToken(req, token));
    } catch (err) {
      if (!isConnectorError(err, 'auth') || err.status !== 401) throw err;
      const next = await this.auth.afterRejection(token);
      if (req.body instanceof Readable) {
        throw new ConnectorError('transient', `${req.op}: the access token was refused mid-upload and has been renewed; the upload resumes on the next attempt`, { status: 401, cause: err });
      }
      return this.http.request(withToken(req, next));
    }
  }

  /**
   * The JFS user name (§2.8): `GET /account/v1/customer`, once per connector. rclone asks on every
   * NewFs and tried caching it in config, then reverted that (#6309), so it is not persisted.
   */
  username(): Promise<string> {
    this.user ??= this.lookupUsername().catch((err: unknown) => {
      this.user = undefined;
      throw err;
    });
    return this.user;
  }

  private async lookupUsername(): Promise<string> {
    const res = await this.authed({ method: 'GET', url: `${this.apiBase}account/v1/customer`, op: 'Jottacloud: look up the account', headers: { accept: 'application/json' } });
    const body = (await res.body.json().catch(() => undefined)) as CustomerJson | undefined;
    if (!body || typeof body.username !== 'string' || body.username === '') {
      throw new ConnectorError('auth', authMessage(this.remoteName, '/account/v1/customer did not name the account', this.auth.whiteLabel));
    }
    return body.username;
  }

  /** `<jfs>/<user>/<device>/<mountpoint>/<rel>[?query]` */
  async fileUrl(rel: string, query?: URLSearchParams | string): Promise<string> {
    return this.loc.fileUrl(await this.username(), rel, query);
  }

  /** A JFS GET (stat, list, liststream, download). */
  async jfsGet(rel: string, op: string, opts: { query?: URLSearchParams | string; headers?: Record<string, string>; accept?: number[]; signal?: AbortSignal } = {}): Promise<HttpResponse> {
    return this.authed({ method: 'GET', url: await this.fileUrl(rel, opts.query), op, headers: opts.headers, accept: opts.accept, signal: opts.signal });
  }

  /**
   * A JFS command (§5): POST with no body and no Content-Type — a POST with
   * `application/octet-stream` is taken as an upload and answers 404 ([X] #397).
   */
  async jfsCommand(rel: string, query: URLSearchParams | string, op: string, opts: { headers?: Record<string, string>; accept?: number[]; signal?: AbortSignal } = {}): Promise<HttpResponse> {
    return this.authed({ method: 'POST', url: await this.fileUrl(rel, query), op, headers: opts.headers, accept: opts.accept, signal: opts.signal });
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

function withToken(req: HttpRequest, token: string): HttpRequest {
  return { ...req, headers: { ...req.headers, authorization: `Bearer ${token}` } };
}
