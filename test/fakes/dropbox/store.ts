/**
 * One Dropbox namespace per account: the tree (metadata in memory, keyed by `path_lower`, bodies in
 * blob files on disk), the journal of changes that list_folder cursors read from, and the space
 * used. Case-insensitive and case-preserving like Dropbox: lookups go by the lowercased path, the
 * display path keeps what the writer sent (an existing parent keeps its own case).
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface DbxNode {
  id: string;
  name: string;
  pathLower: string;
  pathDisplay: string;
  isDir: boolean;
  size: number;
  rev: string;
  contentHash: string;
  /** ms, whole seconds (Dropbox keeps client_modified to the second). */
  clientModified: number;
  serverModified: number;
  blob: string;
  /** false for a Paper doc or another file with no bytes to download. */
  downloadable: boolean;
}

export interface JournalEvent {
  seq: number;
  pathLower: string;
  pathDisplay: string;
}

/** An error as the tags of its `error_summary` (`['path', 'conflict', 'file']`), plus fields of the innermost tag. */
export class DbxFault extends Error {
  constructor(
    readonly tags: string[],
    readonly extra: Record<string, unknown> = {},
    readonly status = 409,
  ) {
    super(tags.join('/'));
  }
}

/** Names the Dropbox client never syncs and the API refuses (providers.md A.4). */
const DISALLOWED = new Set(['desktop.ini', 'thumbs.db', '.ds_store', 'icon\r', '.dropbox', '.dropbox.attr']);
export const MAX_NAME = 255;

export const lower = (p: string): string => p.toLowerCase();
const parentOf = (p: string): string => p.slice(0, Math.max(0, p.lastIndexOf('/')));
const nameOf = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** Checks a display path's names as the API would on a write; throws `malformed_path` or `disallowed_name`. */
export function checkWritable(display: string, prefix: string): void {
  for (const seg of display.split('/').slice(1)) {
    const bad =
      seg === '' || seg === '.' || seg === '..' || seg.endsWith(' ') || /[\\\x7f\0]/.test(seg) || seg.length > MAX_NAME || /[\ud800-\udfff]/.test(seg.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''));
    if (bad) throw new DbxFault([prefix, 'malformed_path']);
    if (DISALLOWED.has(seg.toLowerCase())) throw new DbxFault([prefix, 'disallowed_name']);
  }
}

export class Namespace {
  readonly nodes = new Map<string, DbxNode>();
  private readonly byId = new Map<string, DbxNode>();
  private readonly children = new Map<string, Set<string>>([['', new Set()]]);
  readonly journal: JournalEvent[] = [];
  seq = 0;
  /** Cursors from an earlier epoch get `reset` (the fault). */
  epoch = 0;
  used = 0;
  allocated = 2 * 1024 ** 4;
  private revs = 0;
  private readonly refs = new Map<string, number>();
  /** Called after every change (longpoll waiters). */
  readonly watchers = new Set<() => void>();

  constructor(
    readonly account: string,
    private readonly blobDir: string,
  ) {}

  get(pathLower: string): DbxNode | undefined {
    return this.nodes.get(pathLower);
  }

  byIdPath(id: string): DbxNode | undefined {
    return this.byId.get(id);
  }

  childrenOf(pathLower: string): DbxNode[] {
    return [...(this.children.get(pathLower) ?? [])].map((p) => this.nodes.get(p) as DbxNode);
  }

  /** Every node strictly below `pathLower` ('' = root), sorted so parents come before children. */
  below(pathLower: string): DbxNode[] {
    const out: DbxNode[] = [];
    const visit = (p: string) => {
      for (const c of this.children.get(p) ?? []) {
        const n = this.nodes.get(c) as DbxNode;
        out.push(n);
        if (n.isDir) visit(c);
      }
    };
    visit(pathLower);
    return out.sort((a, b) => (a.pathLower < b.pathLower ? -1 : a.pathLower > b.pathLower ? 1 : 0));
  }

  newRev(): string {
    return `${(0x15f000000 + ++this.revs).toString(16)}${randomBytes(3).toString('hex')}`;
  }

  blobPath(name: string): string {
    return join(this.blobDir, name);
  }

  private record(n: { pathLower: string; pathDisplay: string }): void {
    this.journal.push({ seq: ++this.seq, pathLower: n.pathLower, pathDisplay: n.pathDisplay });
    for (const w of this.watchers) w();
  }

  /** The display path for `display` below existing folders: an existing parent keeps its own case. */
  private displayUnder(display: string): string {
    const parent = parentOf(display);
    if (parent === '') return display;
    const p = this.nodes.get(lower(parent));
    return `${p ? p.pathDisplay : this.displayUnder(parent)}/${nameOf(display)}`;
  }

  /** Creates `display` and missing parents as folders; a file in the way is `conflict/file`. */
  mkdirs(display: string, prefix = 'path'): DbxNode | undefined {
    if (display === '') return undefined;
    const key = lower(display);
    const have = this.nodes.get(key);
    if (have) {
      if (!have.isDir) throw new DbxFault([prefix, 'conflict', 'file']);
      return have;
    }
    this.mkdirs(parentOf(display), prefix);
    const node: DbxNode = {
      id: newId(),
      name: nameOf(display),
      pathLower: key,
      pathDisplay: this.displayUnder(display),
      isDir: true,
      size: 0,
      rev: '',
      contentHash: '',
      clientModified: 0,
      serverModified: 0,
      blob: '',
      downloadable: true,
    };
    this.link(node);
    this.record(node);
    return node;
  }

  private link(node: DbxNode): void {
    this.nodes.set(node.pathLower, node);
    this.byId.set(node.id, node);
    const parent = parentOf(node.pathLower);
    let set = this.children.get(parent);
    if (!set) this.children.set(parent, (set = new Set()));
    set.add(node.pathLower);
    if (node.isDir && !this.children.has(node.pathLower)) this.children.set(node.pathLower, new Set());
    if (!node.isDir) {
      this.used += node.size;
      this.refs.set(node.blob, (this.refs.get(node.blob) ?? 0) + 1);
    }
  }

  private async unlink(node: DbxNode): Promise<void> {
    this.nodes.delete(node.pathLower);
    this.byId.delete(node.id);
    this.children.get(parentOf(node.pathLower))?.delete(node.pathLower);
    if (node.isDir) this.children.delete(node.pathLower);
    else {
      this.used -= node.size;
      const left = (this.refs.get(node.blob) ?? 1) - 1;
      if (left > 0) this.refs.set(node.blob, left);
      else {
        this.refs.delete(node.blob);
        await rm(this.blobPath(node.blob), { force: true });
      }
    }
  }

  /**
   * Commits a file whose bytes are in the blob `blob` (owned by the store from now on). `mode`
   * as in CommitInfo: add (conflict when a file is there), overwrite, or update from a rev.
   */
  async putFile(
    display: string,
    f: { size: number; contentHash: string; blob: string; clientModified?: number; downloadable?: boolean },
    mode: 'add' | 'overwrite' | { update: string },
  ): Promise<DbxNode> {
    const key = lower(display);
    const existing = this.nodes.get(key);
    if (existing?.isDir) throw new DbxFault(['path', 'conflict', 'folder']);
    if (existing && mode === 'add') throw new DbxFault(['path', 'conflict', 'file']);
    if (existing && typeof mode === 'object' && existing.rev !== mode.update) throw new DbxFault(['path', 'conflict', 'file']);
    if (!existing && this.used + f.size > this.allocated) throw new DbxFault(['path', 'insufficient_space']);
    if (existing && this.used - existing.size + f.size > this.allocated) throw new DbxFault(['path', 'insufficient_space']);
    this.mkdirs(parentOf(display));
    const now = Date.now();
    const node: DbxNode = {
      id: existing?.id ?? newId(),
      name: existing?.name ?? nameOf(display),
      pathLower: key,
      pathDisplay: existing?.pathDisplay ?? this.displayUnder(display),
      isDir: false,
      size: f.size,
      rev: this.newRev(),
      contentHash: f.contentHash,
      clientModified: Math.floor((f.clientModified ?? now) / 1000) * 1000,
      serverModified: Math.floor(now / 1000) * 1000,
      blob: f.blob,
      downloadable: f.downloadable ?? true,
    };
    if (existing) await this.unlink(existing);
    this.link(node);
    this.record(node);
    return node;
  }

  /** Removes a file or a folder with everything below it; the journal records the top path. */
  async remove(node: DbxNode): Promise<void> {
    if (node.isDir) for (const n of this.below(node.pathLower).reverse()) await this.unlink(n);
    await this.unlink(node);
    this.record(node);
  }

  /** Moves `node` (and its subtree) to `display`; the old path is journalled as gone, every new one as new. */
  move(node: DbxNode, display: string): DbxNode {
    const key = lower(display);
    const target = this.nodes.get(key);
    if (target && target !== node) throw new DbxFault(['to', 'conflict', target.isDir ? 'folder' : 'file']);
    if (key.startsWith(`${node.pathLower}/`)) throw new DbxFault(['cant_move_folder_into_itself']);
    this.mkdirs(parentOf(display), 'to');
    const old = { pathLower: node.pathLower, pathDisplay: node.pathDisplay };
    const moved = [node, ...(node.isDir ? this.below(node.pathLower) : [])];
    for (const n of moved) {
      this.nodes.delete(n.pathLower);
      this.children.get(parentOf(n.pathLower))?.delete(n.pathLower);
      if (n.isDir) this.children.delete(n.pathLower);
    }
    const newDisplay = this.displayUnder(display);
    for (const n of moved) {
      n.pathLower = key + n.pathLower.slice(old.pathLower.length);
      n.pathDisplay = newDisplay + n.pathDisplay.slice(old.pathDisplay.length);
      n.name = nameOf(n.pathDisplay);
      this.nodes.set(n.pathLower, n);
      let set = this.children.get(parentOf(n.pathLower));
      if (!set) this.children.set(parentOf(n.pathLower), (set = new Set()));
      set.add(n.pathLower);
      if (n.isDir && !this.children.has(n.pathLower)) this.children.set(n.pathLower, new Set());
    }
    if (old.pathLower !== key) this.record(old);
    for (const n of moved) this.record(n);
    return node;
  }

  /** Copies a file or folder tree to `display`; blobs are shared (immutable). */
  copy(node: DbxNode, display: string): DbxNode {
    const key = lower(display);
    const target = this.nodes.get(key);
    if (target) throw new DbxFault(['to', 'conflict', target.isDir ? 'folder' : 'file']);
    if (key.startsWith(`${node.pathLower}/`)) throw new DbxFault(['cant_copy_into_itself']);
    const subtree = node.isDir ? this.below(node.pathLower) : [];
    const size = (node.isDir ? subtree : [node]).reduce((s, n) => s + (n.isDir ? 0 : n.size), 0);
    if (this.used + size > this.allocated) throw new DbxFault(['to', 'insufficient_space']);
    if (!node.isDir) return this.copyFile(node, display);
    const top = this.mkdirs(display, 'to') as DbxNode;
    for (const n of subtree) {
      const rel = n.pathDisplay.slice(node.pathDisplay.length);
      if (n.isDir) this.mkdirs(top.pathDisplay + rel, 'to');
      else this.copyFile(n, top.pathDisplay + rel);
    }
    return top;
  }

  private copyFile(src: DbxNode, display: string): DbxNode {
    this.mkdirs(parentOf(display), 'to');
    const node: DbxNode = { ...src, id: newId(), name: nameOf(display), pathLower: lower(display), pathDisplay: this.displayUnder(display), rev: this.newRev(), serverModified: Math.floor(Date.now() / 1000) * 1000 };
    this.link(node);
    this.record(node);
    return node;
  }

  /** Journal events after `seq`, latest per path, that a cursor on `pathLower` (recursive or not) sees. */
  changesSince(seq: number, pathLower: string, recursive: boolean): JournalEvent[] {
    const latest = new Map<string, JournalEvent>();
    for (let i = this.journal.length - 1; i >= 0 && this.journal[i].seq > seq; i--) {
      const e = this.journal[i];
      if (latest.has(e.pathLower)) continue;
      const inside = pathLower === '' ? true : e.pathLower.startsWith(`${pathLower}/`);
      if (!inside) continue;
      if (!recursive && parentOf(e.pathLower) !== pathLower) continue;
      latest.set(e.pathLower, e);
    }
    return [...latest.values()].sort((a, b) => (a.pathLower < b.pathLower ? -1 : 1));
  }
}

function newId(): string {
  return `id:${randomBytes(16).toString('base64url').slice(0, 22)}`;
}
