/**
 * Graph as the connector talks to it: the drive's base URL (`/me/drive`, `/drives/{id}`, or a
 * SharePoint site's library found from its URL), URLs of items by path (every segment encoded by
 * the name encoder, then percent-encoded), and requests with the remote's access token, sent once
 * more after a 401 with a renewed one. Pre-authenticated URLs (uploads, downloads, copy monitors)
 * go through `unauthenticated`, which never carries the token.
 */
import { ConnectorError } from '../errors.js';
import type { NameEncoder } from '../shared/encoder.js';
import { HttpClient, toConnectorError, type HttpRequest, type HttpResponse } from '../shared/http.js';
import { withBearer, type OAuth2Auth } from '../shared/oauth2.js';
import type { DriveInfo } from './wire.js';

export type GraphRequest = Omit<HttpRequest, 'url' | 'body'> & { url: string; body?: string | Buffer | null; json?: unknown };

export type DriveType = 'personal' | 'business' | 'documentLibrary';

/** Which drive a remote is: by id, a SharePoint site's default library, or the user's own. */
export interface DriveChoice {
  driveId?: string;
  siteUrl?: string;
}

export interface ResolvedDrive {
  id: string;
  driveType: DriveType;
  /** `{api}/drives/{id}`. */
  base: string;
}

export class GraphClient {
  private drive: Promise<ResolvedDrive> | undefined;

  constructor(
    readonly http: HttpClient,
    readonly auth: OAuth2Auth,
    /** `https://graph.microsoft.com/v1.0` or the region's, or a test's. */
    readonly apiUrl: string,
    readonly names: NameEncoder,
    private readonly choice: DriveChoice,
    private readonly configuredType: DriveType | undefined,
  ) {}

  /** One request with the access token; a 401 is answered once with a renewed token. */
  async request(req: GraphRequest): Promise<HttpResponse> {
    const body = req.json !== undefined ? JSON.stringify(req.json) : req.body;
    const headers = { ...(req.json !== undefined ? { 'content-type': 'application/json' } : {}), ...req.headers };
    const accept = req.accept ?? [];
    return withBearer(this.auth, (authorization, lastTry) =>
      this.http.request({ ...req, body, headers: { ...headers, authorization }, accept: lastTry ? accept : [...accept, 401] }),
    );
  }

  async json<T>(req: GraphRequest): Promise<T> {
    const res = await this.request(req);
    return readJson<T>(res, req.op, req.signal);
  }

  /** A request to a pre-authenticated URL (upload session, download, monitor): never with the token. */
  unauthenticated(req: Omit<HttpRequest, 'headers'> & { headers?: Record<string, string> }): Promise<HttpResponse> {
    const headers = { ...req.headers };
    delete headers.authorization;
    return this.http.request({ ...req, headers });
  }

  /** The drive this remote is, found once: from its id, its SharePoint site, or `/me/drive`. */
  resolved(signal?: AbortSignal): Promise<ResolvedDrive> {
    this.drive ??= this.resolve(signal).catch((err: unknown) => {
      this.drive = undefined;
      throw err;
    });
    return this.drive;
  }

  private async resolve(signal?: AbortSignal): Promise<ResolvedDrive> {
    let url: string;
    if (this.choice.driveId) url = `${this.apiUrl}/drives/${encodeURIComponent(this.choice.driveId)}`;
    else if (this.choice.siteUrl) {
      const site = await this.json<{ id?: string }>({ method: 'GET', url: siteLookupUrl(this.apiUrl, this.choice.siteUrl), op: `find the SharePoint site ${this.choice.siteUrl}`, signal });
      if (!site.id) throw new ConnectorError('not_found', `find the SharePoint site ${this.choice.siteUrl}: Graph named no site id`);
      url = `${this.apiUrl}/sites/${encodeURIComponent(site.id)}/drive`;
    } else url = `${this.apiUrl}/me/drive`;
    const drive = await this.json<DriveInfo>({ method: 'GET', url, op: 'open the drive', signal });
    if (!drive.id) throw new ConnectorError('not_found', 'open the drive: Graph named no drive id');
    const driveType = (drive.driveType as DriveType | undefined) ?? this.configuredType ?? 'personal';
    return { id: drive.id, driveType, base: `${this.apiUrl}/drives/${encodeURIComponent(drive.id)}` };
  }

  /** `…/root` or `…/root:/a/b:` with `suffix` (`/children`, `/content`, …) for a path in core/paths form. */
  async itemUrl(rel: string, suffix = '', signal?: AbortSignal): Promise<string> {
    const { base } = await this.resolved(signal);
    if (rel === '') return `${base}/root${suffix}`;
    return `${base}/root:/${this.encodedPath(rel)}:${suffix}`;
  }

  async itemByIdUrl(id: string, suffix = '', signal?: AbortSignal): Promise<string> {
    const { base } = await this.resolved(signal);
    return `${base}/items/${encodeURIComponent(id)}${suffix}`;
  }

  encodedPath(rel: string): string {
    return rel
      .split('/')
      .map((s) => encodeURIComponent(this.names.encode(s)))
      .join('/');
  }
}

/** `GET /sites/{hostname}:/{server-relative-path}` for `https://contoso.sharepoint.com/sites/Team`. */
export function siteLookupUrl(apiUrl: string, siteUrl: string): string {
  const u = new URL(siteUrl);
  const path = u.pathname.replace(/\/+$/, '');
  return `${apiUrl}/sites/${u.hostname}:${path
    .split('/')
    .map((s) => encodeURIComponent(decodeURIComponent(s)))
    .join('/')}`;
}

export async function readJson<T>(res: HttpResponse, op: string, signal?: AbortSignal): Promise<T> {
  try {
    return (await res.body.json()) as T;
  } catch (err) {
    const mapped = toConnectorError(err, op, signal);
    if (mapped instanceof ConnectorError && mapped.kind === 'transient' && !(err as { code?: unknown }).code) {
      throw new ConnectorError('transient', `${op}: Graph's answer is not JSON`);
    }
    throw mapped;
  }
}
