import type { Readable } from 'node:stream';
import type { Hashes, HashType } from '../core/entry.js';
import { ConnectorError } from '../connectors/errors.js';
import { MultiHash, isNodeHashType } from '../connectors/shared/hashing.js';
import type { ChunkWriter, UploadState, WriteResult } from '../connectors/types.js';

export interface PartsJob {
  size: number;
  /** Opens the source at `offset`, already paced by the run's bandwidth limit. */
  open(offset: number): Promise<Readable>;
  hashType: HashType;
  signal: AbortSignal;
  onProgress?: (bytesHeld: number) => void;
  onCheckpoint?: (state: UploadState) => Promise<void>;
}

/**
 * Feeds a chunk writer: the source is read once, in order (so it can be hashed), cut into parts,
 * and up to `writer.concurrency` parts are written at once. Parts a resume already holds are read
 * past, not sent. Each completed part is checkpointed, in completion order, so a crash re-sends
 * only the parts that were in flight.
 */
export async function writeInParts(writer: ChunkWriter, job: PartsJob): Promise<{ written: WriteResult; streamed: Hashes }> {
  const { partSize } = writer;
  const parts = Math.max(1, Math.ceil(job.size / partSize));
  let first = 0;
  while (first < parts && writer.isDone(first)) first++;
  // Only a read from byte 0 sees every byte; a resumed file is hashed by the verify phase instead.
  const hash = first === 0 && isNodeHashType(job.hashType) ? new MultiHash([job.hashType]) : null;

  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let checkpoints: Promise<void> = Promise.resolve();
  const send = (part: number, data: Buffer) => {
    const p: Promise<void> = writer.writeChunk(part, data, job.signal).then(() => {
      const state = writer.state();
      job.onProgress?.(state.offset);
      checkpoints = checkpoints.then(() => job.onCheckpoint?.(state));
      return checkpoints;
    }).catch((err: unknown) => { failure ??= err; }).finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  try {
    if (first < parts && job.size > 0) {
      const stream = await job.open(first * partSize);
      let part = first;
      let buf = Buffer.allocUnsafe(Math.min(partSize, job.size - part * partSize));
      let fill = 0;
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          for (let off = 0; off < chunk.length; ) {
            if (failure !== undefined) throw failure;
            if (part >= parts) throw new ConnectorError('corrupt', `the source delivered more than its ${job.size} bytes`);
            const n = Math.min(chunk.length - off, buf.length - fill);
            chunk.copy(buf, fill, off, off + n);
            fill += n;
            off += n;
            if (fill < buf.length) continue;
            hash?.update(buf);
            if (!writer.isDone(part)) {
              while (inFlight.size >= writer.concurrency) await Promise.race(inFlight);
              send(part, buf);
            }
            part++;
            fill = 0;
            if (part < parts) buf = Buffer.allocUnsafe(Math.min(partSize, job.size - part * partSize));
          }
        }
      } finally {
        stream.destroy();
      }
      if (part < parts && failure === undefined) throw new ConnectorError('corrupt', `the source ended after ${part * partSize + fill} of its ${job.size} bytes`);
    }
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;
    await checkpoints;
    const written = await writer.close(job.signal);
    return { written, streamed: hash && hash.bytes === job.size ? hash.digest() : {} };
  } catch (err) {
    await Promise.allSettled(inFlight);
    await writer.abandon().catch(() => {});
    throw err;
  }
}
