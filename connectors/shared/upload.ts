/**
 * The one loop that moves a source into a provider's upload session, with the guards every
 * connector needs (the contract's `write`): resume from the offset the provider says it holds,
 * checkpoints at chunk boundaries counted from the file's start (so a resumed upload keeps the
 * rhythm), `onCheckpoint` only once the provider holds the bytes, a source that delivers more or
 * fewer bytes than it announced is `corrupt`, the abort signal stops it between chunks.
 *
 * A connector supplies the session: how to begin (or resume) and learn the committed offset, how
 * to put the next bytes, how to make a checkpoint durable, how to commit, how to give up.
 */
import type { Readable } from 'node:stream';
import { ConnectorError } from '../errors.js';
import type { UploadSource, UploadState, WriteOptions } from '../types.js';
import { isByteCount } from './streams.js';

export interface UploadSession<S extends UploadState = UploadState> {
  /** Bytes the provider already holds (0 for a fresh upload): this attempt sends from here. */
  readonly committed: number;
  /** The provider has the whole file already (a deduplicated upload): nothing is read, sent or reported. */
  readonly complete?: boolean;
  /** Hands on the source's bytes at `position` (contiguous from `committed`); resolves when the next may follow. */
  put(chunk: Buffer, position: number): Promise<void>;
  /** The provider must hold every byte before `offset` once this resolves; returns the state to save. */
  checkpoint(offset: number): Promise<S>;
  /** Every byte has been put: finish the file. */
  commit(): Promise<void>;
  /**
   * The attempt failed and is over; release what the session holds. `discard` when the bytes
   * put so far are wrong (the source misdelivered), so a resume must not keep them.
   */
  abort(discard: boolean): Promise<void>;
}

export interface DriveUpload<S extends UploadState> {
  /** What is being written, for messages: `write "a/b.txt"`. */
  op: string;
  source: UploadSource;
  opts: WriteOptions;
  /** The connector's preferred checkpoint spacing, used when `opts.chunkSize` is absent. */
  defaultChunkSize: number;
  begin(): Promise<UploadSession<S>>;
}

/** Runs the upload; returns the offset it resumed from. Throws ConnectorError, or the signal's reason when aborted. */
export async function driveUpload<S extends UploadState>(d: DriveUpload<S>): Promise<{ resumedFrom: number }> {
  const { op, source, opts } = d;
  const chunkSize = opts.chunkSize ?? d.defaultChunkSize;
  if (!isByteCount(source.size)) throw new RangeError(`source.size must be a byte count, not ${source.size}`);
  if (!(chunkSize > 0)) throw new RangeError(`chunkSize must be positive, not ${chunkSize}`);
  opts.signal?.throwIfAborted();

  const session = await d.begin();
  if (session.complete) return { resumedFrom: 0 };
  const start = session.committed;
  let discard = false;
  let readable: Readable | undefined;
  try {
    if (!isByteCount(start) || start > source.size) {
      discard = true;
      throw new ConnectorError('transient', `${op}: the provider holds ${start} bytes of a file of ${source.size}; the next attempt starts again`);
    }
    if (start > 0) {
      opts.onProgress?.(start);
      await opts.onResume?.(start);
    }
    let pos = start;
    if (start < source.size) {
      const stream = await source.open(start, opts.signal).catch((err: unknown) => Promise.reject(sourceFailure(err, op)));
      readable = stream;
      const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
      while (true) {
        const next = await chunks.next().catch((err: unknown) => Promise.reject(sourceFailure(err, op)));
        if (next.done) break;
        opts.signal?.throwIfAborted();
        const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
        if (chunk.length === 0) continue;
        if (pos + chunk.length > source.size) {
          discard = true;
          throw misdelivered(op, `the source delivered more than its ${source.size} bytes`);
        }
        await session.put(chunk, pos);
        const before = pos;
        pos += chunk.length;
        opts.onProgress?.(pos);
        // None at the very end, where the commit makes everything durable anyway.
        if (Math.floor(pos / chunkSize) > Math.floor(before / chunkSize) && pos < source.size) {
          await opts.onCheckpoint?.(await session.checkpoint(pos));
        }
      }
    }
    if (pos !== source.size) {
      discard = true;
      throw misdelivered(op, `the source ended after ${pos} of its ${source.size} bytes`);
    }
    await session.commit();
    return { resumedFrom: start };
  } catch (err) {
    await session.abort(discard).catch(() => {});
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw err;
  } finally {
    readable?.destroy();
  }
}

/** The source's own failure keeps its kind (a provider error while reading); a stream's system error may pass on retry. */
export function sourceFailure(err: unknown, op: string): unknown {
  if (err instanceof ConnectorError) return err;
  // A system or socket error of the source's stream may pass on retry; anything else (a bug, a
  // cancellation) keeps its identity so the engine can tell it from a provider's trouble.
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || (err as Error).name === 'AbortError') return err;
  const why = err instanceof Error ? err.message : String(err);
  return new ConnectorError('transient', `${op}: reading the source failed: ${why}`, { cause: err });
}

function misdelivered(op: string, why: string): ConnectorError {
  return new ConnectorError('corrupt', `${op}: ${why}; the upload was stopped and nothing was committed`);
}
