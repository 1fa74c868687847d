/**
 * Signed S3 requests: SigV4 by `aws4`, sent by the shared HttpClient (pacer, status table,
 * private-network guard). Bodies are never hashed for the signature (`UNSIGNED-PAYLOAD`, as
 * streamed uploads need); Content-MD5 guards the bytes instead where the connector has them.
 * Nothing here reads AWS_* environment variables (AWS_CA_BUNDLE among them): the endpoint, keys
 * and trust come from the remote's settings only.
 */
import aws4 from 'aws4';
import type { Readable } from 'node:stream';
import { ConnectorError } from '../errors.js';
import type { HttpClient, HttpMethod, HttpResponse } from '../shared/http.js';
import { toConnectorError } from '../shared/http.js';
import type { CredentialStore } from '../types.js';

export interface S3Keys {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface S3Location {
  endpoint: URL;
  region: string;
  bucket: string;
  pathStyle: boolean;
}

export interface S3Request {
  method: HttpMethod;
  /** Object key, or null for the bucket itself. */
  key: string | null;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string | Buffer | Readable | null;
  op: string;
  accept?: readonly number[];
  signal?: AbortSignal;
  idempotent?: boolean;
  /** Uploads: no head timeout while the body is still being sent. */
  headersTimeoutMs?: number;
}

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters. */
export function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeRfc3986).join('/');
}

export class S3Client {
  private keys: Promise<S3Keys> | undefined;

  constructor(
    readonly http: HttpClient,
    readonly loc: S3Location,
    private readonly accessKeyId: string | undefined,
    private readonly credentials: CredentialStore,
  ) {}

  private async keysOnce(): Promise<S3Keys> {
    this.keys ??= this.credentials.read().then((c) => {
      const accessKeyId = typeof c.accessKeyId === 'string' ? c.accessKeyId : this.accessKeyId;
      const secretAccessKey = c.secretAccessKey;
      if (!accessKeyId || typeof secretAccessKey !== 'string' || !secretAccessKey) {
        throw new ConnectorError('auth', 'the remote has no S3 access key id and secret access key: set them on the remote');
      }
      return { accessKeyId, secretAccessKey };
    });
    return this.keys.catch((err: unknown) => {
      this.keys = undefined;
      throw err;
    });
  }

  /** The host and path (query included, unencoded keys sorted) of a request. */
  target(key: string | null, query: Record<string, string> = {}): { host: string; path: string } {
    const { endpoint, bucket, pathStyle } = this.loc;
    const base = endpoint.pathname.replace(/\/+$/, '');
    const keyPath = key === null ? '' : `/${encodeKeyPath(key)}`;
    const host = pathStyle ? endpoint.host : `${bucket}.${endpoint.host}`;
    const path = pathStyle ? `${base}/${encodeRfc3986(bucket)}${keyPath}` : `${base}${keyPath || '/'}`;
    const qs = Object.keys(query).sort().map((k) => (query[k] === '' ? encodeRfc3986(k) : `${encodeRfc3986(k)}=${encodeRfc3986(query[k])}`)).join('&');
    return { host, path: qs ? `${path}?${qs}` : path };
  }

  async send(req: S3Request): Promise<HttpResponse> {
    const keys = await this.keysOnce();
    const { host, path } = this.target(req.key, req.query);
    const signed = aws4.sign(
      {
        host,
        path,
        method: req.method,
        service: 's3',
        region: this.loc.region,
        headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...req.headers },
      },
      keys,
    );
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(signed.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = String(v);
    return this.http.request({
      method: req.method,
      url: `${this.loc.endpoint.protocol}//${host}${signed.path}`,
      headers,
      body: req.body ?? null,
      op: req.op,
      accept: req.accept,
      signal: req.signal,
      idempotent: req.idempotent,
      headersTimeoutMs: req.headersTimeoutMs,
    });
  }

  /** Sends and reads the whole (small, XML) answer. */
  async text(req: S3Request): Promise<{ status: number; headers: HttpResponse['headers']; text: string }> {
    const res = await this.send(req);
    try {
      return { status: res.status, headers: res.headers, text: await res.body.text() };
    } catch (err) {
      throw toConnectorError(err, req.op, req.signal);
    }
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
