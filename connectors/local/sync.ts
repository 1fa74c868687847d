import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { forEachLimited } from '../../core/limit.js';
import { baseName, parentPath } from '../../core/paths.js';
import { ConnectorError } from '../errors.js';
import { mapFsError } from './errors.js';
import { syncFilesystems } from './fsThreads.js';
import type { LocalRoot } from './paths.js';

/** Syncs in flight at once on the fallback path: the filesystem's journal then commits many of them together. */
const concurrency = 32;

/**
 * Group commit for files written with `syncLater`: after this, a crash of the machine loses none
 * of them, nor their names in their folders. On Linux that is syncfs(2) once per filesystem
 * (through coreutils' `sync --file-system`, as Node has no binding for it): one call instead of
 * an open, fdatasync and close per file, and about four times cheaper for thousands of small
 * files. Its cost: it also waits for other programs' unwritten data on the same filesystem.
 * Elsewhere, each file's data and then each folder is synced, many at once.
 */
export async function syncLocal(root: LocalRoot, paths: readonly string[], signal?: AbortSignal): Promise<void> {
  const dirs = new Set<string>();
  const files = paths.map((p) => {
    const rel = root.normalize(p, 'sync');
    dirs.add(parentPath(rel));
    return rel;
  });
  if (files.length === 0) return;
  if (syncfsAvailable) {
    signal?.throwIfAborted();
    const abs = await Promise.all(files.map(async (rel) => join(await root.ensureDir(parentPath(rel), 'sync'), baseName(rel))));
    const done = await syncFilesystems(abs);
    if (done.kind === 'synced') return;
    if (done.kind === 'missing') throw mapFsError(Object.assign(new Error('missing'), { code: 'ENOENT' }), 'sync', files[done.index]);
    if (done.kind === 'failed') {
      // Paths relative to the remote in the message, as in every local error.
      const why = done.why.replaceAll(await root.root(), '<root>');
      throw new ConnectorError('transient', `sync: the filesystem failed to write its data to disk: ${why}`);
    }
    syncfsAvailable = false;
  }
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

/** Whether syncfs works here: false off Linux, or once `sync --file-system` turned out missing. */
let syncfsAvailable = process.platform === 'linux';
