/**
 * What goes over the wire to and from Jottacloud, and the parsing of it. No I/O and no policy
 * here: index.ts decides what a parsed document means for the connector contract.
 * Section numbers refer to shared/specs/jottacloud-api.md.
 */
import { child, childrenNamed, childText, parseXml, XmlError, type XmlElement } from '../shared/xml.js';

// ---- JSON: auth (§2) ----

/** §2.1: the decoded Personal Login Token. */
export interface LoginTokenJson {
  username: string;
  realm: string;
  well_known_link: string;
  auth_token: string;
}

/** §2.2: rclone reads only `token_endpoint` in the standard flow. */
export interface WellKnownJson {
  token_endpoint?: string;
  issuer?: string;
  [key: string]: unknown;
}

/** §9.1: RFC 6749 error body of the token endpoint. */
export interface OAuthErrorJson {
  error?: string;
  error_description?: string;
}

/** §2.8 (only the fields the connector reads). */
export interface CustomerJson {
  username?: string;
  usage?: number;
  quota?: number;
  write_locked?: boolean;
  read_locked?: boolean;
}

// ---- JSON: api.jottacloud.com (§7, §9.1) ----

/** §7.1: fields in rclone's order. `path` is `/jfs/<device>/<mountpoint>/<path>`, unescaped (§3). */
export interface AllocateRequestJson {
  bytes: number;
  created: string;
  md5: string;
  modified: string;
  path: string;
}

/** §7.1 */
export interface AllocateResponseJson {
  name?: string;
  path?: string;
  state?: 'COMPLETED' | 'INCOMPLETE' | 'CORRUPT' | string;
  upload_id?: string;
  upload_url?: string;
  bytes?: number;
  resume_pos?: number;
}

/** §7.2: `modified` is Unix milliseconds. */
export interface UploadResponseJson {
  path?: string;
  content_id?: string;
  bytes?: number;
  md5?: string;
  modified?: number;
}

/** §9.1: `{"code","message","cause","error_id","x-id"}`; `code` is not always an HTTP status. */
export interface ApiErrorJson {
  code?: number;
  message?: string;
  cause?: string;
  error_id?: string;
  'x-id'?: string;
}

// ---- time (§8) ----

/**
 * JFS XML and `J*` header time, Go layout `2006-01-02-T15:04:05Z0700`: `YYYY-MM-DD-Thh:mm:ss` then
 * `Z` or `+hhmm` (§8). Empty means zero time (rclone `types_test.go`), returned as 0. Undefined when
 * malformed. `+hh:mm` and plain RFC 3339 are accepted too, being unambiguous.
 */
export function parseJottaTime(s: string | undefined): number | undefined {
  const v = s?.trim();
  if (!v) return 0;
  const m = /^(\d{4}-\d{2}-\d{2})-?T(\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:?\d{2})$/.exec(v);
  if (!m) return undefined;
  const zone = m[3] === 'Z' ? 'Z' : `${m[3].slice(0, 3)}:${m[3].slice(-2)}`;
  const ms = Date.parse(`${m[1]}T${m[2]}${zone}`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The same format for `JCreated`/`JModified` headers (cphash, §5), always UTC. */
export function formatJottaTime(ms: number): string {
  const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString();
  return `${iso.slice(0, 10)}-T${iso.slice(11, 19)}Z`;
}

/**
 * Allocate `created`/`modified`: RFC 3339 with seconds precision, as rclone sends them (§7.1, §8).
 * Truncated, not rounded: rclone truncates modtimes to the second (commit fc87735f8).
 */
export function formatAllocateTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

// ---- JFS XML (§4.2, §5, §9.1, §10) ----

/** §4.2: COMPLETED, INCOMPLETE, CORRUPT; jottalib also names ADDED and PROCESSING. */
export type RevisionState = 'COMPLETED' | 'INCOMPLETE' | 'CORRUPT' | 'ADDED' | 'PROCESSING' | string;

export interface JfsRevision {
  number: number;
  state: RevisionState;
  /** ms; 0 for an empty time. */
  created: number;
  modified: number;
  updated: number;
  /** Absent on CORRUPT revisions and on INCOMPLETE ones in folder listings (§4.2). */
  size?: number;
  /** Lower-case hex (§4.2: some 2017 responses were upper case). */
  md5: string;
  mime?: string;
}

export interface JfsFile {
  name: string;
  uuid?: string;
  /** §4.3: the `deleted` attribute's presence is all that matters. */
  deleted: boolean;
  currentRevision?: JfsRevision;
  latestRevision?: JfsRevision;
  /** Older revisions, on a stat only (§5). */
  revisions: JfsRevision[];
}

export interface JfsFolderChild {
  name: string;
  deleted: boolean;
  /** ms, when the server sent `<modified>` (§4.2: usually only the name). */
  modified?: number;
}

export interface JfsFolder {
  kind: 'folder' | 'mountPoint';
  name: string;
  deleted: boolean;
  modified?: number;
  folders: JfsFolderChild[];
  files: JfsFile[];
}

export type JfsNode = { kind: 'file'; file: JfsFile } | JfsFolder;

/** §9.1: `<error><code>…</code><message>…</message><reason>…</reason>…</error>`. */
export interface JfsErrorXml {
  code: number;
  message: string;
  reason: string;
  /** The Java exception class at the start of `message`, e.g. `no.jotta.backup.errors.NoSuchFileException`. */
  exception?: string;
}

/** §10: the `<user>` document. */
export interface JfsUser {
  username: string;
  accountType?: string;
  /** Bytes; -1 means unlimited. */
  capacity: number;
  usage: number;
  writeLocked: boolean;
}

export class WireError extends Error {
  override name = 'WireError';
}

function num(s: string | undefined, what: string): number {
  const v = s?.trim();
  if (!v || !/^-?\d+$/.test(v)) throw new WireError(`${what} is not an integer: ${JSON.stringify(s)}`);
  return Number(v);
}

function optNum(s: string | undefined, what: string): number | undefined {
  return s === undefined || s.trim() === '' ? undefined : num(s, what);
}

function time(s: string | undefined, what: string): number {
  const t = parseJottaTime(s);
  if (t === undefined) throw new WireError(`${what} is not a Jottacloud time: ${JSON.stringify(s)}`);
  return t;
}

function parseRevision(el: XmlElement): JfsRevision {
  return {
    number: optNum(childText(el, 'number'), 'revision number') ?? 0,
    state: (childText(el, 'state') ?? '').trim(),
    created: time(childText(el, 'created'), 'revision created'),
    modified: time(childText(el, 'modified'), 'revision modified'),
    updated: time(childText(el, 'updated'), 'revision updated'),
    size: optNum(childText(el, 'size'), 'revision size'),
    md5: (childText(el, 'md5') ?? '').trim().toLowerCase(),
    mime: childText(el, 'mime')?.trim(),
  };
}

function parseFile(el: XmlElement): JfsFile {
  const cur = child(el, 'currentRevision');
  const latest = child(el, 'latestRevision');
  return {
    name: el.attrs.name ?? '',
    uuid: el.attrs.uuid,
    deleted: 'deleted' in el.attrs,
    currentRevision: cur ? parseRevision(cur) : undefined,
    latestRevision: latest ? parseRevision(latest) : undefined,
    revisions: childrenNamed(child(el, 'revisions'), 'revision').map(parseRevision),
  };
}

function parseFolder(el: XmlElement): JfsFolder {
  const kind = el.local === 'mountPoint' ? 'mountPoint' : 'folder';
  const modified = childText(el, 'modified');
  return {
    kind,
    // A mountPoint carries its name as a child element, a folder as an attribute (§4.2).
    name: kind === 'mountPoint' ? (childText(el, 'name') ?? '') : (el.attrs.name ?? ''),
    deleted: 'deleted' in el.attrs,
    modified: modified === undefined || modified.trim() === '' ? undefined : time(modified, 'modified'),
    folders: childrenNamed(child(el, 'folders'), 'folder').map((f) => {
      const m = childText(f, 'modified');
      return {
        name: f.attrs.name ?? '',
        deleted: 'deleted' in f.attrs,
        modified: m === undefined || m.trim() === '' ? undefined : time(m, 'folder modified'),
      };
    }),
    files: childrenNamed(child(el, 'files'), 'file').map(parseFile),
  };
}

function parseDoc(doc: string | Uint8Array, what: string): XmlElement {
  try {
    return parseXml(doc);
  } catch (err) {
    if (err instanceof XmlError) throw new WireError(`${what}: ${err.message}`);
    throw err;
  }
}

/** A stat or listing reply (§4.2, §5): `<file>`, `<folder>` or `<mountPoint>`. */
export function parseJfsNode(doc: string | Uint8Array): JfsNode {
  const root = parseDoc(doc, 'JFS reply');
  if (root.local === 'file') return { kind: 'file', file: parseFile(root) };
  if (root.local === 'folder' || root.local === 'mountPoint') return parseFolder(root);
  throw new WireError(`unexpected JFS reply <${root.local}>`);
}

/** §9.1; undefined when the body is not an `<error>` document. */
export function parseJfsError(doc: string): JfsErrorXml | undefined {
  if (!doc.trimStart().startsWith('<')) return undefined;
  let root: XmlElement;
  try {
    root = parseXml(doc);
  } catch {
    return undefined;
  }
  if (root.local !== 'error') return undefined;
  const message = (childText(root, 'message') ?? '').trim();
  const m = /^([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+)(?::|$)/.exec(message);
  return {
    code: Number((childText(root, 'code') ?? '').trim()) || 0,
    message,
    reason: (childText(root, 'reason') ?? '').trim(),
    exception: m?.[1],
  };
}

/** §9.1 JSON errors of api.jottacloud.com and the upload URL, and §9.1 OAuth errors. */
export function parseJsonError(body: string): (ApiErrorJson & OAuthErrorJson) | undefined {
  try {
    const v: unknown = JSON.parse(body);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as ApiErrorJson & OAuthErrorJson) : undefined;
  } catch {
    return undefined;
  }
}

/** §10: `GET /jfs/<user>`. */
export function parseJfsUser(doc: string | Uint8Array): JfsUser {
  const root = parseDoc(doc, 'JFS account reply');
  if (root.local !== 'user') throw new WireError(`unexpected JFS account reply <${root.local}>`);
  return {
    username: (childText(root, 'username') ?? '').trim(),
    accountType: childText(root, 'account-type')?.trim(),
    capacity: num(childText(root, 'capacity'), 'capacity'),
    usage: num(childText(root, 'usage'), 'usage'),
    writeLocked: (childText(root, 'write-locked') ?? '').trim() === 'true',
  };
}

/**
 * §4.3 `validFile`: a file is listed only when its current revision is COMPLETED and it has no
 * `deleted` attribute. A file whose only revision is INCOMPLETE or CORRUPT (a `latestRevision`
 * without a `currentRevision`) is invisible; one with a COMPLETED current revision and a newer
 * INCOMPLETE/CORRUPT latest one shows the current (old) content.
 */
export function isVisibleFile(f: JfsFile): f is JfsFile & { currentRevision: JfsRevision } {
  return !f.deleted && f.currentRevision?.state === 'COMPLETED';
}

// ---- mode=liststream (§4.4) ----

export type ListStreamItem =
  | { kind: 'folder'; path: string }
  | { kind: 'file'; parentPath: string; name: string; md5: string; size: number; modified: number; created?: number };

/** §4.4: `<folder><path>…</path></folder>`, `<file><path>parent</path><filename>…` and the `<stats>` trailer. */
export function parseListStreamChild(el: XmlElement): ListStreamItem | { kind: 'stats'; folders: number; files: number } | undefined {
  if (el.local === 'folder') return { kind: 'folder', path: childText(el, 'path') ?? '' };
  if (el.local === 'file') {
    const modified = childText(el, 'modified')?.trim();
    const created = childText(el, 'created')?.trim();
    // §8: liststream times are RFC 3339 with milliseconds.
    const mod = modified ? Date.parse(modified) : 0;
    if (Number.isNaN(mod)) throw new WireError(`liststream: modified is not a time: ${JSON.stringify(modified)}`);
    const cre = created ? Date.parse(created) : undefined;
    return {
      kind: 'file',
      parentPath: childText(el, 'path') ?? '',
      name: childText(el, 'filename') ?? '',
      md5: (childText(el, 'md5') ?? '').trim().toLowerCase(),
      size: num(childText(el, 'size'), 'liststream size'),
      modified: mod,
      created: cre === undefined || Number.isNaN(cre) ? undefined : cre,
    };
  }
  if (el.local === 'stats') {
    return { kind: 'stats', folders: num(childText(el, 'folders'), 'stats folders'), files: num(childText(el, 'files'), 'stats files') };
  }
  return undefined;
}
