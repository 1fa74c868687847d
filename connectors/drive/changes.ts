/**
 * The change feed (`changes.list` from a page token, providers.md A.2 "Incremental sync") as
 * batches of paths below the remote's root.
 *
 * Drive names changed items by id, with their state now (name, parents, trashed); a path is
 * found by climbing parents to the root (a parent not seen yet is asked for once). What the feed
 * cannot say, and what is done about it:
 *
 *   - A permanently deleted item comes as `removed` with no name or parents: its path is unknown,
 *     so the batch is `resync` (the engine walks) — unless this feed saw it trashed already.
 *     Trashed items keep name and parents: their path is reported deleted.
 *   - A folder's old path is not in the feed either. A folder made after the cursor was taken is
 *     new: it and its subtree are reported changed. Any other folder in the feed was renamed or
 *     moved (or restored): `resync`, since its old path cannot be named for deletion.
 *   - A renamed or moved file is reported at its new path; its old path is not reported (a copy
 *     job keeps the old copy at the destination).
 *   - Names shared by several items of a folder are settled as a listing settles them: the path
 *     stands for the most recently modified, so a change to a duplicate that is not listed is
 *     only a notice, and a trashed item whose name another item still has reports that item.
 *
 * The cursor is `<page token>@<ms>`: the token, and this side's clock when it was taken (so a
 * folder created after it counts as new; clocks of Google and this machine are assumed to agree
 * within the time between two runs).
 */
import type { Entry } from '../../core/entry.js';
import { joinPath } from '../../core/paths.js';
import { ConnectorError } from '../errors.js';
import type { ChangeBatch, ListNotice, ListOptions } from '../types.js';
import { readJson, type DriveClient } from './client.js';
import { childrenQuery, entryOf, listQuery } from './listing.js';
import { candidateNames, choose, fromDrive, listedOf, type ExportFormats, type Listed } from './names.js';
import { CHANGE_FILE_FIELDS, FILE_FIELDS, FOLDER_MIME, qString, timeOf, type ChangeList, type DriveFile } from './wire.js';

export interface FeedDeps {
  client: DriveClient;
  formats: ExportFormats;
  now: () => number;
  rootId(): Promise<string>;
  walk(rel: string): AsyncIterable<Entry[]>;
}

const RESYNC: ChangeBatch = { changed: [], deleted: [], resync: true };

export function parseCursor(cursor: string): { token: string; since: number } | undefined {
  const m = /^([^@\s]+)@(\d+)$/.exec(cursor);
  return m ? { token: m[1], since: Number(m[2]) } : undefined;
}

export async function* feed(deps: FeedDeps, cursor: string, opts: ListOptions): AsyncGenerator<ChangeBatch> {
  const parsed = parseCursor(cursor);
  if (!parsed) {
    yield RESYNC;
    return;
  }
  const { client } = deps;
  const tree = new Tree(client, await deps.rootId());
  const trashedHere = new Set<string>();
  let token = parsed.token;
  for (;;) {
    opts.signal?.throwIfAborted();
    const at = deps.now();
    const op = 'read the change feed';
    const params: Record<string, string | number> = { pageToken: token, pageSize: 1000, includeRemoved: 'true', includeItemsFromAllDrives: 'true', fields: `nextPageToken,newStartPageToken,changes(fileId,removed,file(${CHANGE_FILE_FIELDS}))` };
    if (client.loc.driveId) params.driveId = client.loc.driveId;
    const req = { method: 'GET' as const, url: client.url('/changes', params), op, signal: opts.signal };
    const res = await client.request({ ...req, accept: [400, 404, 410] });
    if (res.status !== 200) {
      const error = await client.http.errorOf(res, req);
      // A page token Drive no longer takes (expired, or from another drive): walk instead.
      if (res.status !== 400 || /HTTP 400 invalid\b/.test(error.message)) {
        yield RESYNC;
        return;
      }
      throw error;
    }
    const page = await readJson<ChangeList>(res, op, opts.signal);
    const batch = await interpret(deps, tree, page.changes ?? [], parsed.since, trashedHere, opts.onNotice);
    if (batch === 'resync') {
      yield RESYNC;
      return;
    }
    if (page.nextPageToken) {
      token = page.nextPageToken;
      if (batch.changed.length || batch.deleted.length) yield batch;
      continue;
    }
    if (!page.newStartPageToken) throw new ConnectorError('transient', `${op}: the last page has no newStartPageToken`);
    yield { ...batch, cursor: `${page.newStartPageToken}@${at}` };
    return;
  }
}

async function interpret(deps: FeedDeps, tree: Tree, changes: readonly { fileId: string; removed: boolean; file?: DriveFile }[], since: number, trashedHere: Set<string>, onNotice?: (n: ListNotice) => void): Promise<ChangeBatch | 'resync'> {
  const changed = new Map<string, Entry>();
  const deleted = new Set<string>();
  /** Per folder touched: its path and the listed names whose item must be settled again. */
  const touched = new Map<string, { dir: string; names: Set<string> }>();
  for (const c of changes) if (c.file) tree.learn(c.file);
  for (const c of changes) {
    const f = c.file;
    if (c.removed || !f) {
      if (trashedHere.has(c.fileId)) continue;
      return 'resync';
    }
    if (f.id === tree.rootId || !f.parents?.length) continue;
    const dir = await tree.dirPath(f.parents[0]);
    if (dir === undefined) continue;
    const listed = listedOf(f, deps.formats);
    const path = joinPath(dir, listed.name);
    if (f.trashed) trashedHere.add(f.id);
    if (listed.kind === 'folder') {
      if (f.trashed) {
        deleted.add(path);
        continue;
      }
      // Made at the cursor's very millisecond is not surely after it: walking is always right, skipping an old path is not.
      if (timeOf(f.createdTime) <= since) return 'resync';
      changed.set(path, entryOf(path, listed));
      for await (const pageOf of deps.walk(path)) for (const e of pageOf) changed.set(e.path, e);
      continue;
    }
    if (listed.kind === 'skip') {
      if (!f.trashed) onNotice?.({ path, kind: 'skipped', message: `not copied: ${listed.why}` });
      continue;
    }
    let t = touched.get(f.parents[0]);
    if (!t) touched.set(f.parents[0], (t = { dir, names: new Set() }));
    t.names.add(listed.name);
  }
  // Each touched name is settled against what the folder holds now.
  for (const [parentId, { dir, names }] of touched) {
    const drive = [...new Set([...names].flatMap((n) => candidateNames(n, deps.formats)))];
    const nameQ = drive.map((n) => `name = ${qString(n)}`).join(' or ');
    const items = await listQuery(deps.client, `${childrenQuery([parentId])} and (${nameQ})`, 'read the change feed: settle names', undefined, FILE_FIELDS);
    const groups = new Map<string, Listed[]>();
    for (const file of items) {
      const l = listedOf(file, deps.formats);
      if (l.kind === 'skip' || !names.has(l.name)) continue;
      groups.set(l.name, [...(groups.get(l.name) ?? []), l]);
    }
    for (const name of names) {
      const path = joinPath(dir, name);
      const group = groups.get(name);
      if (!group) {
        deleted.add(path);
        continue;
      }
      const chosen = choose(group);
      if (group.length > 1) onNotice?.({ path, kind: 'duplicate', message: `${group.length} items are named this in one folder; only the most recently modified (id ${chosen.file.id}) is copied` });
      changed.set(path, entryOf(path, chosen));
    }
  }
  for (const p of changed.keys()) deleted.delete(p);
  return { changed: [...changed.values()], deleted: [...deleted] };
}

/** Folder ids → paths below the root, from what the feed said and, for the rest, one GET per folder. */
class Tree {
  private readonly info = new Map<string, { name: string; parent?: string }>();
  private readonly paths = new Map<string, string | undefined>();

  constructor(
    private readonly client: DriveClient,
    readonly rootId: string,
  ) {}

  learn(f: DriveFile): void {
    if (f.mimeType === FOLDER_MIME) this.info.set(f.id, { name: f.name, parent: f.parents?.[0] });
  }

  /** The decoded path of folder `id` below the root ('' for the root); undefined when it is elsewhere or gone. */
  async dirPath(id: string): Promise<string | undefined> {
    if (id === this.rootId) return '';
    if (this.paths.has(id)) return this.paths.get(id);
    const names: string[] = [];
    let cur: string | undefined = id;
    let result: string | undefined;
    for (let depth = 0; cur !== undefined && depth < 200; depth++) {
      if (cur === this.rootId) {
        result = names.reverse().join('/');
        break;
      }
      const known = this.paths.get(cur);
      if (known !== undefined) {
        result = [known, ...names.reverse()].filter((s) => s !== '').join('/');
        break;
      }
      const node: { name: string; parent?: string } | undefined = this.info.get(cur) ?? (await this.fetch(cur));
      if (!node) break;
      names.push(fromDrive(node.name));
      cur = node.parent;
    }
    this.paths.set(id, result);
    return result;
  }

  private async fetch(id: string): Promise<{ name: string; parent?: string } | undefined> {
    const op = 'read the change feed: find a folder';
    const res = await this.client.request({ method: 'GET', url: this.client.url(`/files/${encodeURIComponent(id)}`, { fields: 'id,name,parents,mimeType' }), op, accept: [404] });
    if (res.status === 404) {
      await res.body.dump();
      return undefined;
    }
    const f = await readJson<DriveFile>(res, op);
    const node = { name: f.name, parent: f.parents?.[0] };
    this.info.set(id, node);
    return node;
  }
}

