import type { Stats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry } from '../../core/entry.js';
import { joinPath } from '../../core/paths.js';
import type { ListOptions } from '../types.js';
import { errnoCode, mapFsError } from './errors.js';
import { isInside, isPartialName, type LocalRoot } from './paths.js';

export const listPageSize = 1000;

export function toEntry(path: string, st: Stats): Entry {
  const isDir = st.isDirectory();
  return { path, isDir, size: isDir ? 0 : st.size, mtimeMs: Math.floor(st.mtimeMs), hashes: {} };
}

/**
 * Pages of `dir`'s children sorted by name (UTF-16 code units, the same in every locale).
 * The names are read whole to sort them; the stats, the costly part, are taken one page at a time.
 */
export async function* listDir(root: LocalRoot, dir: string, opts: ListOptions = {}): AsyncGenerator<Entry[]> {
  const real = await root.existing(dir, 'list');
  let names: string[];
  try {
    names = await readdir(real);
  } catch (err) {
    throw mapFsError(err, 'list', dir);
  }
  names = names.filter((n) => !isPartialName(n)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const rootReal = await root.root();
  for (let i = 0; i < names.length; i += listPageSize) {
    opts.signal?.throwIfAborted();
    const page = await Promise.all(names.slice(i, i + listPageSize).map((n) => childEntry(root, rootReal, real, dir, n)));
    const entries = page.filter((e): e is Entry => e !== null);
    if (entries.length > 0) yield entries;
  }
}

/**
 * A child as a transfer should see it, or null to leave it out. Symlinks to files inside the root
 * are listed as those files. Left out: knarr's own data directory, symlinks leading outside the root, nowhere or in a cycle, symlinks to
 * directories (their contents are already listed where they really are, and following them could
 * loop), sockets, FIFOs and devices, and children that vanished since the directory was read.
 */
async function childEntry(root: LocalRoot, rootReal: string, dirReal: string, dir: string, name: string): Promise<Entry | null> {
  const abs = join(dirReal, name);
  const path = joinPath(dir, name);
  try {
    if (await root.isHidden(abs)) return null;
    let st = await lstat(abs);
    if (st.isSymbolicLink()) {
      const target = await realpath(abs);
      if (!isInside(rootReal, target) || (await root.isHidden(target))) return null;
      st = await stat(abs);
      if (st.isDirectory()) return null;
    }
    return st.isFile() || st.isDirectory() ? toEntry(path, st) : null;
  } catch (err) {
    // ELOOP: a symlink cycle, which leads nowhere either.
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ELOOP') return null;
    throw mapFsError(err, 'list', path);
  }
}
