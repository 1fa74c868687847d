/**
 * The change feed from Graph's delta (shared/specs/providers.md A.3). Graph names a deleted item
 * by id (and name, and its parent's id) but never by the path it had, and a moved item only by
 * where it is now; the engine needs both old paths. So the cursor carries, beside the deltaLink,
 * the tree as it was: every item's id, its parent's id and its stored name, deflated. From that
 * index a deletion resolves to its exact old path, a move or rename to its old path (reported
 * deleted) and its new one (changed; a moved folder with its whole subtree, listed again).
 *
 * `changeCursor` takes the index by one full delta enumeration, which ends in the deltaLink that
 * `changes` later starts from. A 410 resyncRequired, or a cursor this code cannot read, is
 * `resync: true`: the engine then walks the tree.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Entry } from '../../core/entry.js';
import { joinPath, parentPath } from '../../core/paths.js';
import { isConnectorError } from '../errors.js';
import type { ChangeBatch, ListOptions } from '../types.js';
import { isResyncRequired } from './errors.js';
import type { OneDriveConnector } from './index.js';
import type { DriveItem, ItemPage } from './wire.js';

const PREFIX = 'od1:';
const BATCH = 1000;

/** One item of the index: parent id, stored name, folder or not, OneNote notebook (package) or not. */
interface Node {
  parent: string;
  name: string;
  dir: boolean;
  pkg?: boolean;
}

interface Cursor {
  link: string;
  rootId: string;
  nodes: Map<string, Node>;
}

export function encodeCursor(c: Cursor): string {
  const rows: [string, string, string, number][] = [];
  for (const [id, n] of c.nodes) rows.push([id, n.parent, n.name, n.pkg ? 2 : n.dir ? 1 : 0]);
  const json = JSON.stringify({ link: c.link, root: c.rootId, rows });
  return PREFIX + deflateRawSync(Buffer.from(json)).toString('base64url');
}

export function decodeCursor(s: string): Cursor | undefined {
  if (!s.startsWith(PREFIX)) return undefined;
  try {
    const { link, root, rows } = JSON.parse(inflateRawSync(Buffer.from(s.slice(PREFIX.length), 'base64url')).toString('utf8')) as { link: unknown; root: unknown; rows: unknown };
    if (typeof link !== 'string' || typeof root !== 'string' || !Array.isArray(rows)) return undefined;
    const nodes = new Map<string, Node>();
    for (const r of rows as [string, string, string, number][]) nodes.set(r[0], { parent: r[1], name: r[2], dir: r[3] >= 1, ...(r[3] === 2 ? { pkg: true } : {}) });
    return { link, rootId: root, nodes };
  } catch {
    return undefined;
  }
}

/**
 * Stored names from the root to `id`, or undefined when its chain is broken (an orphan of a
 * deleted folder) or passes through a OneNote notebook (whose insides are not listed either).
 */
function storedPath(nodes: Map<string, Node>, rootId: string, id: string): string[] | undefined {
  const out: string[] = [];
  for (let cur = id, guard = 0; cur !== rootId; guard++) {
    const n = nodes.get(cur);
    if (!n || guard > 10_000 || (n.pkg && cur !== id)) return undefined;
    out.unshift(n.name);
    cur = n.parent;
  }
  return out;
}

/** The decoded path, or undefined when a name on the way cannot be encoded back (told once, as the listing tells it). */
function decodedPath(c: OneDriveConnector, stored: string[] | undefined, opts: ListOptions): string | undefined {
  if (!stored) return undefined;
  let path = '';
  for (const s of stored) {
    const name = c.decodedName(s, path, opts);
    if (name === undefined) return undefined;
    path = joinPath(path, name);
  }
  return path;
}

async function* pages(c: OneDriveConnector, first: string, op: string, opts: ListOptions): AsyncGenerator<ItemPage> {
  let url: string | undefined = first;
  while (url) {
    const page: ItemPage = await c.client.json<ItemPage>({ method: 'GET', url, op, signal: opts.signal });
    yield page;
    url = page['@odata.nextLink'];
    if (!url && !page['@odata.deltaLink']) throw new Error(`${op}: a delta page with neither nextLink nor deltaLink`);
  }
}

function record(nodes: Map<string, Node>, rootId: string, item: DriveItem): void {
  if (item.id === rootId || item.root !== undefined) return;
  const parent = item.parentReference?.id;
  if (!parent) return;
  nodes.set(item.id, { parent, name: item.name, dir: item.folder !== undefined || item.package !== undefined, ...(item.package ? { pkg: true } : {}) });
}

export async function changeCursor(c: OneDriveConnector, opts: ListOptions): Promise<string> {
  const op = 'read the change feed position';
  const root = await c.item('', op, opts.signal);
  const nodes = new Map<string, Node>();
  let link = '';
  for await (const page of pages(c, `${await c.client.itemByIdUrl(root.id, '/delta', opts.signal)}?$top=1000`, op, opts)) {
    for (const item of page.value) if (!item.deleted) record(nodes, root.id, item);
    link = page['@odata.deltaLink'] ?? link;
  }
  return encodeCursor({ link, rootId: root.id, nodes: prune(nodes, root.id) });
}

/** Drops items whose chain no longer reaches the root (the subtree of a deleted folder). */
function prune(nodes: Map<string, Node>, rootId: string): Map<string, Node> {
  const ok = new Map<string, boolean>([[rootId, true]]);
  const reaches = (id: string): boolean => {
    const trail: string[] = [];
    let cur = id;
    let result: boolean | undefined;
    while ((result = ok.get(cur)) === undefined) {
      const n = nodes.get(cur);
      if (!n || trail.length > 10_000) {
        result = false;
        break;
      }
      trail.push(cur);
      cur = n.parent;
    }
    for (const t of trail) ok.set(t, result);
    return result;
  };
  const out = new Map<string, Node>();
  for (const [id, n] of nodes) if (reaches(id)) out.set(id, n);
  return out;
}

const resync = (): ChangeBatch => ({ changed: [], deleted: [], resync: true });

export async function* changes(c: OneDriveConnector, cursor: string, opts: ListOptions): AsyncGenerator<ChangeBatch> {
  const op = 'read the change feed';
  const before = decodeCursor(cursor);
  if (!before) {
    yield resync();
    return;
  }
  const after = new Map(before.nodes);
  const items: DriveItem[] = [];
  let link = '';
  try {
    for await (const page of pages(c, before.link, op, opts)) {
      items.push(...page.value);
      link = page['@odata.deltaLink'] ?? link;
    }
  } catch (err) {
    if (isConnectorError(err) && isResyncRequired(err)) {
      yield resync();
      return;
    }
    throw err;
  }
  // The new tree first, so every new path is resolved whatever order the pages came in.
  for (const item of items) {
    if (item.deleted) after.delete(item.id);
    else record(after, before.rootId, item);
  }
  const deleted = new Set<string>();
  const changed = new Map<string, Entry>();
  const movedDirs: string[] = [];
  for (const item of items) {
    if (item.id === before.rootId || item.root !== undefined) continue;
    const old = before.nodes.has(item.id) ? decodedPath(c, storedPath(before.nodes, before.rootId, item.id), {}) : undefined;
    if (item.deleted) {
      if (old !== undefined) deleted.add(old);
      continue;
    }
    const now = decodedPath(c, storedPath(after, before.rootId, item.id), opts);
    if (old !== undefined && old !== now) deleted.add(old);
    if (now === undefined || c.listedName(item, parentPath(now), opts) === undefined) continue;
    const entry = c.entryOf(item, now);
    changed.set(now, entry);
    if (entry.isDir && old !== undefined && old !== now) movedDirs.push(now);
  }
  for (const dir of movedDirs) for (const e of await c.subtree(dir, opts)) changed.set(e.path, e);
  // A path both gone and there again (a file replaced by another of the same name) is changed.
  for (const p of changed.keys()) deleted.delete(p);
  const all = [...changed.values()];
  const gone = [...deleted];
  const next = encodeCursor({ link, rootId: before.rootId, nodes: prune(after, before.rootId) });
  if (all.length === 0 && gone.length === 0) {
    yield { changed: [], deleted: [], cursor: next };
    return;
  }
  for (let i = 0; i < Math.max(all.length, gone.length); i += BATCH) {
    const last = i + BATCH >= Math.max(all.length, gone.length);
    yield { changed: all.slice(i, i + BATCH), deleted: gone.slice(i, i + BATCH), ...(last ? { cursor: next } : {}) };
  }
}
