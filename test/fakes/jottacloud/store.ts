/**
 * The emulator's state: accounts → devices → mountpoints → folders → files with revisions, the
 * trash (tombstones that stay at their original path), and file bytes on disk (so 1 GiB files never
 * sit in JS memory). Section numbers refer to shared/specs/jottacloud-api.md.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RevisionState } from './wire.js';

export const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
/** §8: "JFS file names may not be longer than 255 characters". */
export const MAX_NAME_LENGTH = 255;

/** §3: the built-in device and its mountpoints. Trash and Links are addressable but not listed. */
export const BUILTIN_DEVICE = 'Jotta';
const BUILTIN_MOUNTPOINTS = ['Archive', 'Sync', 'Shared', 'Latest', 'Links', 'Trash'] as const;
const LISTED_BUILTIN_MOUNTPOINTS = new Set(['archive', 'sync', 'shared', 'latest']);
/** §3: "the special ones do not accept uploads" (Dup `JFS_BUILTIN_ILLEGAL_MOUNT_POINTS`). */
const READONLY_BUILTIN_MOUNTPOINTS = new Set(['shared', 'latest', 'links', 'trash']);

export interface Blob {
  id: string;
  md5: string;
  size: number;
  refs: number;
}

export interface Revision {
  number: number;
  state: 'COMPLETED';
  created: Date;
  modified: Date;
  updated: Date;
  size: number;
  md5: string;
  mime: string;
  blobId: string;
}

/** The `<latestRevision>` of a file: an upload in progress, or one whose checksum did not match. */
export interface PendingRevision {
  number: number;
  state: Exclude<RevisionState, 'COMPLETED'>;
  created: Date;
  modified: Date;
  updated: Date;
  /** Declared size. */
  size: number;
  /** Claimed md5. */
  md5: string;
  mime: string;
  /** Bytes received so far (the INCOMPLETE revision's `<size>` on a stat, §4.2). */
  received: number;
}

export interface FileNode {
  kind: 'file';
  name: string;
  uuid: string;
  parent: FolderNode;
  deleted?: Date;
  /** Completed revisions, oldest first; the last one is `currentRevision`. */
  revisions: Revision[];
  pending?: PendingRevision;
  nextNumber: number;
}

export interface FolderNode {
  kind: 'folder';
  name: string;
  /** Undefined for a mountpoint. */
  parent?: FolderNode;
  /** Set on a mountpoint. */
  device?: Device;
  created: Date;
  modified?: Date;
  deleted?: Date;
  folders: Map<string, FolderNode>;
  files: Map<string, FileNode>;
}

export interface Device {
  name: string;
  type: string;
  sid: string;
  created: Date;
  account: Account;
  mountpoints: Map<string, FolderNode>;
}

export interface AccountOptions {
  email?: string;
  fullName?: string;
  /** Bytes; -1 (default) for unlimited (§10). */
  capacity?: number;
  accountType?: string;
}

export interface Account {
  username: string;
  email: string;
  fullName: string;
  capacity: number;
  accountType: string;
  devices: Map<string, Device>;
  blobs: Map<string, Blob>;
  /** `md5:size` → blob id: the deduplication index (§7.1 "content … exists elsewhere in the account"). */
  byContent: Map<string, string>;
}

export type Node = FileNode | FolderNode;

/** A snapshot row for tests (see JottaEmulator.files). */
export interface FileSnapshot {
  /** `/<device>/<mountpoint>/<path>` with the stored casing. */
  path: string;
  deleted: boolean;
  size?: number;
  md5?: string;
  /** Current revision's client times and server upload time, ISO 8601 (second precision). */
  created?: string;
  modified?: string;
  updated?: string;
  revisions: { number: number; state: RevisionState; size: number; md5: string }[];
  latestRevision?: { number: number; state: RevisionState; size: number; md5: string; received: number };
}

export const key = (name: string): string => name.toLowerCase();
export const contentKey = (md5: string, size: number): string => `${md5.toLowerCase()}:${size}`;

export function newFolder(name: string, now: Date, parent?: FolderNode): FolderNode {
  return { kind: 'folder', name, parent, created: now, modified: now, folders: new Map(), files: new Map() };
}

export class Store {
  readonly accounts = new Map<string, Account>();
  readonly blobDir: string;
  readonly uploadDir: string;

  constructor(readonly dataDir: string) {
    this.blobDir = join(dataDir, 'blobs');
    this.uploadDir = join(dataDir, 'uploads');
    mkdirSync(this.blobDir, { recursive: true });
    mkdirSync(this.uploadDir, { recursive: true });
  }

  addAccount(username: string, opts: AccountOptions = {}, now = new Date()): Account {
    const existing = this.accounts.get(key(username));
    if (existing) return existing;
    const acc: Account = {
      username,
      email: opts.email ?? `${username}@example.invalid`,
      fullName: opts.fullName ?? `Emulated ${username}`,
      capacity: opts.capacity ?? -1,
      accountType: opts.accountType ?? (opts.capacity && opts.capacity > 0 ? 'free' : 'unlimited'),
      devices: new Map(),
      blobs: new Map(),
      byContent: new Map(),
    };
    const jotta = this.addDevice(acc, BUILTIN_DEVICE, 'JOTTA', now);
    for (const mp of BUILTIN_MOUNTPOINTS) this.addMountPoint(jotta, mp, now);
    this.accounts.set(key(username), acc);
    return acc;
  }

  account(username: string): Account | undefined {
    return this.accounts.get(key(username));
  }

  addDevice(acc: Account, name: string, type: string, now: Date): Device {
    const existing = acc.devices.get(key(name));
    if (existing) return existing;
    const dev: Device = { name, type, sid: randomUUID(), created: now, account: acc, mountpoints: new Map() };
    acc.devices.set(key(name), dev);
    return dev;
  }

  addMountPoint(dev: Device, name: string, now: Date): FolderNode {
    const existing = dev.mountpoints.get(key(name));
    if (existing) return existing;
    const mp = newFolder(name, now);
    mp.device = dev;
    dev.mountpoints.set(key(name), mp);
    return mp;
  }

  /** Mountpoints shown under a device (§3: Trash and Links are addressable but not listed). */
  listedMountPoints(dev: Device): FolderNode[] {
    return [...dev.mountpoints.values()].filter((m) => dev.type !== 'JOTTA' || LISTED_BUILTIN_MOUNTPOINTS.has(key(m.name)));
  }

  isReadOnlyMountPoint(mp: FolderNode): boolean {
    return mp.device?.type === 'JOTTA' && READONLY_BUILTIN_MOUNTPOINTS.has(key(mp.name));
  }

  // ---- paths ----

  mountPointOf(node: Node): FolderNode {
    let n: FolderNode = node.kind === 'file' ? node.parent : node;
    while (n.parent) n = n.parent;
    return n;
  }

  /** Segments below the mountpoint, stored casing. */
  segmentsOf(node: Node): string[] {
    const out: string[] = [];
    let n: Node | undefined = node;
    while (n && !(n.kind === 'folder' && n.device)) {
      out.unshift(n.name);
      n = n.parent;
    }
    return out;
  }

  /** `/<user>/<device>/<mountpoint>/<a>/<b>` (the JFS absolute path, §3). */
  jfsPath(node: Node): string {
    const mp = this.mountPointOf(node);
    const dev = mp.device as Device;
    return ['', dev.account.username, dev.name, mp.name, ...this.segmentsOf(node)].join('/');
  }

  /** The parent path as shown in `<path>`/`<abspath>` (§4.2): for a mountpoint `/<user>/<device>`. */
  parentJfsPath(node: Node): string {
    if (node.kind === 'folder' && node.device) return `/${node.device.account.username}/${node.device.name}`;
    return this.jfsPath(node.kind === 'file' ? node.parent : (node.parent as FolderNode));
  }

  /** Case-insensitive lookup below a mountpoint (§3). */
  lookup(mp: FolderNode, segs: string[]): Node | undefined {
    let cur: FolderNode = mp;
    for (let i = 0; i < segs.length; i++) {
      const k = key(segs[i]);
      const last = i === segs.length - 1;
      const folder = cur.folders.get(k);
      if (folder) {
        cur = folder;
        continue;
      }
      if (last) return cur.files.get(k);
      return undefined;
    }
    return cur;
  }

  /**
   * mkdir -p (§5: "Creates missing parents"; also 200 if it exists). A trashed folder on the way is
   * restored (only the folder itself, not its other contents). Returns undefined when a file is in
   * the way.
   */
  mkdirs(mp: FolderNode, segs: string[], now: Date): FolderNode | undefined {
    let cur = mp;
    for (const seg of segs) {
      if (cur.files.has(key(seg)) && !cur.folders.has(key(seg))) return undefined;
      let next = cur.folders.get(key(seg));
      if (!next) {
        next = newFolder(seg, now, cur);
        cur.folders.set(key(seg), next);
        cur.modified = now;
      }
      next.deleted = undefined;
      cur = next;
    }
    cur.deleted = undefined;
    return cur;
  }

  /** Restores every trashed folder above a node (a write below a trashed folder brings it back). */
  restoreAncestors(node: Node): void {
    let n: FolderNode | undefined = node.kind === 'file' ? node.parent : node.parent;
    while (n) {
      n.deleted = undefined;
      n = n.parent;
    }
  }

  // ---- revisions and blobs ----

  blobPath(id: string): string {
    return join(this.blobDir, id);
  }

  findBlob(acc: Account, md5: string, size: number): Blob | undefined {
    const id = acc.byContent.get(contentKey(md5, size));
    if (id) return acc.blobs.get(id);
    if (size === 0 && md5.toLowerCase() === EMPTY_MD5) {
      // §7.2: the empty md5 is deduplicated at allocate time.
      const blob = this.registerBlob(acc, this.newBlobId(), EMPTY_MD5, 0);
      writeFileSync(this.blobPath(blob.id), '');
      return blob;
    }
    return undefined;
  }

  newBlobId(): string {
    return randomBytes(12).toString('hex');
  }

  /** Registers a blob whose bytes are already at blobPath(id). */
  registerBlob(acc: Account, id: string, md5: string, size: number): Blob {
    const blob: Blob = { id, md5: md5.toLowerCase(), size, refs: 0 };
    acc.blobs.set(id, blob);
    if (!acc.byContent.has(contentKey(md5, size))) acc.byContent.set(contentKey(md5, size), id);
    return blob;
  }

  private retain(acc: Account, blobId: string): void {
    const b = acc.blobs.get(blobId);
    if (b) b.refs++;
  }

  private release(acc: Account, blobId: string): void {
    const b = acc.blobs.get(blobId);
    if (!b) return;
    b.refs--;
    if (b.refs > 0) return;
    acc.blobs.delete(blobId);
    if (acc.byContent.get(contentKey(b.md5, b.size)) === blobId) acc.byContent.delete(contentKey(b.md5, b.size));
    try {
      unlinkSync(this.blobPath(blobId));
    } catch {
      /* already gone */
    }
  }

  /** Creates the file node (and parents) for a path, or returns the existing one. */
  ensureFile(mp: FolderNode, segs: string[], now: Date): FileNode | undefined {
    const parent = this.mkdirs(mp, segs.slice(0, -1), now);
    if (!parent) return undefined;
    const name = segs[segs.length - 1];
    if (parent.folders.has(key(name))) return undefined;
    let file = parent.files.get(key(name));
    if (!file) {
      file = { kind: 'file', name, uuid: randomUUID(), parent, revisions: [], nextNumber: 1 };
      parent.files.set(key(name), file);
      parent.modified = now;
    }
    return file;
  }

  /**
   * Adds a completed revision pointing at a blob (§5 "Versions": each overwrite gets the next
   * number; older ones show in `<revisions>`). Does not touch the trash flag; callers decide.
   */
  addRevision(file: FileNode, blob: Blob, times: { created: Date; modified: Date }, now: Date): Revision {
    const acc = this.accountOf(file);
    const rev: Revision = {
      number: file.pending ? file.pending.number : file.nextNumber,
      state: 'COMPLETED',
      created: times.created,
      modified: times.modified,
      updated: now,
      size: blob.size,
      md5: blob.md5,
      mime: mimeOf(file.name),
      blobId: blob.id,
    };
    file.nextNumber = rev.number + 1;
    file.pending = undefined;
    file.revisions.push(rev);
    this.retain(acc, blob.id);
    return rev;
  }

  /** Opens (or re-opens) the INCOMPLETE latest revision of a file. */
  setPending(file: FileNode, p: Omit<PendingRevision, 'number' | 'mime'>): PendingRevision {
    const number = file.pending ? file.pending.number : file.nextNumber;
    file.pending = { ...p, number, mime: mimeOf(file.name) };
    file.nextNumber = number + 1;
    return file.pending;
  }

  current(file: FileNode): Revision | undefined {
    return file.revisions[file.revisions.length - 1];
  }

  accountOf(node: Node): Account {
    return (this.mountPointOf(node).device as Device).account;
  }

  // ---- trash ----

  /** Tombstones a node and its whole subtree with one timestamp (§5 "Soft-delete semantics"). */
  trash(node: Node, now: Date): void {
    node.deleted = now;
    if (node.kind === 'folder') {
      for (const f of node.files.values()) if (!f.deleted) f.deleted = now;
      for (const d of node.folders.values()) if (!d.deleted) this.trash(d, now);
    }
  }

  /** Removes a node for good, releasing its blobs. Returns the count of folders and files removed. */
  purge(node: Node): { folders: number; files: number } {
    const acc = this.accountOf(node);
    const counts = { folders: 0, files: 0 };
    const walk = (n: Node): void => {
      if (n.kind === 'file') {
        counts.files++;
        for (const r of n.revisions) this.release(acc, r.blobId);
        return;
      }
      counts.folders++;
      for (const f of n.files.values()) walk(f);
      for (const d of n.folders.values()) walk(d);
    };
    walk(node);
    if (node.kind === 'file') node.parent.files.delete(key(node.name));
    else if (node.parent) node.parent.folders.delete(key(node.name));
    return counts;
  }

  /** `purge_trash` (§5): permanently removes every tombstone of the account. */
  purgeTrash(acc: Account): { folders: number; files: number } {
    const total = { folders: 0, files: 0 };
    const walk = (folder: FolderNode): void => {
      for (const f of [...folder.files.values()]) {
        if (f.deleted) total.files += this.purge(f).files;
      }
      for (const d of [...folder.folders.values()]) {
        if (d.deleted) {
          const c = this.purge(d);
          total.folders += c.folders;
          total.files += c.files;
        } else walk(d);
      }
    };
    for (const dev of acc.devices.values()) for (const mp of dev.mountpoints.values()) walk(mp);
    return total;
  }

  /** Top-most trashed nodes of an account, for `GET /jfs/<user>/Jotta/Trash` (§5). */
  trashRoots(acc: Account): Node[] {
    const out: Node[] = [];
    const walk = (folder: FolderNode): void => {
      for (const f of folder.files.values()) if (f.deleted) out.push(f);
      for (const d of folder.folders.values()) {
        if (d.deleted) out.push(d);
        else walk(d);
      }
    };
    for (const dev of acc.devices.values()) for (const mp of dev.mountpoints.values()) walk(mp);
    return out;
  }

  // ---- accounting ----

  /**
   * `usage` (§10, §12.4: "the real rule is unknown"). Emulator rule: the current revision of every
   * file counts, trashed ones included (they still occupy the account until purged); older
   * revisions do not.
   */
  usage(acc: Account): number {
    let total = 0;
    for (const dev of acc.devices.values()) for (const mp of dev.mountpoints.values()) total += this.folderSize(mp, true);
    return total;
  }

  folderSize(folder: FolderNode, includeTrash: boolean): number {
    let total = 0;
    for (const f of folder.files.values()) {
      if (f.deleted && !includeTrash) continue;
      total += this.current(f)?.size ?? 0;
    }
    for (const d of folder.folders.values()) if (includeTrash || !d.deleted) total += this.folderSize(d, includeTrash);
    return total;
  }

  deviceSize(dev: Device): number {
    let total = 0;
    for (const mp of dev.mountpoints.values()) total += this.folderSize(mp, true);
    return total;
  }

  // ---- test accessors ----

  snapshot(acc: Account): FileSnapshot[] {
    const out: FileSnapshot[] = [];
    const walk = (folder: FolderNode, prefix: string): void => {
      for (const f of folder.files.values()) {
        const cur = this.current(f);
        out.push({
          path: `${prefix}/${f.name}`,
          deleted: Boolean(f.deleted),
          size: cur?.size,
          md5: cur?.md5,
          created: cur?.created.toISOString(),
          modified: cur?.modified.toISOString(),
          updated: cur?.updated.toISOString(),
          revisions: f.revisions.map((r) => ({ number: r.number, state: r.state, size: r.size, md5: r.md5 })),
          latestRevision: f.pending
            ? { number: f.pending.number, state: f.pending.state, size: f.pending.size, md5: f.pending.md5, received: f.pending.received }
            : undefined,
        });
      }
      for (const d of folder.folders.values()) walk(d, `${prefix}/${d.name}`);
    };
    for (const dev of acc.devices.values()) for (const mp of dev.mountpoints.values()) walk(mp, `/${dev.name}/${mp.name}`);
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Folder paths (`/<device>/<mountpoint>/<path>`) with their trash state. */
  folders(acc: Account): { path: string; deleted: boolean }[] {
    const out: { path: string; deleted: boolean }[] = [];
    const walk = (folder: FolderNode, prefix: string): void => {
      for (const d of folder.folders.values()) {
        out.push({ path: `${prefix}/${d.name}`, deleted: Boolean(d.deleted) });
        walk(d, `${prefix}/${d.name}`);
      }
    };
    for (const dev of acc.devices.values()) for (const mp of dev.mountpoints.values()) walk(mp, `/${dev.name}/${mp.name}`);
    return out.sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  destroy(removeDir: boolean): void {
    if (removeDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

const MIME: Record<string, string> = {
  txt: 'text/plain',
  csv: 'text/csv',
  html: 'text/html',
  htm: 'text/html',
  json: 'application/json',
  xml: 'application/xml',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  mp3: 'audio/mpeg',
  mp4: 'video/mp4',
  doc: 'application/msword',
};

/** `<mime>` guessed from the extension; the server's real table is not in the sources. */
export function mimeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot > 0 && MIME[name.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

/** `<mstyle>` as in the listing example of §4.2 (`text/plain` → `TEXT_PLAIN`). */
export function mstyleOf(mime: string): string {
  return mime.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}
