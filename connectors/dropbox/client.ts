/**
 * Dropbox's two API hosts as the connector talks to them: RPC routes (JSON in, JSON out) on the
 * API host, content routes (the argument in `Dropbox-API-Arg`, bytes in the body or the answer)
 * on the content host. Every request carries the remote's access token and is sent once more
 * after a 401 with a renewed one (`withBearer`); the status table does the rest.
 */
import type { HttpClient, HttpResponse } from '../shared/http.js';
import { withBearer, type OAuth2Auth } from '../shared/oauth2.js';
import { headerSafeJson } from './wire.js';

export interface CallOptions {
  signal?: AbortSignal;
  /** Safe to send again after a dropped connection (reads). */
  idempotent?: boolean;
  /** Statuses besides 2xx to hand back instead of throwing (416 to a download). */
  accept?: number[];
}

export class DropboxClient {
  private readonly api: URL;
  private readonly content: URL;

  constructor(
    readonly http: HttpClient,
    private readonly auth: OAuth2Auth,
    apiUrl: string,
    contentUrl: string,
  ) {
    this.api = new URL(apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`);
    this.content = new URL(contentUrl.endsWith('/') ? contentUrl : `${contentUrl}/`);
  }

  /** An RPC route (`files/list_folder`) with its JSON argument; the JSON answer. */
  async rpc<T>(route: string, arg: unknown, op: string, o: CallOptions = {}): Promise<T> {
    const url = new URL(`2/${route}`, this.api);
    const body = arg === undefined ? undefined : JSON.stringify(arg);
    const res = await withBearer(this.auth, (authorization, lastTry) =>
      this.http.request({
        method: 'POST',
        url,
        op,
        headers: { authorization, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body,
        signal: o.signal,
        idempotent: o.idempotent ?? false,
        accept: lastTry ? o.accept : [401, ...(o.accept ?? [])],
      }),
    );
    return (await res.body.json()) as T;
  }

  /** A content route with bytes to send (`files/upload_session/append_v2`); the JSON answer (null for an append). */
  async upload<T>(route: string, arg: unknown, data: Buffer, op: string, o: CallOptions = {}): Promise<T> {
    const res = await this.contentRequest(route, arg, data, op, o);
    const text = await res.body.text();
    return (text === '' ? null : JSON.parse(text)) as T;
  }

  /** `files/download`: the answer unread (the body streams), with `Dropbox-API-Result` in its headers. */
  download(arg: unknown, range: string | undefined, op: string, o: CallOptions = {}): Promise<HttpResponse> {
    return this.contentRequest('files/download', arg, undefined, op, { idempotent: true, ...o }, range ? { range } : {});
  }

  private contentRequest(route: string, arg: unknown, data: Buffer | undefined, op: string, o: CallOptions, extra: Record<string, string> = {}): Promise<HttpResponse> {
    const url = new URL(`2/${route}`, this.content);
    const headers: Record<string, string> = { 'dropbox-api-arg': headerSafeJson(arg), ...extra };
    if (data) headers['content-type'] = 'application/octet-stream';
    return withBearer(this.auth, (authorization, lastTry) =>
      this.http.request({
        method: 'POST',
        url,
        op,
        headers: { authorization, ...headers },
        body: data,
        signal: o.signal,
        idempotent: o.idempotent ?? false,
        accept: lastTry ? o.accept : [401, ...(o.accept ?? [])],
        // undici's head timer runs while a slow body is still being sent.
        ...(data && data.length > 0 ? { headersTimeoutMs: 0 } : {}),
      }),
    );
  }
}
