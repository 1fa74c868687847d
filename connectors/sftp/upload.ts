import type { Entry } from '../../core/entry.js';
import { ConnectorError } from '../errors.js';
import { driveUpload } from '../shared/upload.js';
import type { UploadSource, UploadState, WriteOptions, WriteResult } from '../types.js';
import { sftpStatus, statusOf, toSftpError } from './errors.js';
import { isPartialNameOf, newPartialName } from './paths.js';
import type { SftpSession } from './session.js';
import { WritePipe } from './writePipe.js';

/** What a resume needs: the partial file's name beside the target and the size it is for. */
export interface SftpUploadState extends UploadState {
  offset: number;
  temp: string;
  size: number;
}

/**
 * A resume goes on from the partial file's size on the server, less this tail, which is sent
 * again: bytes past the last checkpoint were acknowledged but not fsynced, and after a crash of
 * the server's machine the end of the file may not hold them (providers.md A.6).
 */
export const resendTail = 128 * 1024;

/** What the connector lends an upload: where things go and how to get there. */
export interface UploadPlace {
  rel: string;
  /** Server path of the target and of the folder holding it. */
  target: string;
  folder: string;
  session: SftpSession;
  /** Creates the target's folder (and its parents). */
  mkdirs(): Promise<void>;
  /** The committed file as an Entry from its attributes. */
  entryOf(attrs: { size?: number; mtime?: number }): Entry;
}

export const joinServer = (folder: string, name: string) => (folder === '/' ? `/${name}` : folder === '.' ? name : `${folder}/${name}`);

/** The saved state of an earlier attempt at this same file, or undefined when it is not one. */
export function usableState<S extends UploadState & { temp: string; size: number }>(resume: UploadState | undefined, rel: string, size: number): S | undefined {
  const r = resume as Partial<S> | undefined;
  if (!r || !isPartialNameOf(r.temp, rel) || r.size !== size || !Number.isSafeInteger(r.offset) || (r.offset ?? -1) < 0) return undefined;
  return r as S;
}

/** Opens (creating) `path` for writing, creating the target's folder when it is missing. */
export async function openCreating(place: UploadPlace, path: string, flags: 'w' | 'r+'): Promise<Buffer> {
  try {
    return await place.session.open(path, flags);
  } catch (err) {
    if (statusOf(err) !== sftpStatus.NO_SUCH_FILE || flags !== 'w') throw err;
    await place.mkdirs();
    return place.session.open(path, flags);
  }
}

/**
 * `write`: the bytes go to a hidden partial file beside the target through driveUpload, with
 * pipelined WRITE requests; each checkpoint waits for them and fsyncs; the commit sets the
 * mtime, then renames over the target with posix-rename (atomic replace).
 */
export async function uploadFile(place: UploadPlace, source: UploadSource, opts: WriteOptions, defaultChunkSize: number): Promise<WriteResult> {
  const { session: s, rel } = place;
  const op = `write ${JSON.stringify(rel)}`;
  const call = <T>(p: Promise<T>): Promise<T> => p.catch((err: unknown) => Promise.reject(toSftpError(err, op)));
  let entry: Entry | undefined;

  const { resumedFrom } = await driveUpload<SftpUploadState>({
    op,
    source,
    opts,
    defaultChunkSize,
    begin: async () => {
      const prior = usableState<SftpUploadState>(opts.resume, rel, source.size);
      const temp = prior?.temp ?? newPartialName(rel);
      const tempPath = joinServer(place.folder, temp);
      let committed = 0;
      let handle: Buffer | undefined;
      if (prior) {
        const held = await s.stat(tempPath).catch(() => undefined);
        if (held?.isFile() && held.size <= source.size) {
          committed = Math.min(held.size, Math.max(prior.offset, held.size - resendTail));
          handle = await call(s.open(tempPath, 'r+'));
        }
      }
      handle ??= await call(openCreating(place, tempPath, 'w'));
      const h = handle;
      const pipe = new WritePipe(s, h);
      let open = true;
      let synced = false;
      const closeHandle = async () => {
        if (open) {
          open = false;
          await s.close(h);
        }
      };
      return {
        committed,
        put: (chunk, position) => call(pipe.put(chunk, position)),
        checkpoint: async (offset) => {
          await call(pipe.drain());
          await call(s.fsync(h));
          synced = true;
          return { offset, temp, size: source.size };
        },
        commit: async () => {
          // One handle's requests are answered in order, so these go out together: one round trip.
          const [, , , attrs] = await call(Promise.all([pipe.drain(), synced ? s.fsync(h) : undefined, s.futimes(h, source.mtimeMs), s.fstat(h)]));
          if (attrs.size !== source.size) throw new ConnectorError('corrupt', `${op}: the server holds ${attrs.size} bytes of ${source.size} after the upload`);
          // A file may be renamed while open: close and rename go out together too.
          await call(Promise.all([closeHandle(), s.rename(tempPath, place.target)])).catch((err: unknown) => Promise.reject(renameFailure(err, op)));
          entry = place.entryOf(attrs);
        },
        abort: async (discard) => {
          await pipe.settle();
          await closeHandle().catch(() => {});
          if (discard) await s.unlink(tempPath).catch(() => {});
        },
      };
    },
  });
  return { entry: entry!, resumedFrom, deduplicated: false, hashes: {} };
}

/** A FAILURE of the final rename: a folder where the file goes. */
export function renameFailure(err: unknown, op: string): unknown {
  if (err instanceof ConnectorError && err.status === sftpStatus.FAILURE) {
    return new ConnectorError('conflict', `${op}: cannot replace the target (a folder of that name is in the way?)`, { status: err.status, cause: err });
  }
  return err;
}
