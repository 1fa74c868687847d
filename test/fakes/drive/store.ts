/**
 * The Drive emulator's state: every file and folder as Drive keeps them (ids, parents, names that
 * may repeat in one folder, trash), the bodies of binary files on disk with real MD5/SHA-1/SHA-256,
 * Google Docs without bytes, shortcuts, shared drives, and the change log that `changes.list`
 * answers from. Every mutation, through the API or the handle's helpers, goes through here and is
 * recorded as a change, so the feed reflects everything since any start page token.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';

export const FOLDER_MIME = 'application/vnd.google-apps.folder';
export const SHORTCUT_MIME = 'application/vnd.google-apps.shortcut';
export const GOOGLE_APPS_PREFIX = 'application/vnd.google-apps.';

export const docKinds = {
  document: 'application/vnd.google-apps.document',
  spreadsheet: 'application/vnd.google-apps.spreadsheet',
  presentation: 'application/vnd.google-apps.presentation',
  drawing: 'application/vnd.google-apps.drawing',
  form: 'application/vnd.google-apps.form',
} as const;
export type DocKind = keyof typeof docKinds;

export interface Digests {
  md5: string;
  sha1: string;
  sha256: string;
}

export interface DriveItem {
  id: string;
  name: string;
  mimeType: string;
  parents: string[];
  /** The shared drive it lives in; absent in My Drive. */
  driveId?: string;
  trashed: boolean;
  /** Trashed along with this folder (not by itself): restored with it. */
  trashedWith?: string;
  createdTime: number;
  modifiedTime: number;
  /** Binary files: bytes on disk. */
  size?: number;
  digests?: Digests;
  blob?: string;
  /** Google Docs: the text their exports are made of. */
  docText?: string;
  shortcutTargetId?: string;
  /** Bumped on every change of content or metadata. */
  version: number;
}

export interface Change {
  /** 1-based position in the log; a page token names the first change it returns. */
  seq: number;
  fileId: string;
  removed: boolean;
  time: number;
  driveId?: string;
}

export const MY_DRIVE_ROOT = '0AEmuMyDriveRootFolder';

function newId(): string {
  // Drive ids are 33 characters of base64url-ish text; anything opaque works for clients.
  return `1${randomBytes(24).toString('base64url')}`.slice(0, 33);
}

const ZERO_DIGESTS: Digests = {
  md5: createHash('md5').digest('hex'),
  sha1: createHash('sha1').digest('hex'),
  sha256: createHash('sha256').digest('hex'),
};

export class DigestStream {
  private readonly h = { md5: createHash('md5'), sha1: createHash('sha1'), sha256: createHash('sha256') };
  update(b: Buffer): void {
    this.h.md5.update(b);
    this.h.sha1.update(b);
    this.h.sha256.update(b);
  }
  copy(): DigestStream {
    const c = Object.create(DigestStream.prototype) as DigestStream;
    (c as unknown as { h: DigestStream['h'] }).h = { md5: this.h.md5.copy(), sha1: this.h.sha1.copy(), sha256: this.h.sha256.copy() };
    return c;
  }
  digest(): Digests {
    return { md5: this.h.md5.digest('hex'), sha1: this.h.sha1.digest('hex'), sha256: this.h.sha256.digest('hex') };
  }
}

export class DriveStore {
  readonly items = new Map<string, DriveItem>();
  /** parent id → ids of its children (trashed ones included), so listing a folder never scans the drive. */
  private readonly childIndex = new Map<string, Set<string>>();
  readonly drives = new Map<string, { id: string; name: string }>();
  readonly changes: Change[] = [];
  /** Page token = tokenBase + position in the log; forgetting every token moves the base far away. */
  private tokenBase = 0;
  /** Positions below this are refused (a fault: the feed forgot them). */
  private oldestSeq = 1;
  private blobSeq = 0;

  constructor(readonly dataDir: string) {
    this.put({ id: MY_DRIVE_ROOT, name: 'My Drive', mimeType: FOLDER_MIME, parents: [], trashed: false, createdTime: Date.now(), modifiedTime: Date.now(), version: 1 });
  }

  get blobDir(): string {
    return join(this.dataDir, 'blobs');
  }

  async init(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true });
  }

  /** A fresh path for a body; bodies are never rewritten in place, so a reader keeps its version. */
  blobPath(): string {
    return join(this.blobDir, `b${++this.blobSeq}`);
  }

  resolveId(id: string): string {
    return id === 'root' ? MY_DRIVE_ROOT : id;
  }

  get(id: string): DriveItem | undefined {
    return this.items.get(this.resolveId(id));
  }

  isFolder(item: DriveItem): boolean {
    return item.mimeType === FOLDER_MIME;
  }

  children(parentId: string, includeTrashed = false): DriveItem[] {
    const out: DriveItem[] = [];
    for (const id of this.childIndex.get(parentId) ?? []) {
      const it = this.items.get(id);
      if (it && (includeTrashed || !it.trashed)) out.push(it);
    }
    return out;
  }

  private put(item: DriveItem): void {
    this.items.set(item.id, item);
    for (const p of item.parents) {
      let set = this.childIndex.get(p);
      if (!set) this.childIndex.set(p, (set = new Set()));
      set.add(item.id);
    }
  }

  private unindex(item: DriveItem): void {
    for (const p of item.parents) this.childIndex.get(p)?.delete(item.id);
  }

  /** Trashed itself or below a trashed folder: Drive hides both from `trashed = false` queries. */
  effectivelyTrashed(item: DriveItem): boolean {
    for (let it: DriveItem | undefined = item, depth = 0; it && depth < 100; it = this.items.get(it.parents[0] ?? ''), depth++) if (it.trashed) return true;
    return false;
  }

  addSharedDrive(name: string): string {
    const id = `0A${randomBytes(12).toString('base64url')}`.slice(0, 19);
    this.drives.set(id, { id, name });
    this.put({ id, name, mimeType: FOLDER_MIME, parents: [], driveId: id, trashed: false, createdTime: Date.now(), modifiedTime: Date.now(), version: 1 });
    return id;
  }

  /** Drive answers a change with the file as it is when asked, so only the id is kept. */
  private record(fileId: string, removed: boolean, driveId?: string): void {
    this.changes.push({ seq: this.changes.length + 1, fileId, removed, time: Date.now(), driveId });
  }

  /** The token of the next change to happen. */
  startPageToken(): number {
    return this.tokenBase + this.changes.length + 1;
  }

  /** The log position a page token names; undefined for a token this feed does not (or no longer) know. */
  seqOf(token: number): number | undefined {
    const seq = token - this.tokenBase;
    return Number.isInteger(seq) && seq >= this.oldestSeq && seq <= this.changes.length + 1 ? seq : undefined;
  }

  tokenOf(seq: number): number {
    return this.tokenBase + seq;
  }

  /** Every page token issued so far stops working. */
  forgetTokens(): void {
    this.tokenBase += this.changes.length + 1_000_000;
    this.oldestSeq = this.changes.length + 1;
  }

  create(fields: Partial<DriveItem> & { name: string; mimeType: string; parents: string[] }): DriveItem {
    const parent = this.get(fields.parents[0]);
    const now = Date.now();
    const item: DriveItem = {
      trashed: false,
      createdTime: now,
      modifiedTime: now,
      version: 1,
      ...fields,
      id: fields.id ?? newId(),
      parents: fields.parents.map((p) => this.resolveId(p)),
      driveId: parent?.driveId,
    };
    if (!this.isFolder(item) && !item.mimeType.startsWith(GOOGLE_APPS_PREFIX) && item.size === undefined) {
      item.size = 0;
      item.digests = ZERO_DIGESTS;
    }
    this.put(item);
    this.record(item.id, false, item.driveId);
    return item;
  }

  update(item: DriveItem, patch: Partial<DriveItem>, oldBlob?: string): DriveItem {
    this.unindex(item);
    Object.assign(item, patch);
    this.put(item);
    item.version++;
    this.record(item.id, false, item.driveId);
    if (oldBlob && oldBlob !== item.blob) void rm(oldBlob, { force: true });
    return item;
  }

  /** Permanent deletion: the item and, for a folder, everything below it. */
  remove(item: DriveItem): void {
    for (const child of this.children(item.id, true)) {
      // A child with another parent keeps living there.
      if (child.parents.length > 1) this.update(child, { parents: child.parents.filter((p) => p !== item.id) });
      else this.remove(child);
    }
    this.unindex(item);
    this.childIndex.delete(item.id);
    this.items.delete(item.id);
    if (item.blob) void rm(item.blob, { force: true });
    this.record(item.id, true, item.driveId);
  }

  async copyBody(from: DriveItem): Promise<Pick<DriveItem, 'blob' | 'size' | 'digests'>> {
    if (!from.blob) return { size: from.size, digests: from.digests };
    const blob = this.blobPath();
    await copyFile(from.blob, blob);
    return { blob, size: from.size, digests: from.digests };
  }

  async writeBody(data: Buffer): Promise<Pick<DriveItem, 'blob' | 'size' | 'digests'>> {
    const blob = this.blobPath();
    const d = new DigestStream();
    d.update(data);
    const ws = createWriteStream(blob);
    ws.end(data);
    await finished(ws);
    return { blob, size: data.length, digests: d.digest() };
  }

  /** A body of `size` bytes made of one random block repeated (fast for 1 GiB), or `fill` bytes. */
  async writeGenerated(size: number, fill?: number): Promise<Pick<DriveItem, 'blob' | 'size' | 'digests'>> {
    const blob = this.blobPath();
    const block = fill === undefined ? randomBytes(1 << 20) : Buffer.alloc(1 << 20, fill);
    const d = new DigestStream();
    const ws = createWriteStream(blob, { highWaterMark: 1 << 22 });
    for (let left = size; left > 0; ) {
      const piece = left >= block.length ? block : block.subarray(0, left);
      d.update(piece);
      left -= piece.length;
      if (!ws.write(piece)) await new Promise<void>((r) => ws.once('drain', () => r()));
    }
    ws.end();
    await finished(ws);
    return { blob, size, digests: d.digest() };
  }

  async readBody(item: DriveItem): Promise<Buffer> {
    return item.blob ? readFile(item.blob) : Buffer.alloc(0);
  }

  bodyStream(item: DriveItem, start: number, end: number): NodeJS.ReadableStream {
    return createReadStream(item.blob as string, { start, end, highWaterMark: 256 * 1024 });
  }

  async blobSize(path: string): Promise<number> {
    return (await stat(path)).size;
  }

  /** The path of an item below `rootId`, by first parents; undefined when it is elsewhere. */
  pathOf(item: DriveItem, rootId = MY_DRIVE_ROOT): string | undefined {
    const names: string[] = [];
    for (let it: DriveItem | undefined = item, depth = 0; it && depth < 200; depth++) {
      if (it.id === rootId) return names.reverse().join('/');
      names.push(it.name);
      it = this.items.get(it.parents[0] ?? '');
    }
    return undefined;
  }
}
