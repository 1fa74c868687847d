/**
 * The OneDrive emulator's drives: items by id (folders with a case-insensitive child index, files
 * whose bytes live on disk so a 1 GiB body never sits in JS memory), the recycle bin, and a
 * change log every mutation appends to, from which `delta` answers (shared/specs/providers.md A.3).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { QuickXorHash } from '../../../connectors/shared/quickxor.js';

export type DriveType = 'personal' | 'business' | 'documentLibrary';

export interface Item {
  id: string;
  name: string;
  /** Undefined for the drive's root. */
  parentId?: string;
  isDir: boolean;
  size: number;
  created: Date;
  /** Server-side modification (lastModifiedDateTime). */
  modified: Date;
  /** fileSystemInfo.lastModifiedDateTime: what the client set. */
  fsModified: Date;
  fsCreated: Date;
  /** Bumped on every change of the item (eTag) and of its content (cTag). */
  version: number;
  contentVersion: number;
  blob?: string;
  quickXor?: string;
  sha1?: string;
  children?: Map<string, string>;
  /** A OneNote notebook: a folder Graph shows with a `package` facet instead of `folder`. */
  package?: string;
}

export interface Tombstone {
  id: string;
  name: string;
  parentId?: string;
  isDir: boolean;
}

export interface Drive {
  id: string;
  driveType: DriveType;
  owner: string;
  rootId: string;
  items: Map<string, Item>;
  /** Deleted items as delta reports them. */
  tombstones: Map<string, Tombstone>;
  /** Recycle bin: deleted subtrees that still count as `deleted` bytes in the quota. */
  recycled: number;
  quotaTotal: number;
  /** Every change since the drive was made: the item id and the sequence number it happened at. */
  log: { seq: number; id: string }[];
  seq: number;
  /** Tokens older than this are answered 410 resyncRequired. */
  oldestToken: number;
}

/** Names OneDrive and SharePoint refuse (Microsoft's "Restrictions and limitations"; rclone onedrive.md). */
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
const RESERVED_EXACT = new Set(['.lock', 'desktop.ini']);
export const MAX_PATH_LENGTH = 400;

export function nameProblem(name: string): string | undefined {
  if (name === '' || name === '.' || name === '..') return 'The name is empty or a dot name.';
  if (/["*:<>?/\\|]/.test(name) || [...name].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return 'The name contains invalid characters.';
  if (name.startsWith(' ') || name.endsWith(' ') || name.endsWith('.')) return 'The name begins or ends with a space, or ends with a period.';
  if (RESERVED.test(name) || RESERVED_EXACT.has(name.toLowerCase()) || name.startsWith('~$') || name.toLowerCase().includes('_vti_')) return 'The name is reserved.';
  return undefined;
}

export const key = (name: string): string => name.toLowerCase();

export function newId(driveType: DriveType): string {
  // Personal ids look like `D4648F06C91D9D3D!54927`; business ones like `01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K`.
  return driveType === 'personal' ? `${randomBytes(8).toString('hex').toUpperCase()}!${Math.floor(Math.random() * 1e6)}` : `01${randomBytes(16).toString('base64').replace(/[^A-Z0-9]/gi, '').toUpperCase().padEnd(32, 'Q').slice(0, 32)}`;
}

export class Store {
  readonly drives = new Map<string, Drive>();
  readonly blobDir: string;

  constructor(readonly dataDir: string) {
    this.blobDir = join(dataDir, 'blobs');
    mkdirSync(this.blobDir, { recursive: true });
  }

  addDrive(id: string, driveType: DriveType, owner: string, quotaTotal = 1024 ** 4): Drive {
    const now = new Date();
    const rootId = newId(driveType);
    const root: Item = { id: rootId, name: 'root', isDir: true, size: 0, created: now, modified: now, fsModified: now, fsCreated: now, version: 1, contentVersion: 1, children: new Map() };
    const drive: Drive = { id, driveType, owner, rootId, items: new Map([[rootId, root]]), tombstones: new Map(), recycled: 0, quotaTotal, log: [], seq: 0, oldestToken: 0 };
    this.drives.set(id, drive);
    return drive;
  }

  root(d: Drive): Item {
    return d.items.get(d.rootId)!;
  }

  child(d: Drive, folder: Item, name: string): Item | undefined {
    const id = folder.children?.get(key(name));
    return id ? d.items.get(id) : undefined;
  }

  /** The item at `segments` below `from` (names as stored), or undefined. */
  lookup(d: Drive, from: Item, segments: string[]): Item | undefined {
    let cur: Item | undefined = from;
    for (const s of segments) {
      if (!cur?.isDir) return undefined;
      cur = this.child(d, cur, s);
    }
    return cur;
  }

  /** Names from the root to the item (excluded root). */
  pathOf(d: Drive, item: Item): string[] {
    const out: string[] = [];
    for (let cur: Item | undefined = item; cur && cur.parentId; cur = d.items.get(cur.parentId)) out.unshift(cur.name);
    return out;
  }

  used(d: Drive): number {
    let n = 0;
    for (const it of d.items.values()) n += it.isDir ? 0 : it.size;
    return n;
  }

  changed(d: Drive, id: string): void {
    d.log.push({ seq: ++d.seq, id });
  }

  /** Touches every folder from `parentId` up: Graph bumps a folder's eTag when its children change. */
  private touchParents(d: Drive, parentId: string | undefined, now: Date): void {
    for (let cur = parentId ? d.items.get(parentId) : undefined; cur; cur = cur.parentId ? d.items.get(cur.parentId) : undefined) {
      cur.version++;
      cur.modified = now;
      this.changed(d, cur.id);
    }
  }

  mkdir(d: Drive, parent: Item, name: string, now = new Date()): Item {
    const it: Item = { id: newId(d.driveType), name, parentId: parent.id, isDir: true, size: 0, created: now, modified: now, fsModified: now, fsCreated: now, version: 1, contentVersion: 1, children: new Map() };
    d.items.set(it.id, it);
    parent.children!.set(key(name), it.id);
    this.changed(d, it.id);
    this.touchParents(d, parent.id, now);
    return it;
  }

  /** A blob file path for new content; the caller fills it, then `commitFile`. */
  newBlobPath(): string {
    return join(this.blobDir, randomBytes(12).toString('hex'));
  }

  blobPath(blob: string): string {
    return join(this.blobDir, blob);
  }

  /** Hashes a blob file on disk (quickXorHash base64, SHA-1 upper-case hex, as Graph gives them). */
  async hashBlob(path: string): Promise<{ size: number; quickXor: string; sha1: string }> {
    const qx = new QuickXorHash();
    const sha1 = createHash('sha1');
    for await (const chunk of createReadStream(path)) {
      qx.update(chunk as Buffer);
      sha1.update(chunk as Buffer);
    }
    return { size: qx.bytes, quickXor: qx.digestBase64(), sha1: sha1.digest('hex').toUpperCase() };
  }

  /** Puts a filled blob at `name` in `parent`, replacing a file there (a new version of it). */
  commitFile(
    d: Drive,
    parent: Item,
    name: string,
    blobFile: string,
    facts: { size: number; quickXor: string; sha1: string; fsModified?: Date; fsCreated?: Date },
    now = new Date(),
  ): Item {
    const blob = blobFile.slice(this.blobDir.length + 1);
    const existing = this.child(d, parent, name);
    if (existing && !existing.isDir) {
      const old = existing.blob;
      Object.assign(existing, {
        size: facts.size,
        blob,
        quickXor: facts.quickXor,
        sha1: facts.sha1,
        modified: now,
        fsModified: facts.fsModified ?? now,
        version: existing.version + 1,
        contentVersion: existing.contentVersion + 1,
      });
      if (old) void unlink(this.blobPath(old)).catch(() => {});
      this.changed(d, existing.id);
      this.touchParents(d, parent.id, now);
      return existing;
    }
    const it: Item = {
      id: newId(d.driveType),
      name,
      parentId: parent.id,
      isDir: false,
      size: facts.size,
      created: now,
      modified: now,
      fsModified: facts.fsModified ?? now,
      fsCreated: facts.fsCreated ?? facts.fsModified ?? now,
      version: 1,
      contentVersion: 1,
      blob,
      quickXor: facts.quickXor,
      sha1: facts.sha1,
    };
    d.items.set(it.id, it);
    parent.children!.set(key(name), it.id);
    this.changed(d, it.id);
    this.touchParents(d, parent.id, now);
    return it;
  }

  /** Removes an item and its subtree; every removed item becomes a tombstone in the change log. */
  remove(d: Drive, item: Item, permanent: boolean, now = new Date()): void {
    const parent = item.parentId ? d.items.get(item.parentId) : undefined;
    parent?.children?.delete(key(item.name));
    const gone: Item[] = [];
    const stack = [item];
    while (stack.length) {
      const cur = stack.pop()!;
      gone.push(cur);
      for (const id of cur.children?.values() ?? []) stack.push(d.items.get(id)!);
    }
    for (const g of gone) {
      d.items.delete(g.id);
      d.tombstones.set(g.id, { id: g.id, name: g.name, parentId: g.parentId, isDir: g.isDir });
      this.changed(d, g.id);
      if (!g.isDir) {
        if (permanent) {
          if (g.blob) void unlink(this.blobPath(g.blob)).catch(() => {});
        } else d.recycled += g.size;
      }
    }
    this.touchParents(d, parent?.id, now);
  }

  /** Moves and/or renames; the caller checked the name and that nothing is in the way. */
  move(d: Drive, item: Item, newParent: Item, newName: string, now = new Date()): void {
    const oldParent = d.items.get(item.parentId!)!;
    oldParent.children!.delete(key(item.name));
    item.name = newName;
    item.parentId = newParent.id;
    newParent.children!.set(key(newName), item.id);
    item.version++;
    item.modified = now;
    this.changed(d, item.id);
    this.touchParents(d, oldParent.id, now);
    if (newParent !== oldParent) this.touchParents(d, newParent.id, now);
  }

  /** Copies a file or a folder tree (bytes copied on disk); the copy's times are now, as Graph's. */
  async copy(d: Drive, item: Item, parent: Item, name: string, now = new Date()): Promise<Item> {
    const existing = this.child(d, parent, name);
    if (existing) this.remove(d, existing, true, now);
    if (item.isDir) {
      const dir = this.mkdir(d, parent, name, now);
      for (const id of [...item.children!.values()]) {
        const c = d.items.get(id)!;
        await this.copy(d, c, dir, c.name, now);
      }
      return dir;
    }
    const target = this.newBlobPath();
    await pipeline(createReadStream(this.blobPath(item.blob!)), createWriteStream(target));
    return this.commitFile(d, parent, name, target, { size: item.size, quickXor: item.quickXor!, sha1: item.sha1! }, now);
  }

  /** Writes `data` (or `size` bytes of `fill`) into a new blob file; for seeding. */
  async writeBlob(data: Buffer | { size: number; fill?: number }): Promise<string> {
    const path = this.newBlobPath();
    const out = createWriteStream(path);
    if (Buffer.isBuffer(data)) out.end(data);
    else {
      const piece = Buffer.alloc(Math.min(data.size, 4 * 1024 * 1024), data.fill ?? 0);
      let left = data.size;
      while (left > 0) {
        const n = Math.min(left, piece.length);
        if (!out.write(n === piece.length ? piece : piece.subarray(0, n))) await new Promise<void>((r) => out.once('drain', () => r()));
        left -= n;
      }
      out.end();
    }
    await new Promise<void>((resolve, reject) => {
      out.once('finish', resolve);
      out.once('error', reject);
    });
    return path;
  }

  async moveBlobIn(tmp: string): Promise<string> {
    const path = this.newBlobPath();
    await rename(tmp, path);
    return path;
  }

  destroy(removeDir: boolean): void {
    if (removeDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
