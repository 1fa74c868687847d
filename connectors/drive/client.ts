/**
 * Requests to Drive with the remote's access token (a 401 is answered once with a renewed token,
 * `withBearer`), the shared-drive parameters on every call, and JSON bodies read into
 * ConnectorErrors when they are not what Drive sends.
 */
import { ConnectorError } from '../errors.js';
import { toConnectorError, type HttpClient, type HttpRequest, type HttpResponse } from '../shared/http.js';
import { withBearer, type OAuth2Auth } from '../shared/oauth2.js';

export interface DriveLocation {
  /** `https://www.googleapis.com` or an emulator's URL: `/drive/v3` and `/upload/drive/v3` go below it. */
  apiUrl: string;
  /** A shared drive's id, when the remote is in one. */
  driveId?: string;
}

export class DriveClient {
  readonly api: string;
  readonly upload: string;

  constructor(
    readonly http: HttpClient,
    readonly auth: OAuth2Auth,
    readonly loc: DriveLocation,
  ) {
    const base = loc.apiUrl.replace(/\/+$/, '');
    this.api = `${base}/drive/v3`;
    this.upload = `${base}/upload/drive/v3`;
  }

  /** `path` below /drive/v3 with `params` and supportsAllDrives (every call must say it to reach shared drives). */
  url(path: string, params: Record<string, string | number | undefined> = {}, base = this.api): string {
    const q = new URLSearchParams({ supportsAllDrives: 'true' });
    for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
    return `${base}${path}?${q}`;
  }

  /** Parameters of a listing: everything in the remote's drive, shared drives included. */
  listParams(): Record<string, string> {
    return this.loc.driveId ? { includeItemsFromAllDrives: 'true', corpora: 'drive', driveId: this.loc.driveId } : { includeItemsFromAllDrives: 'true', corpora: 'user' };
  }

  /** One request with the access token; the body must be sendable twice (not a stream). */
  request(req: HttpRequest): Promise<HttpResponse> {
    return withBearer(this.auth, (authorization, lastTry) =>
      this.http.request({
        ...req,
        headers: { ...req.headers, authorization },
        accept: lastTry ? req.accept : [...(req.accept ?? []), 401],
      }),
    );
  }

  async json<T>(req: HttpRequest): Promise<T> {
    const res = await this.request(req);
    return readJson<T>(res, req.op, req.signal);
  }
}

export async function readJson<T>(res: HttpResponse, op: string, signal?: AbortSignal): Promise<T> {
  let text: string;
  try {
    text = await res.body.text();
  } catch (err) {
    throw toConnectorError(err, op, signal);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ConnectorError('transient', `${op}: Drive answered HTTP ${res.status} with something other than JSON`);
  }
}
