import { constants } from 'node:fs';
import { copyFile, cp, lstat, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Entry } from '../../core/entry.js';
import { baseName, parentPath } from '../../core/paths.js';
import { ConnectorError } from '../errors.js';
import { errnoCode, invalidName, mapFsError } from './errors.js';
import { toEntry } from './list.js';
import { partialNameFor, type LocalRoot } from './paths.js';
import { utimeSeconds } from './write.js';

/** A rename inside the root, creating the target's parents; replaces a file at the target. */
export async function moveLocal(root: LocalRoot, from: string, to: string): Promise<Entry> {
  const [src, dst, fromRel, toRel] = await endpoints(root, 'move', from, to, false);
  if (fromRel === toRel) return toEntry(toRel, await call(stat(src), 'move', fromRel));
  // A moved folder is no longer where the remembered path says.
  root.forget(fromRel);
  try {
    await rename(src, dst);
  } catch (err) {
    // A second filesystem mounted inside the root: rename cannot cross it, a copy can.
    if (errnoCode(err) !== 'EXDEV') throw mapFsError(err, 'move', fromRel);
    await call(cp(src, dst, { recursive: true, preserveTimestamps: true, force: true, verbatimSymlinks: true }), 'move', toRel);
    await call(rm(src, { recursive: true }), 'move', fromRel);
  }
  return toEntry(toRel, await call(stat(dst), 'move', toRel));
}

/**
 * A file copy (reflinked where the filesystem can) through a hidden partial name, so the target
 * appears whole and with the source's modification time.
 */
export async function copyLocal(root: LocalRoot, from: string, to: string): Promise<Entry> {
  const [src, dst, fromRel, toRel] = await endpoints(root, 'copy', from, to, true);
  const st = await call(stat(src), 'copy', fromRel);
  if (st.isDirectory()) throw new ConnectorError('unsupported', `copy ${JSON.stringify(fromRel)}: copies files only, this is a folder`);
  if (fromRel === toRel) return toEntry(toRel, st);
  const temp = join(dirname(dst), partialNameFor(baseName(toRel), 'copy'));
  try {
    await copyFile(src, temp, constants.COPYFILE_FICLONE);
    const t = utimeSeconds(Math.floor(st.mtimeMs));
    await utimes(temp, t, t);
    await rename(temp, dst);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw mapFsError(err, 'copy', toRel);
  }
  return toEntry(toRel, await call(stat(dst), 'copy', toRel));
}

/**
 * Resolves both ends: the source must exist (read through symlinks for a copy, the link itself
 * for a move); the target's parents are created and a folder already at the target is refused.
 */
async function endpoints(root: LocalRoot, op: string, from: string, to: string, followSource: boolean): Promise<[string, string, string, string]> {
  const fromRel = root.normalize(from, op);
  const toRel = root.normalize(to, op);
  if (fromRel === '' || toRel === '') throw invalidName(op, fromRel === '' ? from : to, "is the remote's root");
  if (toRel.startsWith(`${fromRel}/`)) throw new ConnectorError('conflict', `${op} ${JSON.stringify(fromRel)}: cannot go inside itself (${JSON.stringify(toRel)})`);
  const src = followSource ? await root.existing(fromRel, op) : await root.itself(fromRel, op);
  await call(lstat(src), op, fromRel);
  await root.ensureDir(parentPath(toRel), op);
  const dst = await root.itself(toRel, op);
  const there = await lstat(dst).catch(() => null);
  if (there?.isDirectory() && toRel !== fromRel) throw new ConnectorError('conflict', `${op} to ${JSON.stringify(toRel)}: a folder is already there`);
  return [src, dst, fromRel, toRel];
}

async function call<T>(p: Promise<T>, op: string, rel: string): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw mapFsError(err, op, rel);
  }
}
