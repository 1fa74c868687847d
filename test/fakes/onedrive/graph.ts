/**
 * The Graph API routes of the emulator under `/v1.0`: drives (`/me/drive`, `/drives/{id}`,
 * `/sites/{site}/drive`, site lookup by `/sites/{host}:/{path}`), items by id or by path
 * (`/root:/a/b:`, `/items/{id}:/name:`), children with `@odata.nextLink`, delta with
 * nextLink/deltaLink, `token=latest` and tombstones, folder creation, PATCH (rename, move,
 * fileSystemInfo), DELETE and permanentDelete, and copy with a monitor URL.
 */
import { randomBytes } from 'node:crypto';
import { readBody } from '../shared/listen.js';
import type { Emu } from './server.js';
import { MAX_PATH_LENGTH, nameProblem, type Drive, type Item } from './store.js';
import { driveJson, graphError, itemJson, sendJson, toSecond, tombstoneJson, type Ctx } from './wire.js';
import { handleCreateSession, handleSimplePut } from './transfer.js';

const DEFAULT_TOP = 200;
const MAX_TOP = 999;

interface Target {
  drive: Drive;
  /** `drive`: the drive itself; otherwise an item path. */
  kind: 'drive' | 'item';
  base?: Item;
  /** Decoded names below `base` (path addressing). */
  segments: string[];
  action: string;
  /** The URL prefix of the drive as the client addressed it, for nextLink/deltaLink. */
  prefix: string;
}

export async function handleGraph(emu: Emu, ctx: Ctx, path: string): Promise<void> {
  const { req } = ctx;
  // Site lookup by host name and server-relative path: GET /sites/{hostname}:/{path}
  const siteByPath = /^\/sites\/([^/:]+):(\/[^:]*):?$/.exec(path);
  if (siteByPath && req.method === 'GET') {
    const site = emu.sites.get(`${siteByPath[1].toLowerCase()}${decodeURIComponent(siteByPath[2]).replace(/\/$/, '').toLowerCase()}`);
    if (!site) return graphError(ctx, 404, 'itemNotFound', 'Requested site could not be found');
    return sendJson(ctx, 200, { id: site.id, webUrl: site.webUrl, displayName: site.webUrl.split('/').pop(), name: site.webUrl.split('/').pop() });
  }
  const t = resolveTarget(emu, path);
  if (!t) return graphError(ctx, 400, 'invalidRequest', `Invalid request: ${req.method} ${path}`);
  if ('error' in t) return graphError(ctx, 404, 'itemNotFound', t.error);
  if (t.kind === 'drive') {
    if (req.method !== 'GET') return graphError(ctx, 405, 'invalidRequest', 'Method not allowed');
    return sendJson(ctx, 200, driveJson(emu, t.drive));
  }
  const d = t.drive;
  const name = t.segments.at(-1);
  const full = t.segments.length ? emu.store.lookup(d, t.base!, t.segments) : t.base!;

  switch (`${req.method} ${t.action}`) {
    case 'GET ':
      if (!full) return notFound(ctx);
      return sendJson(ctx, 200, itemJson(emu, ctx, d, full));
    case 'GET /children':
      if (!full) return notFound(ctx);
      if (!full.isDir) return sendJson(ctx, 200, { value: [] });
      return children(emu, ctx, d, full, t);
    case 'GET /content': {
      if (!full) return notFound(ctx);
      if (full.isDir) return graphError(ctx, 400, 'invalidRequest', 'The item is a folder');
      ctx.res.writeHead(302, { location: emu.signer.url(ctx.base, d.id, full), 'content-length': '0' });
      return void ctx.res.end();
    }
    case 'PUT /content':
      return handleSimplePut(emu, ctx, d, t.base!, t.segments);
    case 'POST /createUploadSession':
      return handleCreateSession(emu, ctx, d, t.base!, t.segments);
    case 'GET /delta':
      if (!full) return notFound(ctx);
      return delta(emu, ctx, d, full, t);
    case 'POST /children':
      if (!full) return notFound(ctx);
      return mkdir(emu, ctx, d, full);
    case 'PATCH ':
      if (!full) return notFound(ctx);
      return patch(emu, ctx, d, full);
    case 'DELETE ':
    case 'POST /permanentDelete':
      if (!full) return notFound(ctx);
      if (full.id === d.rootId) return graphError(ctx, 403, 'accessDenied', 'The root cannot be deleted');
      req.resume();
      emu.store.remove(d, full, t.action === '/permanentDelete');
      ctx.res.writeHead(204).end();
      return;
    case 'POST /copy':
      if (!full) return notFound(ctx);
      return copy(emu, ctx, d, full);
    default:
      void name;
      return graphError(ctx, 400, 'invalidRequest', `Not served by the emulator: ${req.method} ${path}`);
  }
}

function notFound(ctx: Ctx): void {
  graphError(ctx, 404, 'itemNotFound', 'The resource could not be found.');
}

/** `/me/drive…`, `/drives/{d}…`, `/sites/{s}/drive…`, then `/root…` or `/items/{id}…` with `:/path:` and an action. */
function resolveTarget(emu: Emu, path: string): Target | { error: string } | undefined {
  let drive: Drive | undefined;
  let rest: string;
  let m: RegExpExecArray | null;
  if ((m = /^\/me\/drive(\/.*)?$/.exec(path))) {
    drive = emu.store.drives.get(emu.defaultDriveId);
    rest = m[1] ?? '';
  } else if ((m = /^\/drives\/([^/]+)(\/.*)?$/.exec(path))) {
    drive = emu.store.drives.get(decodeURIComponent(m[1]));
    if (!drive) return { error: `Drive ${decodeURIComponent(m[1])} not found` };
    rest = m[2] ?? '';
  } else if ((m = /^\/sites\/([^/:]+)\/drive(\/.*)?$/.exec(path))) {
    const site = [...emu.sites.values()].find((s) => s.id === decodeURIComponent(m![1]));
    if (!site) return { error: 'Requested site could not be found' };
    drive = emu.store.drives.get(site.driveId);
    rest = m[2] ?? '';
  } else return undefined;
  if (!drive) return { error: 'Drive not found' };
  const prefix = `/v1.0/drives/${encodeURIComponent(drive.id)}`;
  if (rest === '') return { drive, kind: 'drive', segments: [], action: '', prefix };
  let base: Item | undefined;
  if (rest.startsWith('/root')) {
    base = emu.store.root(drive);
    rest = rest.slice(5);
  } else if ((m = /^\/items\/([^/:]+)/.exec(rest))) {
    base = drive.items.get(decodeURIComponent(m[1]));
    if (!base) return { error: 'The resource could not be found.' };
    rest = rest.slice(m[0].length);
  } else return undefined;
  let segments: string[] = [];
  if (rest.startsWith(':')) {
    const end = rest.indexOf(':', 1);
    const raw = end < 0 ? rest.slice(1) : rest.slice(1, end);
    rest = end < 0 ? '' : rest.slice(end + 1);
    try {
      segments = raw.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      return undefined;
    }
  }
  const action = rest.replace(/\(\)$/, '').replace(/\/$/, '');
  return { drive, kind: 'item', base, segments, action, prefix };
}

function top(ctx: Ctx): number {
  const n = Number(ctx.url.searchParams.get('$top') ?? DEFAULT_TOP);
  return Number.isInteger(n) && n > 0 ? Math.min(n, MAX_TOP) : DEFAULT_TOP;
}

/** Pages of a listing kept between requests, keyed by the skiptoken handed out. */
function page(emu: Emu, ctx: Ctx, all: unknown[], link: (token: string) => string, last: Record<string, unknown>): void {
  const skip = ctx.url.searchParams.get('$skiptoken');
  let items = all;
  let offset = 0;
  const size = top(ctx);
  if (skip) {
    const [id, off] = skip.split('.');
    const kept = emu.pages.get(id);
    if (!kept) return graphError(ctx, 400, 'invalidRequest', 'The skiptoken is no longer valid');
    items = kept.items;
    last = kept.last;
    offset = Number(off);
  }
  const value = items.slice(offset, offset + size);
  if (offset + size < items.length) {
    const id = skip ? skip.split('.')[0] : randomBytes(9).toString('base64url');
    emu.pages.set(id, { items, last });
    return sendJson(ctx, 200, { value, '@odata.nextLink': link(`${id}.${offset + size}`) });
  }
  if (skip) emu.pages.delete(skip.split('.')[0]);
  sendJson(ctx, 200, { value, ...last });
}

function children(emu: Emu, ctx: Ctx, d: Drive, folder: Item, t: Target): void {
  const kids = [...folder.children!.values()].map((id) => d.items.get(id)!).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const value = kids.map((k) => itemJson(emu, ctx, d, k));
  const q = new URLSearchParams(ctx.url.searchParams);
  q.delete('$skiptoken');
  page(emu, ctx, value, (token) => `${ctx.base}${t.prefix}/items/${encodeURIComponent(folder.id)}/children?${q.toString() ? `${q.toString()}&` : ''}$skiptoken=${token}`, {});
}

const encodeToken = (seq: number): string => Buffer.from(`seq:${seq}`).toString('base64url');
function decodeToken(token: string): number | undefined {
  const m = /^seq:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}

function within(d: Drive, item: { parentId?: string; id: string }, scope: Item): boolean {
  if (scope.id === d.rootId) return true;
  for (let cur: string | undefined = item.id; cur; cur = d.items.get(cur)?.parentId) if (cur === scope.id) return true;
  return false;
}

/**
 * Delta: without a token every item below the folder (the folder first, parents before
 * children); with a token what changed since (the latest state of each changed item, deleted ones
 * as tombstones); `token=latest` only the link. Business omits parentReference.path, as Graph.
 */
function delta(emu: Emu, ctx: Ctx, d: Drive, scope: Item, t: Target): void {
  if (!scope.isDir) return graphError(ctx, 400, 'invalidRequest', 'delta is only for folders');
  // Business and SharePoint answer delta on the drive's root only.
  if (d.driveType !== 'personal' && scope.id !== d.rootId) return graphError(ctx, 400, 'invalidRequest', 'Delta is only supported on the root of a business drive or document library');
  const token = ctx.url.searchParams.get('token');
  const link = (query: string) => `${ctx.base}${t.prefix}/items/${encodeURIComponent(scope.id)}/delta?${query}`;
  const deltaLink = { '@odata.deltaLink': link(`token=${encodeToken(d.seq)}`) };
  if (ctx.url.searchParams.get('$skiptoken')) return page(emu, ctx, [], (s) => link(`$skiptoken=${s}`), deltaLink);
  if (token === 'latest') return sendJson(ctx, 200, { value: [], ...deltaLink });
  const withPath = d.driveType === 'personal';
  const value: unknown[] = [];
  if (token === null) {
    const queue = [scope];
    for (let i = 0; i < queue.length; i++) {
      const cur = queue[i];
      value.push(itemJson(emu, ctx, d, cur, { withPath }));
      for (const id of cur.children?.values() ?? []) queue.push(d.items.get(id)!);
    }
  } else {
    const since = decodeToken(token);
    if (since === undefined || since < d.oldestToken) {
      return graphError(ctx, 410, 'resyncRequired', 'Resync required. Replace any local items with the server\'s version (including deletes) if you\'re sure that the service was up to date with your local changes when you last sync\'d. Upload any local changes that the server doesn\'t know about.', {}, 'resyncChangesApplyDifferences');
    }
    const last = new Map<string, number>();
    for (const e of d.log) if (e.seq > since) last.set(e.id, e.seq);
    const ids = [...last.entries()].sort((a, b) => a[1] - b[1]).map(([id]) => id);
    for (const id of ids) {
      const live = d.items.get(id);
      if (live) {
        if (within(d, live, scope)) value.push(itemJson(emu, ctx, d, live, { withPath }));
        continue;
      }
      const dead = d.tombstones.get(id);
      if (dead && (scope.id === d.rootId || (dead.parentId && (dead.parentId === scope.id || (d.items.has(dead.parentId) && within(d, d.items.get(dead.parentId)!, scope)))))) value.push(tombstoneJson(d, dead));
    }
  }
  emu.stats.deltaRequests++;
  page(emu, ctx, value, (s) => link(`$skiptoken=${s}`), deltaLink);
}

async function jsonBody(ctx: Ctx): Promise<Record<string, unknown> | undefined> {
  const raw = (await readBody(ctx.req)).toString('utf8').trim();
  if (!raw) return {};
  try {
    const v = JSON.parse(raw) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A name Graph refuses, or a path longer than it stores: the 400 Graph answers. */
export function refuseName(emu: Emu, ctx: Ctx, d: Drive, parent: Item, name: string): boolean {
  const problem = nameProblem(name);
  if (problem) {
    graphError(ctx, 400, 'invalidRequest', problem);
    return true;
  }
  const length = [...emu.store.pathOf(d, parent), name].join('/').length;
  if (length > MAX_PATH_LENGTH) {
    graphError(ctx, 400, 'invalidRequest', `The path is longer than ${MAX_PATH_LENGTH} characters.`);
    return true;
  }
  return false;
}

function conflictBehavior(ctx: Ctx, body: Record<string, unknown>): string {
  const v = body['@microsoft.graph.conflictBehavior'] ?? body['@name.conflictBehavior'] ?? ctx.url.searchParams.get('@microsoft.graph.conflictBehavior');
  return typeof v === 'string' ? v : 'fail';
}

async function mkdir(emu: Emu, ctx: Ctx, d: Drive, parent: Item): Promise<void> {
  const body = await jsonBody(ctx);
  if (!body || typeof body.name !== 'string' || !body.folder) return graphError(ctx, 400, 'invalidRequest', 'name and folder are required');
  if (!parent.isDir) return graphError(ctx, 400, 'invalidRequest', 'The parent is not a folder');
  let name = body.name;
  if (refuseName(emu, ctx, d, parent, name)) return;
  const existing = emu.store.child(d, parent, name);
  if (existing) {
    const behavior = conflictBehavior(ctx, body);
    if (behavior === 'rename') {
      let n = 1;
      while (emu.store.child(d, parent, `${name} ${n}`)) n++;
      name = `${name} ${n}`;
    } else if (behavior === 'replace') emu.store.remove(d, existing, false);
    else return graphError(ctx, 409, 'nameAlreadyExists', 'An item with the same name already exists under the parent');
  }
  sendJson(ctx, 201, itemJson(emu, ctx, d, emu.store.mkdir(d, parent, name)));
}

function parseTime(v: unknown): Date | undefined {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : toSecond(new Date(t));
}

async function patch(emu: Emu, ctx: Ctx, d: Drive, item: Item): Promise<void> {
  const body = await jsonBody(ctx);
  if (!body) return graphError(ctx, 400, 'invalidRequest', 'The body must be JSON');
  const ref = body.parentReference as { id?: unknown } | undefined;
  const newName = typeof body.name === 'string' ? body.name : item.name;
  const newParent = ref && typeof ref.id === 'string' ? d.items.get(ref.id) : item.parentId ? d.items.get(item.parentId) : undefined;
  if (ref && !newParent) return notFound(ctx);
  if ((newName !== item.name || (newParent && newParent.id !== item.parentId)) && item.id !== d.rootId) {
    if (!newParent!.isDir) return graphError(ctx, 400, 'invalidRequest', 'The destination is not a folder');
    if (within(d, newParent!, item)) return graphError(ctx, 400, 'invalidRequest', 'A folder cannot be moved into itself');
    if (refuseName(emu, ctx, d, newParent!, newName)) return;
    const there = emu.store.child(d, newParent!, newName);
    if (there && there.id !== item.id) {
      if (conflictBehavior(ctx, body) !== 'replace' || there.isDir) return graphError(ctx, 409, 'nameAlreadyExists', 'An item with the same name already exists under the parent');
      emu.store.remove(d, there, false);
    }
    emu.store.move(d, item, newParent!, newName);
  }
  const fsi = body.fileSystemInfo as { lastModifiedDateTime?: unknown; createdDateTime?: unknown } | undefined;
  if (fsi) {
    const m = parseTime(fsi.lastModifiedDateTime);
    const c = parseTime(fsi.createdDateTime);
    if (m) item.fsModified = m;
    if (c) item.fsCreated = c;
    item.version++;
    item.modified = new Date();
    emu.store.changed(d, item.id);
  }
  sendJson(ctx, 200, itemJson(emu, ctx, d, item));
}

/** POST copy: 202 with a monitor URL; the first poll says inProgress, as a real copy does. */
async function copy(emu: Emu, ctx: Ctx, d: Drive, item: Item): Promise<void> {
  const body = await jsonBody(ctx);
  if (!body) return graphError(ctx, 400, 'invalidRequest', 'The body must be JSON');
  const ref = body.parentReference as { id?: unknown; driveId?: unknown } | undefined;
  const targetDrive = ref && typeof ref.driveId === 'string' ? emu.store.drives.get(ref.driveId) : d;
  if (!targetDrive) return notFound(ctx);
  const parent = ref && typeof ref.id === 'string' ? targetDrive.items.get(ref.id) : item.parentId ? d.items.get(item.parentId) : undefined;
  if (!parent?.isDir) return notFound(ctx);
  if (targetDrive !== d) return graphError(ctx, 400, 'invalidRequest', 'The emulator copies within one drive only');
  const name = typeof body.name === 'string' ? body.name : item.name;
  if (refuseName(emu, ctx, d, parent, name)) return;
  const there = emu.store.child(d, parent, name);
  if (there && (there.isDir || ctx.url.searchParams.get('@microsoft.graph.conflictBehavior') !== 'replace')) {
    return graphError(ctx, 409, 'nameAlreadyExists', 'An item with the same name already exists under the parent');
  }
  const job = randomBytes(12).toString('hex');
  const done = emu.store.copy(d, item, parent, name).then((c) => c.id);
  emu.copies.set(job, { polls: 0, done: done.then((id) => ({ id }), (err: unknown) => ({ error: String(err) })) });
  emu.stats.copies++;
  ctx.res.writeHead(202, { location: `${ctx.base}/__monitor/${job}`, 'content-length': '0' });
  ctx.res.end();
}

export async function handleMonitor(emu: Emu, ctx: Ctx, job: string): Promise<void> {
  ctx.req.resume();
  const c = emu.copies.get(job);
  if (!c) return graphError(ctx, 404, 'itemNotFound', 'No such operation');
  c.polls++;
  if (c.polls === 1) return sendJson(ctx, 202, { operation: 'itemCopy', status: 'inProgress', percentageComplete: 50 });
  const r = await c.done;
  if ('error' in r) return sendJson(ctx, 200, { operation: 'itemCopy', status: 'failed', errorCode: 'generalException', error: { code: 'generalException', message: r.error } });
  sendJson(ctx, 200, { operation: 'itemCopy', status: 'completed', percentageComplete: 100, resourceId: r.id });
}

