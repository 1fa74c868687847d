// @ts-check
// The body of a local-filesystem thread (fsThreads.ts). Plain JavaScript, so a thread starts
// without a loader. Each message is one whole small-file operation done with blocking calls:
// one round trip from the main thread instead of four to seven asynchronous ones, which is what
// a copy of many small files spends its time on. Paths arrive already checked by LocalRoot; the
// checks that need a path's state (a symlink, a folder in the way) are reported back, and the
// main thread takes its careful asynchronous path for them.
import { closeSync, constants, fdatasyncSync, fstatSync, futimesSync, lstatSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parentPort } from 'node:worker_threads';

const readFlags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const createFlags = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** @param {unknown} err */
function failure(err) {
  const e = /** @type {{ code?: unknown, syscall?: unknown, message?: unknown }} */ (err);
  return { error: { code: typeof e?.code === 'string' ? e.code : undefined, syscall: typeof e?.syscall === 'string' ? e.syscall : undefined, message: String(e?.message ?? err) } };
}

/**
 * A regular file of at most `max` bytes from `offset`, read whole. A bigger file is answered with
 * its size only (the caller streams it); anything else with what it is.
 * @param {{ dir: string, name: string, offset: number, length: number | null, max: number }} m
 */
function readWhole(m) {
  const fd = openSync(join(m.dir, m.name), readFlags);
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) return { kind: 'dir' };
    if (!st.isFile()) return { kind: 'special' };
    const want = Math.max(0, Math.min(m.length ?? Infinity, st.size - m.offset));
    if (want > m.max) return { kind: 'large', size: st.size };
    // Not from Buffer's shared pool: the answer hands its memory over to the main thread.
    const buf = Buffer.allocUnsafeSlow(want);
    let got = 0;
    while (got < want) {
      const n = readSync(fd, buf, got, want - got, m.offset + got);
      if (n === 0) break;
      got += n;
    }
    if (got === want) return { kind: 'file', data: buf };
    const short = Buffer.allocUnsafeSlow(got);
    buf.copy(short, 0, 0, got);
    return { kind: 'file', data: short };
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `data` to the hidden partial beside the target, sets its time, syncs it unless the
 * caller group-syncs, and renames it into place: a reader never sees half a file.
 * @param {{ dir: string, name: string, temp: string, data: Uint8Array, atime: number, mtime: number, sync: boolean }} m
 */
function writeWhole(m) {
  const target = join(m.dir, m.name);
  const temp = join(m.dir, m.temp);
  const there = lstatSync(target, { throwIfNoEntry: false });
  if (there?.isDirectory()) return { kind: 'dir' };
  if (there?.isSymbolicLink()) return { kind: 'symlink' };
  let fd;
  try {
    fd = openSync(temp, createFlags, 0o666);
  } catch (err) {
    // A leftover partial (or a link planted under its name) is removed, never written through.
    if (/** @type {{ code?: string }} */ (err).code !== 'EEXIST') throw err;
    unlinkSync(temp);
    fd = openSync(temp, createFlags, 0o666);
  }
  try {
    for (let done = 0; done < m.data.length; ) done += writeSync(fd, m.data, done, m.data.length - done, done);
    futimesSync(fd, m.atime, m.mtime);
    if (m.sync) fdatasyncSync(fd);
    const st = fstatSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, target);
    return { kind: 'file', size: st.size, mtimeMs: st.mtimeMs };
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try { unlinkSync(temp); } catch { /* already gone */ }
    throw err;
  }
}

/**
 * syncfs(2) once for each filesystem among `paths`, through coreutils' `sync --file-system` (Node
 * has no binding for it). Run here, its fork costs the main thread nothing. Answers the first
 * path that is missing, `unavailable` when this machine's `sync` cannot, or the failure.
 * @param {{ paths: string[] }} m
 */
function syncFilesystems(m) {
  /** @type {Map<number, string>} */
  const byDevice = new Map();
  for (let i = 0; i < m.paths.length; i++) {
    const st = statSync(m.paths[i], { throwIfNoEntry: false });
    if (!st) return { kind: 'missing', index: i };
    if (!byDevice.has(st.dev)) byDevice.set(st.dev, m.paths[i]);
  }
  const run = spawnSync('sync', ['--file-system', '--', ...byDevice.values()], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr = String(run.stderr ?? '');
  // No coreutils `sync`, or one without --file-system (busybox, old coreutils).
  if (/** @type {{ code?: string } | undefined} */ (run.error)?.code === 'ENOENT' || /unrecognized|invalid|illegal|unknown/i.test(stderr)) return { kind: 'unavailable' };
  if (run.error) throw run.error;
  if (run.status !== 0) return { kind: 'failed', why: stderr.trim() || `sync exited with ${run.status ?? run.signal}` };
  return { kind: 'synced' };
}

/** @type {Record<string, (m: any) => object>} */
const ops = { readWhole, writeWhole, syncFilesystems };

parentPort?.on('message', (/** @type {{ id: number, op: string }} */ m) => {
  /** @type {{ kind?: string, data?: Uint8Array }} */
  let answer;
  try {
    answer = ops[m.op](m);
  } catch (err) {
    answer = failure(err);
  }
  const data = answer.data;
  parentPort?.postMessage({ id: m.id, ...answer }, data ? [data.buffer] : []);
});
