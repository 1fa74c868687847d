/**
 * The emulator's side of Dropbox's wire format: metadata objects, tagged errors with their
 * `error_summary`, cursors, and the ASCII-only JSON of the `Dropbox-API-Arg`/`-Result` headers.
 */
import type { ServerResponse } from 'node:http';
import type { DbxNode } from './store.js';
import { DbxFault } from './store.js';

/** A request the API refuses before looking at it: 400 with a plain-text reason, as Dropbox does. */
export class BadInput extends Error {}

/** The connection was cut on purpose: nothing is answered. */
export class Cut extends Error {}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function metadataOf(n: DbxNode): Record<string, unknown> {
  if (n.isDir) return { '.tag': 'folder', name: n.name, id: n.id, path_lower: n.pathLower, path_display: n.pathDisplay };
  return {
    '.tag': 'file',
    name: n.name,
    id: n.id,
    client_modified: iso(n.clientModified),
    server_modified: iso(n.serverModified),
    rev: n.rev,
    size: n.size,
    path_lower: n.pathLower,
    path_display: n.pathDisplay,
    is_downloadable: n.downloadable,
    content_hash: n.contentHash,
  };
}

export function deletedOf(pathLower: string, pathDisplay: string): Record<string, unknown> {
  return { '.tag': 'deleted', name: pathDisplay.slice(pathDisplay.lastIndexOf('/') + 1), path_lower: pathLower, path_display: pathDisplay };
}

/** `['lookup_failed', 'incorrect_offset']` + `{correct_offset}` → the nested tagged union Dropbox sends. */
export function taggedError(tags: string[], extra: Record<string, unknown>): Record<string, unknown> {
  let inner: Record<string, unknown> = { '.tag': tags[tags.length - 1], ...extra };
  for (let i = tags.length - 2; i >= 0; i--) inner = { '.tag': tags[i], [tags[i]]: inner };
  return inner;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendFault(res: ServerResponse, f: DbxFault): void {
  sendJson(res, f.status, { error_summary: `${f.tags.join('/')}/..`, error: taggedError(f.tags, f.extra) });
}

export function sendRateLimit(res: ServerResponse, reason: string, retryAfterSec: number | undefined, header = true): void {
  const headers: Record<string, string> = retryAfterSec !== undefined && header ? { 'retry-after': String(retryAfterSec) } : {};
  sendJson(res, 429, { error_summary: `${reason}/..`, error: { reason: { '.tag': reason }, ...(retryAfterSec !== undefined ? { retry_after: retryAfterSec } : {}) } }, headers);
}

export function sendBadInput(res: ServerResponse, route: string, why: string): void {
  const text = `Error in call to API function "${route}": ${why}`;
  res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** JSON safe for an HTTP header: every character from U+007F up as `\uXXXX`. */
export function headerJson(v: unknown): string {
  return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export interface Cursor {
  /** account */
  a: string;
  /** folder, lowercased ('' = root) */
  p: string;
  r: boolean;
  /** journal position the feed continues from */
  s: number;
  /** namespace epoch (reset fault) */
  e: number;
  /** page size */
  n: number;
  /** paging a first listing: its snapshot and offset */
  l?: string;
  o?: number;
  /** paging changes: the journal position they were taken at, and the offset into them */
  t?: number;
  include_non_downloadable?: boolean;
}

export function encodeCursor(c: Cursor): string {
  return `AA${Buffer.from(JSON.stringify(c)).toString('base64url')}`;
}

export function decodeCursor(raw: unknown): Cursor {
  if (typeof raw !== 'string' || !raw.startsWith('AA')) throw new BadInput('cursor: not a cursor');
  try {
    const c = JSON.parse(Buffer.from(raw.slice(2), 'base64url').toString('utf8')) as Cursor;
    if (typeof c.a !== 'string' || typeof c.s !== 'number') throw new Error('shape');
    return c;
  } catch {
    throw new BadInput('cursor: not a cursor');
  }
}

/** CommitInfo.mode: "add" | "overwrite" | {".tag": "update", "update": rev}. */
export function modeOf(raw: unknown): 'add' | 'overwrite' | { update: string } {
  if (raw === undefined || raw === 'add') return 'add';
  if (raw === 'overwrite') return 'overwrite';
  if (raw && typeof raw === 'object') {
    const m = raw as { '.tag'?: string; update?: string };
    if (m['.tag'] === 'add' || m['.tag'] === 'overwrite') return m['.tag'];
    if (m['.tag'] === 'update' && typeof m.update === 'string') return { update: m.update };
  }
  throw new BadInput('commit.mode: unknown write mode');
}
