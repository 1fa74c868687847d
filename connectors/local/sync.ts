import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { forEachLimited } from '../../core/limit.js';
import { baseName, parentPath } from '../../core/paths.js';
import { mapFsError } from './errors.js';
import type { LocalRoot } from './paths.js';

/** Syncs in flight at once: the filesystem's journal then commits many of them together. */
const concurrency = 32;

/**
 * Group commit for files written with `syncLater`: each file's data, then each folder that got a
 * new name, is synced, so after this a crash of the machine loses none of them. Many syncs in
 * flight share the journal's commits, which is what makes this cheaper than one sync per write.
 */
export async function syncLocal(root: LocalRoot, paths: readonly string[], signal?: AbortSignal): Promise<void> {
  const dirs = new Set<string>();
  const files = paths.map((p) => {
    const rel = root.normalize(p, 'sync');
    dirs.add(parentPath(rel));
    return rel;
  });
  const syncOne = async (dirRel: string, name: string | null, rel: string) => {
    const dir = await root.ensureDir(dirRel, 'sync');
    const fh = await open(name === null ? dir : join(dir, name), 'r').catch((err: unknown) => Promise.reject(mapFsError(err, 'sync', rel)));
    try {
      await (name === null ? fh.sync() : fh.datasync());
    } catch (err) {
      throw mapFsError(err, 'sync', rel);
    } finally {
      await fh.close();
    }
  };
  await forEachLimited(files, concurrency, (rel) => { signal?.throwIfAborted(); return syncOne(parentPath(rel), baseName(rel), rel); });
  await forEachLimited([...dirs], concurrency, (rel) => { signal?.throwIfAborted(); return syncOne(rel, null, rel); });
}
