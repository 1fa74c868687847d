/** How the emulator words Graph's answers: driveItem and drive JSON, and Graph's error bodies. */
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Drive, Item, Store, Tombstone } from './store.js';

/** Graph's timestamps: ISO 8601 UTC with milliseconds (rclone parses `2006-01-02T15:04:05.999Z`). */
export const graphTime = (d: Date): string => d.toISOString();

/** Client times are kept to the second, as OneDrive does (rclone's Precision for onedrive). */
export const toSecond = (d: Date): Date => new Date(Math.floor(d.getTime() / 1000) * 1000);

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** `http(s)://host[:port]` as the client reached us. */
  base: string;
}

export function sendJson(ctx: Ctx, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  ctx.res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  ctx.res.end(text);
}

/** Graph's error body: `{"error":{"code","message","innerError"}}`. */
export function graphError(ctx: Ctx, status: number, code: string, message: string, headers: Record<string, string> = {}, inner?: string): void {
  if (!ctx.req.readableEnded) ctx.req.resume();
  sendJson(ctx, status, { error: { code, message, innerError: { ...(inner ? { code: inner } : {}), date: new Date().toISOString().slice(0, 19), 'request-id': 'emu' } } }, headers);
}

/** Pre-authenticated download URLs: an HMAC over the item and its content version, no state kept. */
export class DownloadSigner {
  constructor(private readonly secret: Buffer) {}

  sign(driveId: string, item: Item): string {
    return createHmac('sha256', this.secret).update(`${driveId}\n${item.id}\n${item.contentVersion}`).digest('base64url');
  }

  url(base: string, driveId: string, item: Item): string {
    return `${base}/__download/${encodeURIComponent(driveId)}/${encodeURIComponent(item.id)}?tempauth=${this.sign(driveId, item)}`;
  }
}

export interface Wire {
  store: Store;
  signer: DownloadSigner;
}

/** `/drive/root:/a/b` for the default drive's items, as parentReference.path. */
function parentPath(w: Wire, d: Drive, item: Item): string {
  const parent = item.parentId ? d.items.get(item.parentId) : undefined;
  const segs = parent ? w.store.pathOf(d, parent) : [];
  return `/drives/${d.id}/root:${segs.length ? `/${segs.join('/')}` : ''}`;
}

export function itemJson(w: Wire, ctx: Ctx, d: Drive, item: Item, o: { withPath?: boolean } = {}): Record<string, unknown> {
  const isRoot = item.id === d.rootId;
  const out: Record<string, unknown> = {
    id: item.id,
    name: item.name,
    size: item.isDir ? folderSize(d, item) : item.size,
    createdDateTime: graphTime(item.created),
    lastModifiedDateTime: graphTime(item.modified),
    eTag: `"{${item.id}},${item.version}"`,
    cTag: `"c:{${item.id}},${item.contentVersion}"`,
    webUrl: `https://onedrive.emulator.invalid/${encodeURIComponent(item.id)}`,
    parentReference: isRoot
      ? { driveId: d.id, driveType: d.driveType }
      : { driveId: d.id, driveType: d.driveType, id: item.parentId, ...(o.withPath === false ? {} : { path: parentPath(w, d, item) }) },
    fileSystemInfo: { createdDateTime: graphTime(item.fsCreated), lastModifiedDateTime: graphTime(item.fsModified) },
  };
  if (isRoot) out.root = {};
  if (item.package) out.package = { type: item.package };
  else if (item.isDir) out.folder = { childCount: item.children!.size };
  else {
    const hashes: Record<string, string> = { quickXorHash: item.quickXor! };
    // SHA-1 is reported on Business; Personal phased it out in 2023, but old clients ask for it.
    if (item.sha1) hashes.sha1Hash = item.sha1;
    out.file = { mimeType: 'application/octet-stream', hashes };
    out['@microsoft.graph.downloadUrl'] = w.signer.url(ctx.base, d.id, item);
  }
  return out;
}

export function tombstoneJson(d: Drive, t: Tombstone): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    deleted: { state: 'deleted' },
    parentReference: { driveId: d.id, driveType: d.driveType, ...(t.parentId ? { id: t.parentId } : {}) },
    ...(t.isDir ? { folder: {} } : { file: {} }),
  };
}

function folderSize(d: Drive, folder: Item): number {
  let n = 0;
  const stack = [folder];
  while (stack.length) {
    const cur = stack.pop()!;
    for (const id of cur.children?.values() ?? []) {
      const c = d.items.get(id)!;
      if (c.isDir) stack.push(c);
      else n += c.size;
    }
  }
  return n;
}

export function driveJson(w: Wire, d: Drive): Record<string, unknown> {
  const used = w.store.used(d);
  return {
    id: d.id,
    driveType: d.driveType,
    owner: { user: { displayName: `Emulated ${d.owner}`, id: d.owner } },
    quota: { total: d.quotaTotal, used, remaining: Math.max(0, d.quotaTotal - used - d.recycled), deleted: d.recycled, state: used >= d.quotaTotal ? 'exceeded' : 'normal' },
  };
}
