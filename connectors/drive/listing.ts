/**
 * Listings: `files.list` with a `q` per folder, or, for a walk, per batch of folders
 * (`'a' in parents or 'b' in parents …`), `fields` cut to what planning needs, 1000 a page. A
 * folder's items become entries by their listed names (listedOf), and when several share one name
 * (Drive allows it) only the most recently modified is listed and the rest are reported as
 * `duplicate` notices, never merged silently. Shortcuts and Google items without an export format
 * are reported as `skipped`, exported documents as `exported`.
 */
import type { Entry } from '../../core/entry.js';
import { joinPath } from '../../core/paths.js';
import type { ListNotice } from '../types.js';
import type { DriveClient } from './client.js';
import { choose, listedOf, type ExportFormats, type Listed } from './names.js';
import { qString, sizeOf, timeOf, WALK_FILE_FIELDS, type DriveFile, type FileList } from './wire.js';

export const PAGE_SIZE = 1000;
/** Folders asked for in one query of a walk: short enough for a URL, many enough to save round trips. */
export const WALK_BATCH = 40;

/** One page of a `files.list` query: its items and the token of the next page, if any. */
export async function listPage(client: DriveClient, q: string, op: string, pageToken: string | undefined, signal?: AbortSignal, fields = WALK_FILE_FIELDS): Promise<{ files: DriveFile[]; next?: string }> {
  signal?.throwIfAborted();
  const page = await client.json<FileList>({
    method: 'GET',
    url: client.url('/files', { q, pageSize: PAGE_SIZE, pageToken, fields: `nextPageToken,files(${fields})`, ...client.listParams() }),
    op,
    signal,
  });
  return { files: page.files ?? [], next: page.nextPageToken };
}

/** Every page of a `files.list` query, its items gathered (a folder's duplicates may straddle pages). */
export async function listQuery(client: DriveClient, q: string, op: string, signal?: AbortSignal, fields = WALK_FILE_FIELDS): Promise<DriveFile[]> {
  const out: DriveFile[] = [];
  let pageToken: string | undefined;
  do {
    const page = await listPage(client, q, op, pageToken, signal, fields);
    out.push(...page.files);
    pageToken = page.next;
  } while (pageToken);
  return out;
}

export function childrenQuery(parentIds: readonly string[]): string {
  const parents = parentIds.map((id) => `${qString(id)} in parents`).join(' or ');
  return `(${parents}) and trashed = false`;
}

export function entryOf(path: string, l: Listed): Entry {
  if (l.kind === 'folder') return { path, isDir: true, size: 0, mtimeMs: timeOf(l.file.modifiedTime), hashes: {} };
  if (l.kind === 'export') return { path, isDir: false, size: -1, mtimeMs: timeOf(l.file.modifiedTime), hashes: {} };
  const md5 = l.file.md5Checksum?.toLowerCase();
  return { path, isDir: false, size: sizeOf(l.file) ?? 0, mtimeMs: timeOf(l.file.modifiedTime), hashes: md5 ? { md5 } : {} };
}

/** The items of one folder as entries below `dir`, one per listed name, with notices for the rest. */
export function folderEntries(dir: string, items: readonly DriveFile[], formats: ExportFormats, onNotice?: (n: ListNotice) => void): { entries: Entry[]; folders: { id: string; path: string }[] } {
  const byName = new Map<string, Listed[]>();
  for (const file of items) {
    const l = listedOf(file, formats);
    const path = joinPath(dir, l.name);
    if (l.kind === 'skip') {
      onNotice?.({ path, kind: 'skipped', message: `not copied: ${l.why}` });
      continue;
    }
    const group = byName.get(l.name);
    if (group) group.push(l);
    else byName.set(l.name, [l]);
  }
  const entries: Entry[] = [];
  const folders: { id: string; path: string }[] = [];
  for (const [name, group] of byName) {
    const path = joinPath(dir, name);
    const chosen = choose(group);
    if (group.length > 1) {
      onNotice?.({
        path,
        kind: 'duplicate',
        message: `${group.length} items are named this in one folder; only the most recently modified (id ${chosen.file.id}) is listed, the other ${group.length - 1} (ids ${group.filter((g) => g !== chosen).map((g) => g.file.id).join(', ')}) are not copied`,
      });
    }
    if (chosen.kind === 'export') onNotice?.({ path, kind: 'exported', message: `a Google ${chosen.file.mimeType.split('.').pop()} exported as ${chosen.ext} (${chosen.mime}); its size is known once read` });
    entries.push(entryOf(path, chosen));
    if (chosen.kind === 'folder') folders.push({ id: chosen.file.id, path });
  }
  return { entries, folders };
}

/** Items grouped by the parents among `ids` they are in (an item with two parents is in both). */
export function byParent(items: readonly DriveFile[], ids: readonly string[]): Map<string, DriveFile[]> {
  const out = new Map<string, DriveFile[]>(ids.map((id) => [id, []]));
  for (const f of items) for (const p of f.parents ?? []) out.get(p)?.push(f);
  return out;
}
