/**
 * WebDAV on the wire: PROPFIND bodies and the reading of one `<response>` of a 207 multistatus
 * (RFC 4918 §14), apart from any logic. Elements are matched by local name (xml.ts), so `D:`,
 * `d:` and `lp1:` prefixes all read the same.
 */
import type { Hashes } from '../../core/entry.js';
import { child, childrenNamed, type XmlElement } from '../shared/xml.js';
import { isByteCount } from '../shared/streams.js';

export const OC_NS = 'http://owncloud.org/ns';
export const ME_NS = 'http://messagingengine.com/ns/';

export class DavWireError extends Error {
  override name = 'DavWireError';
}

/** A PROPFIND body asking for what a listing needs, plus the vendor's checksum property. */
export function propfindBody(checksums: 'oc' | 'me' | null): string {
  const extra = checksums === 'oc' ? '<oc:checksums/><oc:fileid/>' : checksums === 'me' ? '<me:sha1hex/>' : '';
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    `<d:propfind xmlns:d="DAV:" xmlns:oc="${OC_NS}" xmlns:me="${ME_NS}"><d:prop>` +
    '<d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getetag/>' +
    extra +
    '</d:prop></d:propfind>'
  );
}

export const quotaBody =
  '<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:quota-available-bytes/><d:quota-used-bytes/></d:prop></d:propfind>';

/** One `<response>` as the connector needs it. */
export interface DavItem {
  /** The href's path, percent-decoded, as segments (no empty ones). */
  segments: string[];
  isDir: boolean;
  size: number;
  mtimeMs: number;
  etag?: string;
  hashes: Hashes;
  quotaAvailable?: number;
  quotaUsed?: number;
}

const STATUS_2XX = /^HTTP\/[\d.]+\s+2\d\d/;

/** The props of every `<propstat>` whose status is 2xx (a 404 propstat lists the props the server lacks). */
function goodProps(response: XmlElement): XmlElement[] {
  const props: XmlElement[] = [];
  for (const ps of childrenNamed(response, 'propstat')) {
    const status = child(ps, 'status')?.text.trim() ?? '';
    if (status && !STATUS_2XX.test(status)) continue;
    const prop = child(ps, 'prop');
    if (prop) props.push(...prop.children);
  }
  return props;
}

/** A `<response>` of a PROPFIND; `base` is the URL asked, against which a relative href resolves. */
export function parseResponse(response: XmlElement, base: URL): DavItem | null {
  const href = child(response, 'href')?.text.trim();
  if (!href) throw new DavWireError('a <response> without <href>');
  // A response-level status (not in a propstat) other than 2xx: the member cannot be read.
  const status = child(response, 'status')?.text.trim();
  if (status && !STATUS_2XX.test(status)) return null;
  const segments = hrefSegments(href, base);
  const item: DavItem = { segments, isDir: false, size: 0, mtimeMs: 0, hashes: {} };
  for (const p of goodProps(response)) {
    switch (p.local) {
      case 'resourcetype':
        item.isDir = p.children.some((c) => c.local === 'collection');
        break;
      case 'getcontentlength': {
        const n = Number(p.text.trim());
        if (p.text.trim() !== '' && isByteCount(n)) item.size = n;
        break;
      }
      case 'getlastmodified':
        item.mtimeMs = parseHttpDate(p.text.trim());
        break;
      case 'getetag':
        item.etag = p.text.trim();
        break;
      case 'checksums':
        Object.assign(item.hashes, parseOcChecksums(p.children.map((c) => c.text).join(' ') || p.text));
        break;
      case 'sha1hex': {
        const v = p.text.trim().toLowerCase();
        if (/^[0-9a-f]{40}$/.test(v)) item.hashes.sha1 = v;
        break;
      }
      case 'quota-available-bytes':
        item.quotaAvailable = numberOr(p.text);
        break;
      case 'quota-used-bytes':
        item.quotaUsed = numberOr(p.text);
        break;
    }
  }
  if (item.isDir) item.size = 0;
  return item;
}

function numberOr(text: string): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** `SHA1:<hex> MD5:<hex> ADLER32:<hex>` (rclone api/types.go Hashes). */
export function parseOcChecksums(text: string): Hashes {
  const out: Hashes = {};
  for (const word of text.split(/\s+/)) {
    const [type, value] = word.split(':', 2);
    const v = value?.toLowerCase();
    if (!type || !v) continue;
    if (type.toUpperCase() === 'SHA1' && /^[0-9a-f]{40}$/.test(v)) out.sha1 = v;
    else if (type.toUpperCase() === 'MD5' && /^[0-9a-f]{32}$/.test(v)) out.md5 = v;
  }
  return out;
}

/**
 * An href as decoded path segments: absolute URLs, absolute paths and relative references all
 * resolve against the URL asked; each segment is percent-decoded on its own, so an encoded `/`
 * (`%2F`) could never split a name. A trailing slash (folders) leaves no empty segment.
 */
export function hrefSegments(href: string, base: URL): string[] {
  let url: URL;
  try {
    url = new URL(href, base);
  } catch {
    throw new DavWireError(`the href ${JSON.stringify(href.slice(0, 200))} is not a URL`);
  }
  return pathSegments(url.pathname);
}

/** A URL path (still percent-encoded) as decoded segments. */
export function pathSegments(pathname: string): string[] {
  const out: string[] = [];
  for (const raw of pathname.split('/')) {
    if (raw === '') continue;
    try {
      out.push(decodeURIComponent(raw));
    } catch {
      throw new DavWireError(`the path segment ${JSON.stringify(raw.slice(0, 200))} is not valid percent-encoded UTF-8`);
    }
  }
  return out;
}

/** `getlastmodified` is an RFC 1123 date (rclone also meets RFC 850, asctime and ISO forms); 0 when unreadable. */
export function parseHttpDate(text: string): number {
  if (!text) return 0;
  const t = Date.parse(text);
  return Number.isNaN(t) ? 0 : t;
}

/** One path segment as it goes into a URL: every byte that is not unreserved is percent-encoded. */
export function encodeSegment(name: string): string {
  return encodeURIComponent(name).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
