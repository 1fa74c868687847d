import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { Hashes, HashType } from '../../core/entry.js';

/** The hash types node:crypto computes; the provider-specific ones (quickxor, dropbox...) need their own code. */
export const nodeHashTypes = ['md5', 'sha1', 'sha256'] as const satisfies readonly HashType[];
export type NodeHashType = (typeof nodeHashTypes)[number];

export const defaultHashTypes: readonly NodeHashType[] = ['md5', 'sha1'];

export function isNodeHashType(type: HashType): type is NodeHashType {
  return (nodeHashTypes as readonly HashType[]).includes(type);
}

/** Several digests fed from one pass over the bytes. */
export class MultiHash {
  private readonly hashes: [NodeHashType, Hash][];
  private result: Hashes | null = null;
  bytes = 0;

  constructor(types: readonly NodeHashType[] = defaultHashTypes) {
    this.hashes = [...new Set(types)].map((t) => [t, createHash(t)]);
  }

  update(chunk: Uint8Array): void {
    if (this.result) throw new Error('MultiHash.update after digest');
    for (const [, h] of this.hashes) h.update(chunk);
    this.bytes += chunk.byteLength;
  }

  /** Lower-case hex; idempotent, so callers may ask more than once. */
  digest(): Hashes {
    this.result ??= Object.fromEntries(this.hashes.map(([t, h]) => [t, h.digest('hex')])) as Hashes;
    return this.result;
  }
}

/**
 * A pass-through stage for a pipeline: bytes flow on unchanged (backpressure is the pipeline's),
 * and `hashes()` is available once the stream has finished.
 */
export class HashingStream extends Transform {
  private readonly multi: MultiHash;

  constructor(types: readonly NodeHashType[] = defaultHashTypes) {
    super();
    this.multi = new MultiHash(types);
  }

  get bytes(): number {
    return this.multi.bytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.multi.update(chunk);
    cb(null, chunk);
  }

  /** Throws before the end, so a digest of a partial stream can never be mistaken for the file's. */
  hashes(): Hashes {
    if (!this.writableFinished) throw new Error('HashingStream.hashes before the stream finished');
    return this.multi.digest();
  }
}

/** Reads `readable` to its end and returns its digests. */
export async function hashStream(readable: Readable, types: readonly NodeHashType[] = defaultHashTypes): Promise<Hashes> {
  const multi = new MultiHash(types);
  for await (const chunk of readable) multi.update(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return multi.digest();
}
