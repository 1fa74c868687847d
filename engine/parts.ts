import type { Readable } from 'node:stream';
import type { Hashes, HashType } from '../core/entry.js';
import { ConnectorError } from '../connectors/errors.js';
import { isNodeHashType } from '../connectors/shared/hashing.js';
import type { ChunkWriter, UploadState, WriteResult } from '../connectors/types.js';
import { HashWorker } from './hashWorker.js';

export interface PartsJob {
  size: number;
  /** Opens the source at `offset`, already paced by the run's bandwidth limit. */
  open(offset: number): Promise<Readable>;
  /** The hash of the source to compute while reading, or null for none. */
  hashType: HashType | null;
  signal: AbortSignal;
  onProgress?: (bytesHeld: number) => void;
  onCheckpoint?: (state: UploadState) => Promise<void>;
  onResume?: (offset: number) => void | Promise<void>;
  /** Last word before the parts are assembled: throws to abandon them (the source changed). */
  beforeCommit?: () => Promise<void>;
}

/**
 * Feeds a chunk writer: the source is read once, in order (so it can be hashed, on another
 * thread), cut into parts, and up to `writer.concurrency` parts are written at once. Parts a
 * resume already holds are read past, not sent. Each completed part is checkpointed, in
 * completion order, so a crash re-sends only the parts that were in flight. The part buffers are
 * a fixed pool in shared memory: memory stays at a few parts whatever the file's size.
 */
export async function writeInParts(writer: ChunkWriter, job: PartsJob): Promise<{ written: WriteResult; streamed: Hashes }> {
  const { partSize } = writer;
  const parts = Math.max(1, Math.ceil(job.size / partSize));
  let first = 0;
  while (first < parts && writer.isDone(first)) first++;
  // Only a read from byte 0 sees every byte; a resumed file is hashed by the verify phase instead.
  const hash = first === 0 && job.hashType && isNodeHashType(job.hashType) && job.size > 0 ? new HashWorker(job.hashType) : null;

  const pool: SharedArrayBuffer[] = Array.from({ length: Math.min(parts - first, writer.concurrency + 2) }, () => new SharedArrayBuffer(partSize));
  const freed: (() => void)[] = [];
  const takeBuffer = async (): Promise<SharedArrayBuffer> => {
    while (pool.length === 0) await new Promise<void>((r) => freed.push(r));
    return pool.pop()!;
  };
  const giveBack = (sab: SharedArrayBuffer) => {
    pool.push(sab);
    freed.shift()?.();
  };

  const writes = new Set<Promise<void>>();
  let failure: unknown;
  let checkpoints: Promise<void> = Promise.resolve();
  const dispatch = (part: number, sab: SharedArrayBuffer, length: number) => {
    const data = Buffer.from(sab, 0, length);
    const hashed = hash ? hash.update(sab, length) : Promise.resolve();
    const written = writer.isDone(part) ? Promise.resolve(false) : writer.writeChunk(part, data, job.signal).then(() => true);
    const p: Promise<void> = Promise.all([written, hashed]).then(([sent]) => {
      if (!sent) return;
      const state = writer.state();
      job.onProgress?.(state.offset);
      checkpoints = checkpoints.then(() => job.onCheckpoint?.(state));
      return checkpoints;
    }).catch((err: unknown) => { failure ??= err; }).finally(() => {
      writes.delete(p);
      giveBack(sab);
    });
    writes.add(p);
  };

  try {
    const held = writer.state().offset;
    if (held > 0) await job.onResume?.(held);
    if (first < parts && job.size > 0) {
      const stream = await job.open(first * partSize);
      let part = first;
      let length = Math.min(partSize, job.size - part * partSize);
      let sab = await takeBuffer();
      let buf = Buffer.from(sab, 0, length);
      let fill = 0;
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          for (let off = 0; off < chunk.length; ) {
            if (failure !== undefined) throw failure;
            if (part >= parts) throw new ConnectorError('corrupt', `the source delivered more than its ${job.size} bytes`);
            const n = Math.min(chunk.length - off, length - fill);
            chunk.copy(buf, fill, off, off + n);
            fill += n;
            off += n;
            if (fill < length) continue;
            while (writes.size >= writer.concurrency + 1 && !writer.isDone(part)) await Promise.race(writes);
            dispatch(part, sab, length);
            part++;
            fill = 0;
            if (part < parts) {
              length = Math.min(partSize, job.size - part * partSize);
              sab = await takeBuffer();
              buf = Buffer.from(sab, 0, length);
            }
          }
        }
      } finally {
        stream.destroy();
      }
      if (part < parts && failure === undefined) throw new ConnectorError('corrupt', `the source ended after ${part * partSize + fill} of its ${job.size} bytes`);
    }
    await Promise.all(writes);
    if (failure !== undefined) throw failure;
    await checkpoints;
    const digest = hash && hash.bytes === job.size ? await hash.digest() : null;
    const streamed: Hashes = digest && job.hashType ? { [job.hashType]: digest } : {};
    await job.beforeCommit?.();
    const written = await writer.close(job.signal, streamed);
    return { written, streamed };
  } catch (err) {
    await Promise.allSettled(writes);
    await writer.abandon().catch(() => {});
    throw err;
  } finally {
    await hash?.close();
  }
}
