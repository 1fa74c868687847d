import { createHash } from 'node:crypto';
import { lstat, mkdir, readlink, realpath, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { parentPath } from '../../core/paths.js';
import { ConnectorError } from '../errors.js';
import { errnoCode, invalidName, mapFsError } from './errors.js';
import { connectorPath } from '../shared/paths.js';
import type { HostPolicy } from '../types.js';
import { ResolvedPolicy } from './policy.js';

/** ext4, xfs, btrfs and most NAS filesystems limit one name to 255 bytes. */
export const maxNameBytes = 255;

const partialSuffix = '.knarr-partial';

/** Unfinished uploads live under these names; they are hidden from listings and never addressable. */
export function isPartialName(name: string): boolean {
  return name.startsWith('.') && name.endsWith(partialSuffix);
}

/**
 * The hidden name beside `name` where an unfinished write (or copy) collects its bytes. Derived
 * from the target alone, so a resumed write finds it again without trusting a path from outside.
 */
export function partialNameFor(name: string, purpose: 'write' | 'copy' | 'parts' = 'write'): string {
  // A file written in parallel parts is full-length from the start, so it must never be mistaken
  // for a single-stream partial, which resumes at its size.
  const tag = purpose === 'write' ? '' : `.${purpose}`;
  const plain = `.${name}${tag}${partialSuffix}`;
  if (Buffer.byteLength(plain) <= maxNameBytes) return plain;
  return `.${createHash('sha1').update(name).digest('hex')}${tag}${partialSuffix}`;
}

/**
 * The remote's root folder and the only ways to turn a remote path into a path on disk. Every
 * result has been checked to lie inside the root after following symlinks, so neither '..' nor a
 * symlink (in the last segment or any parent) can reach outside it. A rename of a directory into
 * a symlink between the check and the use can still race; that needs an attacker with write
 * access inside the root, who could as well change the files themselves.
 */
export class LocalRoot {
  private real: Promise<string> | undefined;
  /**
   * Real paths of folders already found inside the root, by remote path: a copy of many files
   * into one folder resolves and checks that folder once, not once per file. A folder removed
   * behind knarr's back is forgotten (`forget`) when an open under it finds nothing.
   */
  private readonly dirs = new Map<string, Promise<string>>();

  private readonly policy: ResolvedPolicy;

  constructor(private readonly configured: string, host: HostPolicy) {
    this.policy = new ResolvedPolicy(host);
  }

  /** The root's real path, resolved once: a root that is later swapped for a symlink is not followed. */
  root(): Promise<string> {
    this.real ??= this.resolveRoot().catch((err: unknown) => {
      // Not cached: a NAS that was not mounted yet may be there on the next attempt.
      this.real = undefined;
      throw err;
    });
    return this.real;
  }

  private async resolveRoot(): Promise<string> {
    try {
      const real = await realpath(this.configured);
      const problem = await this.policy.rootProblem(real, this.configured);
      if (problem) throw new ConnectorError('forbidden', problem);
      if ((await stat(real)).isDirectory()) return real;
    } catch (err) {
      if (err instanceof ConnectorError) throw err;
      if (errnoCode(err) === 'ENOENT') throw new ConnectorError('not_found', `the local remote's root folder does not exist: ${this.configured}`, { cause: err });
      throw mapFsError(err, 'open the root', '');
    }
    throw new ConnectorError('conflict', `the local remote's root is not a folder: ${this.configured}`);
  }

  /** The caller's path in core/paths.ts form, or invalid_name when no file could ever have it. */
  normalize(input: string, op: string): string {
    const rel = connectorPath(input, op);
    for (const seg of rel === '' ? [] : rel.split('/')) {
      if (Buffer.byteLength(seg) > maxNameBytes) throw invalidName(op, input, `a name is longer than ${maxNameBytes} bytes`);
      if (isPartialName(seg)) throw invalidName(op, input, `names ending in '${partialSuffix}' are reserved for unfinished uploads`);
    }
    return rel;
  }

  /** Real path of an existing object with every symlink followed. */
  async existing(rel: string, op: string): Promise<string> {
    const root = await this.root();
    if (rel === '') return root;
    let real: string;
    try {
      real = await realpath(join(root, rel));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') await assertNearestInside(root, rel, op);
      throw mapFsError(err, op, rel);
    }
    assertInside(root, real, rel, op);
    await this.assertVisible(real, rel, op);
    return real;
  }

  /** Knarr's own data directory inside a root answers as if it were not there. */
  private async assertVisible(real: string, rel: string, op: string): Promise<void> {
    if (await this.policy.isHidden(real)) throw new ConnectorError('not_found', `${op} ${JSON.stringify(rel)}: not found`);
  }

  /** Whether a child a listing found is knarr's own data, to be left out. */
  isHidden(real: string): Promise<boolean> {
    return this.policy.isHidden(real);
  }

  /**
   * The object itself, not what a final symlink points to (delete, move and write act on the
   * link). Its parents are resolved; a final symlink must still point inside the root.
   */
  async itself(rel: string, op: string): Promise<string> {
    const parent = await this.existing(parentPath(rel), op);
    const abs = join(parent, rel.slice(rel.lastIndexOf('/') + 1));
    await assertLinkInside(await this.root(), abs, rel, op);
    await this.assertVisible(abs, rel, op);
    return abs;
  }

  /** The real path of an existing folder (remembered), or not_found. */
  realDir(rel: string, op: string): Promise<string> {
    return this.remember(rel, async () => {
      const real = await this.existing(rel, op);
      if (!(await stat(real).catch((err: unknown) => Promise.reject(mapFsError(err, op, rel)))).isDirectory()) {
        throw new ConnectorError('conflict', `${op} ${JSON.stringify(rel)}: a file is in the way of a folder`);
      }
      return real;
    });
  }

  /** Creates `rel` and its missing parents without ever creating through a symlink that leaves the root; remembered. */
  ensureDir(rel: string, op: string): Promise<string> {
    return this.remember(rel, () => this.makeDir(rel, op));
  }

  /** Drops what is remembered of `rel` and the folders below it. */
  forget(rel: string): void {
    for (const key of this.dirs.keys()) if (key === rel || rel === '' || key.startsWith(`${rel}/`)) this.dirs.delete(key);
  }

  private remember(rel: string, find: () => Promise<string>): Promise<string> {
    let known = this.dirs.get(rel);
    if (!known) {
      // Bounded: a tree of a million folders must not keep every path.
      if (this.dirs.size >= 10_000) this.dirs.clear();
      known = find();
      known.catch(() => this.dirs.get(rel) === known && this.dirs.delete(rel));
      this.dirs.set(rel, known);
    }
    return known;
  }

  private async makeDir(rel: string, op: string): Promise<string> {
    let real: string;
    try {
      real = await this.existing(rel, op);
    } catch (err) {
      if (!(err instanceof ConnectorError && err.kind === 'not_found')) throw err;
      real = await this.createDirs(rel, op);
    }
    let isDir: boolean;
    try {
      isDir = (await stat(real)).isDirectory();
    } catch (err) {
      throw mapFsError(err, op, rel);
    }
    if (!isDir) throw new ConnectorError('conflict', `${op} ${JSON.stringify(rel)}: a file is in the way of a folder`);
    return real;
  }

  private async createDirs(rel: string, op: string): Promise<string> {
    const root = await this.root();
    let cur = root;
    let done = '';
    for (const seg of rel.split('/')) {
      done = done === '' ? seg : `${done}/${seg}`;
      const next = join(cur, seg);
      try {
        await mkdir(next);
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw mapFsError(err, op, done);
      }
      try {
        cur = await realpath(next);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') throw invalidName(op, done, 'is a symbolic link to nothing');
        throw mapFsError(err, op, done);
      }
      assertInside(root, cur, done, op);
      await this.assertVisible(cur, done, op);
    }
    return cur;
  }
}

/** True when `real` (already free of symlinks) is `root` or below it. */
export function isInside(root: string, real: string): boolean {
  return real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);
}

function assertInside(root: string, real: string, rel: string, op: string): void {
  if (!isInside(root, real)) throw invalidName(op, rel, "leads outside the remote's root through a symbolic link");
}

async function assertLinkInside(root: string, abs: string, rel: string, op: string): Promise<void> {
  let isLink: boolean;
  try {
    isLink = (await lstat(abs)).isSymbolicLink();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw mapFsError(err, op, rel);
  }
  if (!isLink) return;
  try {
    assertInside(root, await realpath(abs), rel, op);
  } catch (err) {
    if (err instanceof ConnectorError) throw err;
    if (errnoCode(err) !== 'ENOENT') throw mapFsError(err, op, rel);
    // A dangling link: judge it by where it would lead once its target exists.
    const target = await readlink(abs).catch((e: unknown) => {
      throw mapFsError(e, op, rel);
    });
    assertInside(root, resolve(dirname(abs), target), rel, op);
  }
}

/**
 * For a path that does not exist: invalid_name when its nearest existing ancestor lies outside the
 * root, so not_found never tells whether something exists beyond a symlink that leads out.
 */
async function assertNearestInside(root: string, rel: string, op: string): Promise<void> {
  for (let dir = parentPath(rel); dir !== ''; dir = parentPath(dir)) {
    const real = await realpath(join(root, dir)).catch(() => null);
    if (real !== null) return assertInside(root, real, rel, op);
  }
}
