/**
 * The user's files: an in-memory tree of folders and files whose bodies are blob files in a temp
 * dir (so a 1 GiB file costs a file on disk, not a Buffer). Etags change on every write and
 * propagate to the ancestors, like Nextcloud's; file ids are integers that survive a MOVE and
 * an overwrite (Nextcloud keeps the id when a PUT replaces a file).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface FileNode {
  kind: 'file';
  name: string;
  parent: DirNode;
  fileId: number;
  etag: string;
  /** Whole seconds, as Nextcloud stores them. */
  mtime: number;
  size: number;
  blob: string;
  /** The OC-Checksum header as the uploader sent it (trimmed), '' when none. */
  checksum: string;
  contentType: string;
  /** Dead properties set by PROPPATCH (Nextcloud's custom properties backend). */
  dead: Map<string, string>;
}

export interface DirNode {
  kind: 'dir';
  name: string;
  parent: DirNode | undefined;
  fileId: number;
  etag: string;
  mtime: number;
  children: Map<string, Node>;
  /** Dead properties set by PROPPATCH (Nextcloud's custom properties backend). */
  dead: Map<string, string>;
}

export type Node = FileNode | DirNode;

/** Nextcloud's etags are uniqid()-like hex strings; quoted only on the wire. */
export const newEtag = (): string => randomBytes(8).toString('hex').slice(0, 13);

const MIME: Record<string, string> = {
  txt: 'text/plain',
  md: 'text/markdown',
  html: 'text/html',
  json: 'application/json',
  xml: 'application/xml',
  pdf: 'application/pdf',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  zip: 'application/zip',
  mp4: 'video/mp4',
  bin: 'application/octet-stream',
};

export function contentTypeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot > 0 && MIME[name.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

export class Store {
  readonly root: DirNode;
  private nextId = 1;
  private nextBlob = 1;
  readonly blobDir: string;

  constructor(
    readonly dataDir: string,
    private readonly nowSec: () => number,
  ) {
    this.blobDir = join(dataDir, 'blobs');
    mkdirSync(this.blobDir, { recursive: true });
    this.root = this.newDir('', undefined);
  }

  newDir(name: string, parent: DirNode | undefined): DirNode {
    return { kind: 'dir', name, parent, fileId: this.nextId++, etag: newEtag(), mtime: this.nowSec(), children: new Map(), dead: new Map() };
  }

  /** A fresh blob path nobody uses yet; the caller writes it. */
  newBlobPath(): string {
    return join(this.blobDir, `b${this.nextBlob++}`);
  }

  lookup(segs: readonly string[]): Node | undefined {
    let cur: Node = this.root;
    for (const s of segs) {
      if (cur.kind !== 'dir') return undefined;
      const next = cur.children.get(s);
      if (!next) return undefined;
      cur = next;
    }
    return cur;
  }

  pathOf(node: Node): string[] {
    const out: string[] = [];
    for (let n: Node | undefined = node; n && n.parent; n = n.parent) out.unshift(n.name);
    return out;
  }

  /** A folder changed below: new etags up to the root, and the parent's mtime moves (Nextcloud propagates both). */
  touchUp(dir: DirNode | undefined, mtime = this.nowSec()): void {
    for (let d = dir; d; d = d.parent) {
      d.etag = newEtag();
      if (d === dir) d.mtime = Math.max(d.mtime, mtime);
    }
  }

  /** A node's own properties changed: a new etag for it, and for its folders up to the root. */
  touchEtag(node: Node): string {
    this.touchUp(node.parent);
    return newEtag();
  }

  mkdir(parent: DirNode, name: string): DirNode {
    const d = this.newDir(name, parent);
    parent.children.set(name, d);
    this.touchUp(parent);
    return d;
  }

  /** Puts a finished blob in place as `parent/name`, keeping the file id of a file it replaces. */
  putFile(parent: DirNode, name: string, blob: string, size: number, mtime: number, checksum: string): FileNode {
    const old = parent.children.get(name);
    let node: FileNode;
    if (old && old.kind === 'file') {
      this.dropBlob(old.blob);
      node = old;
      Object.assign(node, { blob, size, mtime, checksum, etag: newEtag(), contentType: contentTypeOf(name) });
    } else {
      if (old) this.removeTree(old);
      node = { kind: 'file', name, parent, fileId: this.nextId++, etag: newEtag(), mtime, size, blob, checksum, contentType: contentTypeOf(name), dead: new Map() };
      parent.children.set(name, node);
    }
    this.touchUp(parent);
    return node;
  }

  /** Unlinks a node (and its subtree's blobs). */
  remove(node: Node): void {
    if (!node.parent) throw new Error('cannot remove the root');
    node.parent.children.delete(node.name);
    this.touchUp(node.parent);
    this.removeTree(node);
  }

  private removeTree(node: Node): void {
    if (node.kind === 'file') this.dropBlob(node.blob);
    else for (const c of node.children.values()) this.removeTree(c);
  }

  dropBlob(blob: string): void {
    try {
      unlinkSync(blob);
    } catch {
      /* already gone */
    }
  }

  /** Moves a node under a new parent and name (ids and etags of the moved tree are kept, like Nextcloud's). */
  move(node: Node, parent: DirNode, name: string): void {
    if (!node.parent) throw new Error('cannot move the root');
    node.parent.children.delete(node.name);
    this.touchUp(node.parent);
    const old = parent.children.get(name);
    if (old) this.removeTree(old);
    node.name = name;
    node.parent = parent;
    parent.children.set(name, node);
    this.touchUp(parent);
  }

  /** Deep copy with new ids; blobs are copied by the caller-supplied function (files on disk). */
  copy(node: Node, parent: DirNode, name: string, copyBlob: (from: string) => string): Node {
    const old = parent.children.get(name);
    if (old) {
      parent.children.delete(name);
      this.removeTree(old);
    }
    const clone = (n: Node, p: DirNode, nm: string): Node => {
      if (n.kind === 'file') {
        const f: FileNode = { ...n, name: nm, parent: p, fileId: this.nextId++, etag: newEtag(), blob: copyBlob(n.blob), dead: new Map(n.dead) };
        p.children.set(nm, f);
        return f;
      }
      const d = this.newDir(nm, p);
      d.mtime = n.mtime;
      p.children.set(nm, d);
      for (const c of n.children.values()) clone(c, d, c.name);
      return d;
    };
    const out = clone(node, parent, name);
    this.touchUp(parent);
    return out;
  }

  /** Bytes below a node (oc:size of a folder is its recursive size). */
  sizeOf(node: Node): number {
    if (node.kind === 'file') return node.size;
    let total = 0;
    for (const c of node.children.values()) total += this.sizeOf(c);
    return total;
  }

  used(): number {
    return this.sizeOf(this.root);
  }

  readBlob(blob: string): Buffer {
    return readFileSync(blob);
  }

  blobSize(blob: string): number {
    return statSync(blob).size;
  }

  destroy(removeDir: boolean): void {
    if (removeDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
