import { pipeline, Readable, Transform } from 'node:stream';
import { ConnectorError } from '../connectors/errors.js';
import type { Entry, Hashes, HashType } from '../core/entry.js';
import { compareHash, pickHash, type HashVerdict } from '../core/hashes.js';
import { computableHashTypes, HashingStream, isComputable, MultiHash } from '../connectors/shared/hashing.js';
import { sourceFailure } from '../connectors/shared/upload.js';
import type { Connector, UploadState, WriteResult } from '../connectors/types.js';
import type { BandwidthLimiter } from './bandwidth.js';
import { writeInParts } from './parts.js';

/** One file to copy, as the ledger knows it; paths are full paths inside each remote. */
export interface CopyTask {
  srcPath: string;
  dstPath: string;
  size: number;
  mtimeMs: number;
  /** Hashes the source's listing reported. */
  srcHashes: Hashes;
  /** The upload state of an interrupted earlier attempt. */
  resume?: UploadState | null;
  /** A large file: written in parallel parts where the destination can. */
  large?: boolean;
  /** The whole file, already read (one whose size was known only once read): written as it is. */
  data?: Buffer;
}

export interface CopyEnv {
  src: Connector;
  dst: Connector;
  /** Both sides are the same remote: a server-side copy moves no bytes through knarr. */
  sameRemote: boolean;
  chunkSize?: number;
  limiter?: BandwidthLimiter | null;
  /** Hash the source while it streams; off when the run does not verify, to spare a core. */
  hash: boolean;
  /** Commit without waiting for stable storage; the caller group-syncs (Connector.sync). */
  syncLater?: boolean;
  signal: AbortSignal;
  onProgress?: (bytesDone: number) => void;
  onCheckpoint?: (state: UploadState) => Promise<void>;
  /** The copy goes on from `offset` bytes an earlier attempt left at the destination. */
  onResume?: (offset: number) => void | Promise<void>;
}

export interface CopyOutcome {
  /** The hash type this copy is checked with (pickHash). */
  hashType: HashType;
  srcHashes: Hashes;
  dstHashes: Hashes;
  /** match: both sides' hashes are known and equal; unknown: the verify phase must read a side. */
  verdict: HashVerdict;
  resumedFrom: number;
  deduplicated: boolean;
  serverSide: boolean;
  entry: Entry;
}

/** The hash types the engine can compute itself from a stream. */
const computable: readonly HashType[] = computableHashTypes;

export function hashTypeFor(src: Connector, dst: Connector): HashType {
  return pickHash(src.capabilities.hashes, dst.capabilities.hashes, computable);
}

/**
 * Copies one file: server-side when both sides are one remote that can, else streamed with the
 * source hashed on the way (one read of the source), resuming from `task.resume`. The result
 * says whether the two sides' hashes already prove the copy, so most files need no verify pass.
 */
export async function copyOne(task: CopyTask, env: CopyEnv): Promise<CopyOutcome> {
  const hashType = hashTypeFor(env.src, env.dst);
  if (env.sameRemote && env.dst.capabilities.serverSideCopy) {
    const entry = await env.dst.copy(task.srcPath, task.dstPath);
    env.onProgress?.(task.size);
    return outcome(hashType, task.srcHashes, entry.hashes, { entry, resumedFrom: 0, deduplicated: false, serverSide: true });
  }

  const open = async (offset: number, signal: AbortSignal, hash: HashingStream | null): Promise<Readable> => {
    const stream = await env.src.read(task.srcPath, { offset, signal });
    const stages = [hash, env.limiter?.stream(signal), heldUntilUnchanged(env.src, task, signal)].filter((s): s is NonNullable<typeof s> => !!s);
    // pipeline, not pipe: a source error must reach the reader instead of stalling the upload.
    return (pipeline as (...s: unknown[]) => Readable)(stream, ...stages, () => {});
  };

  let written: WriteResult;
  let streamed: Hashes = {};
  if (task.large && env.dst.openChunkWriter) {
    const writer = await env.dst.openChunkWriter(task.dstPath, { size: task.size, mtimeMs: task.mtimeMs, hashes: task.srcHashes }, {
      resume: task.resume ?? undefined, partSize: env.chunkSize, signal: env.signal,
    });
    ({ written, streamed } = await writeInParts(writer, {
      size: task.size, hashType: env.hash ? hashType : null, signal: env.signal, onProgress: env.onProgress, onCheckpoint: env.onCheckpoint, onResume: env.onResume,
      open: (offset) => open(offset, env.signal, null),
      beforeCommit: () => assertUnchanged(env.src, task, env.signal),
    }));
  } else if (task.data || fitsOneRequest(task, env)) {
    ({ written, streamed } = await copyWhole(task, env, hashType));
  } else {
    // The source is hashed while it streams; that covers the whole file only when reading starts at 0.
    let hashing: HashingStream | null = null;
    written = await env.dst.write(task.dstPath, {
      size: task.size,
      mtimeMs: task.mtimeMs,
      hashes: task.srcHashes,
      open: (offset, signal) => {
        hashing = env.hash && offset === 0 && isComputable(hashType) && !task.srcHashes[hashType] ? new HashingStream([hashType]) : null;
        return open(offset, signal ?? env.signal, hashing);
      },
    }, {
      resume: task.resume ?? undefined,
      chunkSize: env.chunkSize,
      syncLater: env.syncLater,
      signal: env.signal,
      onProgress: env.onProgress,
      onCheckpoint: env.onCheckpoint,
      onResume: env.onResume,
    });
    const h = hashing as HashingStream | null;
    if (h?.writableFinished && h.bytes === task.size) streamed = h.hashes();
  }

  const srcHashes = { ...task.srcHashes, ...streamed };
  const dstHashes = { ...written.hashes, ...written.entry.hashes };
  // A destination that stores no checksum (a local folder) is credited with the hash of the bytes
  // this copy read from the source and handed to it, once it holds all of them, as rclone does;
  // a resumed file, whose first bytes were sent earlier, is read back by the verify phase instead.
  if (!env.dst.capabilities.hashes.includes(hashType) && !dstHashes[hashType] && streamed[hashType] && written.entry.size === task.size && !written.deduplicated) {
    dstHashes[hashType] = streamed[hashType];
  }
  return outcome(hashType, srcHashes, dstHashes, {
    entry: written.entry, resumedFrom: written.resumedFrom, deduplicated: written.deduplicated, serverSide: false,
  });
}

/**
 * A streamed source's last chunk is held back until the file is found unchanged (size and mtime
 * as planned): a file written to while it is read fails as `corrupt` before the destination can
 * commit it, and the engine copies it again from the start (engine/batch.ts). Files read whole in
 * one request need no such check.
 */
function heldUntilUnchanged(src: Connector, task: CopyTask, signal: AbortSignal): Transform {
  let held: Buffer | null = null;
  return new Transform({
    transform: (chunk: Buffer, _enc, cb) => {
      const out = held;
      held = chunk;
      cb(null, out ?? undefined);
    },
    flush: (cb) => {
      assertUnchanged(src, task, signal).then(() => cb(null, held ?? undefined), (err: unknown) => cb(err as Error));
    },
  });
}

/** Whether a source file as it is now is the one planned: same size, mtime within the source's precision. */
export function isAsPlanned(src: Connector, now: Entry, planned: { size: number; mtimeMs: number }): boolean {
  return !now.isDir && now.size === planned.size && Math.abs(now.mtimeMs - planned.mtimeMs) <= src.capabilities.mtimePrecisionMs;
}

/** The source is still the file planned: else `corrupt`, before anything is committed. */
async function assertUnchanged(src: Connector, task: CopyTask, signal: AbortSignal): Promise<void> {
  const now = await src.stat(task.srcPath, { signal });
  if (!isAsPlanned(src, now, task)) {
    throw new ConnectorError('corrupt', `the source changed while it was read (${task.size} → ${now.size} bytes)`);
  }
}

/** Files up to this size (and within one chunk) are read whole and handed over as one buffer. */
const wholeFileBytes = 1 << 20;

/** A file with no checkpoint inside it: nothing to resume, so a stream buys nothing. */
function fitsOneRequest(task: CopyTask, env: CopyEnv): boolean {
  return !task.large && task.size <= Math.min(wholeFileBytes, env.chunkSize ?? env.dst.capabilities.preferredChunkSize);
}

/**
 * A small file read whole, hashed and written as one buffer: for thousands of small files the
 * streams' machinery, not the bytes, was the cost. A destination that cannot use the buffer
 * still gets a stream of it.
 */
async function copyWhole(task: CopyTask, env: CopyEnv, hashType: HashType): Promise<{ written: WriteResult; streamed: Hashes }> {
  const data = task.data ?? (await readAll(await env.src.read(task.srcPath, { signal: env.signal }), task.size));
  await env.limiter?.take(data.length, env.signal);
  let streamed: Hashes = {};
  if (env.hash && isComputable(hashType) && !task.srcHashes[hashType] && data.length === task.size) {
    const hash = new MultiHash([hashType]);
    hash.update(data);
    streamed = hash.digest();
  }
  const written = await env.dst.write(task.dstPath, {
    size: task.size, mtimeMs: task.mtimeMs, hashes: task.srcHashes, data,
    // A provider may hold the first bytes of an earlier attempt and ask for the rest.
    open: async (offset) => Readable.from([data.subarray(offset)], { objectMode: false }),
  }, {
    resume: task.resume ?? undefined, chunkSize: env.chunkSize, syncLater: env.syncLater, signal: env.signal,
    onProgress: env.onProgress, onCheckpoint: env.onCheckpoint, onResume: env.onResume,
  });
  return { written, streamed };
}

/**
 * A source file whose size is known only once read (a Google Doc exported on the fly), read
 * whole: its size is then known, and the bytes written are exactly the bytes hashed, where a
 * second export could differ.
 */
export async function readUnsized(src: Connector, path: string, signal: AbortSignal): Promise<Buffer> {
  return readAll(await src.read(path, { signal }), Number.POSITIVE_INFINITY);
}

/** A source stream's bytes in one buffer; a source that sends more than `size` stops being read at once. */
async function readAll(stream: Readable, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      chunks.push(buf);
      total += buf.length;
      if (total > size) break;
    }
  } catch (err) {
    throw sourceFailure(err, 'read the source');
  } finally {
    stream.destroy();
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}

function outcome(hashType: HashType, srcHashes: Hashes, dstHashes: Hashes, rest: Pick<CopyOutcome, 'entry' | 'resumedFrom' | 'deduplicated' | 'serverSide'>): CopyOutcome {
  return { hashType, srcHashes, dstHashes, verdict: compareHash(hashType, srcHashes, dstHashes), ...rest };
}
