/**
 * The WebDAV server as the connector talks to it: URLs of remote paths (every segment encoded by
 * the name encoder, then percent-encoded), the auth header, and the requests every operation is
 * made of (PROPFIND streamed through XmlStream, MKCOL, MOVE/COPY with a full `Destination`).
 */
import { ConnectorError } from '../errors.js';
import { HttpClient, toConnectorError, type HttpRequest, type HttpResponse } from '../shared/http.js';
import type { NameEncoder } from '../shared/encoder.js';
import { XmlError, XmlStream } from '../shared/xml.js';
import type { VendorPreset } from './vendors.js';
import { DavWireError, encodeSegment, parseResponse, pathSegments, propfindBody, type DavItem } from './wire.js';

/** The secrets of a remote, read once from its credential store. */
export interface DavSecrets {
  password?: string;
  bearerToken?: string;
}

export type DavRequest = Omit<HttpRequest, 'url'> & { url: URL };

export class DavClient {
  readonly rootUrl: URL;
  /** The root's path, decoded, as segments: what every href must start with. */
  readonly rootSegments: string[];
  /** `…/remote.php/dav/uploads/<user>/` for Nextcloud/ownCloud chunked uploads, when the URL has the files form. */
  readonly uploadsUrl: URL | null;
  private authHeader: Promise<string | undefined> | undefined;
  private readonly listBody: string;

  constructor(
    readonly http: HttpClient,
    url: string,
    private readonly user: string,
    private readonly secrets: () => Promise<DavSecrets>,
    readonly names: NameEncoder,
    readonly preset: VendorPreset,
  ) {
    this.rootUrl = new URL(url.endsWith('/') ? url : `${url}/`);
    this.rootUrl.search = '';
    this.rootUrl.hash = '';
    this.rootSegments = pathSegments(this.rootUrl.pathname);
    this.uploadsUrl = uploadsUrlOf(this.rootUrl);
    this.listBody = propfindBody(preset.checksumProp);
  }

  /** The URL of a remote path: `dir` adds the trailing slash collections answer to. */
  url(rel: string, dir = false): URL {
    if (rel === '') return new URL(this.rootUrl);
    const encoded = rel.split('/').map((s) => encodeSegment(this.names.encode(s))).join('/');
    return new URL(`${encoded}${dir ? '/' : ''}`, this.rootUrl);
  }

  async request(req: DavRequest): Promise<HttpResponse> {
    const headers = { ...req.headers };
    const auth = await (this.authHeader ??= this.makeAuthHeader().catch((err: unknown) => {
      this.authHeader = undefined;
      throw err;
    }));
    if (auth) headers.authorization = auth;
    return this.http.request({ ...req, headers });
  }

  /**
   * PROPFIND of `url` at `depth` (never infinity: servers refuse it): the `<response>`s parsed as
   * the body streams, handed out after each network chunk, so memory stays flat however long the
   * folder. 404 is not_found through the status table.
   */
  async *propfind(url: URL, depth: 0 | 1, op: string, signal?: AbortSignal, body = this.listBody): AsyncGenerator<DavItem[]> {
    const res = await this.request({
      method: 'PROPFIND',
      url,
      op,
      signal,
      idempotent: true,
      headers: { depth: String(depth), 'content-type': 'application/xml; charset=utf-8' },
      body,
    });
    if (res.status !== 207) {
      await res.body.dump().catch(() => {});
      throw new ConnectorError('unsupported', `${op}: the server answered PROPFIND with HTTP ${res.status}, not 207 Multi-Status: is the url a WebDAV folder?`, { status: res.status });
    }
    let batch: DavItem[] = [];
    let failure: unknown;
    const parser = new XmlStream({
      select: ['multistatus', 'response'],
      onElement: (el) => {
        if (failure) return;
        try {
          const item = parseResponse(el, url);
          if (item) batch.push(item);
        } catch (err) {
          failure = err;
        }
      },
    });
    try {
      for await (const chunk of res.body) {
        parser.write(chunk as Buffer);
        if (failure) throw failure;
        if (batch.length > 0) {
          const out = batch;
          batch = [];
          yield out;
        }
      }
      parser.end();
      if (failure) throw failure;
    } catch (err) {
      if (err instanceof XmlError || err instanceof DavWireError) throw new ConnectorError('transient', `${op}: the server's multistatus answer is malformed: ${err.message}`);
      throw toConnectorError(err, op, signal);
    } finally {
      if (!res.body.destroyed) res.body.destroy();
    }
    if (batch.length > 0) yield batch;
  }

  /** Basic with the user and password, or Bearer with a token; none for an open server. */
  private async makeAuthHeader(): Promise<string | undefined> {
    const { password, bearerToken } = await this.secrets();
    if (bearerToken) return `Bearer ${bearerToken}`;
    if (password !== undefined) return `Basic ${Buffer.from(`${this.user}:${password}`).toString('base64')}`;
    return undefined;
  }

  /** The one `<response>` of a depth-0 PROPFIND. */
  async propfindOne(url: URL, op: string, signal?: AbortSignal, body?: string): Promise<DavItem> {
    let found: DavItem | undefined;
    for await (const items of this.propfind(url, 0, op, signal, body)) found ??= items[0];
    if (!found) throw new ConnectorError('not_found', `${op}: the server listed nothing`);
    return found;
  }

  /** Segments of an item below the root, or null when its href lies outside the root. */
  relativeSegments(item: DavItem): string[] | null {
    const r = this.rootSegments;
    if (item.segments.length < r.length) return null;
    for (let i = 0; i < r.length; i++) if (item.segments[i] !== r[i]) return null;
    return item.segments.slice(r.length);
  }
}

/** rclone chunking.go: `^(.*)/dav/files/([^/]+)` gives the uploads collection of the same user. */
export function uploadsUrlOf(root: URL): URL | null {
  const m = /^(.*\/dav)\/files\/([^/]+)(\/|$)/.exec(root.pathname);
  if (!m) return null;
  return new URL(`${m[1]}/uploads/${m[2]}/`, root);
}
