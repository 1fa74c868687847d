/**
 * S3's XML answers and metadata headers as plain values, apart from the connector's logic.
 * rclone's conventions for what it keeps besides the bytes (backend/s3): the modification time in
 * `X-Amz-Meta-Mtime` as seconds with a fraction ("1600000000.123", swift.TimeToFloatString: no
 * exponent, trailing zeros dropped) and the source's MD5 in `X-Amz-Meta-Md5chksum` as base64 of
 * the 16 bytes, so either tool reads what the other wrote.
 */
import { childText, childrenNamed, parseXml, XmlError, type XmlElement } from '../shared/xml.js';
import { headerValue, type HttpHeaders } from '../shared/http.js';

export const META_MTIME = 'x-amz-meta-mtime';
export const META_MD5 = 'x-amz-meta-md5chksum';

export class S3WireError extends Error {
  override name = 'S3WireError';
}

/** The `<Error>` of a failed answer, or undefined when the body is not one. */
export function parseS3Error(text: string): { code: string; message: string } | undefined {
  if (!text.includes('<Error')) return undefined;
  try {
    const root = parseXml(text);
    if (root.local !== 'Error') return undefined;
    return { code: childText(root, 'Code') ?? '', message: childText(root, 'Message') ?? '' };
  } catch {
    return undefined;
  }
}

/** Milliseconds as rclone's float seconds string. */
export function formatMtime(ms: number): string {
  const whole = Math.round(ms);
  const sec = Math.floor(whole / 1000);
  const frac = whole - sec * 1000;
  return frac === 0 ? String(sec) : `${sec}.${String(frac).padStart(3, '0').replace(/0+$/, '')}`;
}

/** rclone's float seconds (up to nanoseconds) as milliseconds, exactly (no float rounding); undefined when malformed. */
export function parseMtime(value: string | undefined): number | undefined {
  const m = value?.trim().match(/^(-?)(\d+)(?:\.(\d*))?$/);
  if (!m) return undefined;
  const ms = Number(m[2]) * 1000 + Number((m[3] ?? '').padEnd(3, '0').slice(0, 3));
  return Number.isSafeInteger(ms) ? (m[1] ? -ms : ms) : undefined;
}

export function md5HexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/** The hex MD5 in base64 form, or undefined when it is not 16 bytes. */
export function md5Base64ToHex(b64: string | undefined): string | undefined {
  if (!b64 || !/^[A-Za-z0-9+/]{22}==$/.test(b64.trim())) return undefined;
  return Buffer.from(b64.trim(), 'base64').toString('hex');
}

/** The MD5 an ETag stands for: a single-part upload's ETag is its body's MD5; a multipart one (`…-N`) is not. */
export function md5OfEtag(etag: string | undefined): string | undefined {
  const m = etag?.match(/^"?([0-9a-fA-F]{32})"?$/);
  return m ? m[1].toLowerCase() : undefined;
}

/** What HEAD says of an object. */
export interface ObjectHead {
  size: number;
  etag: string;
  lastModifiedMs: number;
  /** From x-amz-meta-mtime, when it is there and well-formed. */
  mtimeMs?: number;
  md5?: string;
  sha256?: string;
  /** Every x-amz-meta-* header, for a multipart copy that must carry them over. */
  meta: Record<string, string>;
  contentType?: string;
}

export function parseHead(headers: HttpHeaders): ObjectHead {
  const etag = headerValue(headers, 'etag') ?? '';
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase().startsWith('x-amz-meta-') && v !== undefined) meta[k.toLowerCase()] = Array.isArray(v) ? v[0] : v;
  }
  const lm = Date.parse(headerValue(headers, 'last-modified') ?? '');
  const sha = headerValue(headers, 'x-amz-checksum-sha256');
  const fullObject = (headerValue(headers, 'x-amz-checksum-type') ?? 'FULL_OBJECT') === 'FULL_OBJECT';
  return {
    size: Number(headerValue(headers, 'content-length') ?? 0),
    etag,
    lastModifiedMs: Number.isNaN(lm) ? 0 : lm,
    mtimeMs: parseMtime(meta[META_MTIME]),
    md5: md5OfEtag(etag) ?? md5Base64ToHex(meta[META_MD5]),
    sha256: sha && fullObject && /^[A-Za-z0-9+/]{43}=$/.test(sha) ? Buffer.from(sha, 'base64').toString('hex') : undefined,
    meta,
    contentType: headerValue(headers, 'content-type'),
  };
}

/** One `<Contents>` of a listing. */
export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModifiedMs: number;
}

/** What a ListObjectsV2 page holds besides its objects and prefixes. */
export interface ListPageInfo {
  truncated: boolean;
  nextToken?: string;
  urlEncoded: boolean;
}

/** `encoding-type=url` keys: rclone decodes them with url.QueryUnescape ('+' is a space). */
export function decodeListedKey(raw: string, urlEncoded: boolean): string {
  if (!urlEncoded) return raw;
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    throw new S3WireError(`a listed key is not valid URL encoding: ${JSON.stringify(raw.slice(0, 200))}`);
  }
}

/** Handles one child of `<ListBucketResult>`; the page info comes from the root at the end. */
export function listChild(el: XmlElement, onObject: (o: Omit<ListedObject, 'key'> & { rawKey: string }) => void, onPrefix: (rawPrefix: string) => void, info: Partial<ListPageInfo>): void {
  switch (el.local) {
    case 'Contents': {
      const rawKey = childText(el, 'Key');
      if (rawKey === undefined) throw new S3WireError('a <Contents> has no <Key>');
      const lm = Date.parse(childText(el, 'LastModified') ?? '');
      onObject({ rawKey, size: Number(childText(el, 'Size') ?? 0), etag: childText(el, 'ETag') ?? '', lastModifiedMs: Number.isNaN(lm) ? 0 : lm });
      return;
    }
    case 'CommonPrefixes': {
      const p = childText(el, 'Prefix');
      if (p !== undefined) onPrefix(p);
      return;
    }
    case 'IsTruncated':
      info.truncated = el.text.trim() === 'true';
      return;
    case 'NextContinuationToken':
      info.nextToken = el.text;
      return;
    case 'EncodingType':
      info.urlEncoded = el.text.trim() === 'url';
      return;
    default:
  }
}

export function uploadIdOf(text: string): string {
  const id = childText(parseOrWire(text, 'InitiateMultipartUploadResult'), 'UploadId');
  if (!id) throw new S3WireError('CreateMultipartUpload answered without an UploadId');
  return id;
}

export interface ListedPart {
  partNumber: number;
  etag: string;
  size: number;
}

export function parseListParts(text: string): { parts: ListedPart[]; truncated: boolean; nextMarker?: string } {
  const root = parseOrWire(text, 'ListPartsResult');
  const parts = childrenNamed(root, 'Part').map((p) => ({
    partNumber: Number(childText(p, 'PartNumber')),
    etag: childText(p, 'ETag') ?? '',
    size: Number(childText(p, 'Size') ?? -1),
  }));
  return { parts, truncated: childText(root, 'IsTruncated')?.trim() === 'true', nextMarker: childText(root, 'NextPartNumberMarker') };
}

export function parseListUploads(text: string): { uploads: { key: string; uploadId: string }[]; truncated: boolean; nextKey?: string; nextUploadId?: string } {
  const root = parseOrWire(text, 'ListMultipartUploadsResult');
  const urlEncoded = childText(root, 'EncodingType')?.trim() === 'url';
  return {
    uploads: childrenNamed(root, 'Upload').map((u) => ({ key: decodeListedKey(childText(u, 'Key') ?? '', urlEncoded), uploadId: childText(u, 'UploadId') ?? '' })),
    truncated: childText(root, 'IsTruncated')?.trim() === 'true',
    nextKey: childText(root, 'NextKeyMarker'),
    nextUploadId: childText(root, 'NextUploadIdMarker'),
  };
}

/** CopyObject / UploadPartCopy / CompleteMultipartUpload answer 200 and may still carry an `<Error>`. */
export function etagOfResult(text: string, rootName: string): string {
  const root = parseOrWire(text, rootName);
  return childText(root, 'ETag') ?? '';
}

/** The keys DeleteObjects could not delete, with their code. */
export function deleteErrors(text: string): { key: string; code: string; message: string }[] {
  const root = parseOrWire(text, 'DeleteResult');
  return childrenNamed(root, 'Error').map((e) => ({ key: childText(e, 'Key') ?? '', code: childText(e, 'Code') ?? '', message: childText(e, 'Message') ?? '' }));
}

export function deleteObjectsBody(keys: readonly string[]): string {
  const items = keys.map((k) => `<Object><Key>${escapeXml(k)}</Key></Object>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet>${items}</Delete>`;
}

export function completeBody(parts: readonly { partNumber: number; etag: string }[]): string {
  const items = parts.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXml(p.etag)}</ETag></Part>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload>${items}</CompleteMultipartUpload>`;
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function parseOrWire(text: string, rootName: string): XmlElement {
  let root: XmlElement;
  try {
    root = parseXml(text);
  } catch (err) {
    if (err instanceof XmlError) throw new S3WireError(`the answer is not XML: ${err.message}`);
    throw err;
  }
  if (root.local !== rootName) throw new S3WireError(`expected <${rootName}>, got <${root.local}>`);
  return root;
}

