import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { Hashes, HashType } from '../../core/entry.js';
import { DropboxContentHasher } from './dropboxHash.js';
import { QuickXorHash } from './quickxor.js';

/** The hash types node:crypto computes (a hashing thread can run these: engine/hashWorker.ts). */
export const nodeHashTypes = ['md5', 'sha1', 'sha256'] as const satisfies readonly HashType[];
export type NodeHashType = (typeof nodeHashTypes)[number];

/** Every hash type knarr computes from a stream: node's, OneDrive's quickXorHash and Dropbox's content_hash. */
export const computableHashTypes = [...nodeHashTypes, 'quickxor', 'dropbox'] as const satisfies readonly HashType[];
export type ComputableHashType = (typeof computableHashTypes)[number];

export const defaultHashTypes: readonly NodeHashType[] = ['md5', 'sha1'];

export function isNodeHashType(type: HashType): type is NodeHashType {
  return (nodeHashTypes as readonly HashType[]).includes(type);
}

export function isComputable(type: HashType): type is ComputableHashType {
  return (computableHashTypes as readonly HashType[]).includes(type);
}

/** One running digest, as lower-case hex (the form `Hashes` carries). */
interface Digest {
  update(chunk: Uint8Array): void;
  hex(): string;
}

function digestOf(type: ComputableHashType): Digest {
  if (type === 'quickxor') {
    const q = new QuickXorHash();
    return { update: (c) => q.update(c), hex: () => q.digestHex() };
  }
  if (type === 'dropbox') {
    const d = new DropboxContentHasher();
    return { update: (c) => void d.update(c), hex: () => d.digest() };
  }
  const h = createHash(type);
  return { update: (c) => void h.update(c), hex: () => h.digest('hex') };
}

/** Several digests fed from one pass over the bytes. */
export class MultiHash {
  private readonly digests: [ComputableHashType, Digest][];
  private result: Hashes | null = null;
  bytes = 0;

  constructor(types: readonly ComputableHashType[] = defaultHashTypes) {
    this.digests = [...new Set(types)].map((t) => [t, digestOf(t)]);
  }

  update(chunk: Uint8Array): void {
    if (this.result) throw new Error('MultiHash.update after digest');
    for (const [, d] of this.digests) d.update(chunk);
    this.bytes += chunk.byteLength;
  }

  /** Lower-case hex; idempotent, so callers may ask more than once. */
  digest(): Hashes {
    this.result ??= Object.fromEntries(this.digests.map(([t, d]) => [t, d.hex()])) as Hashes;
    return this.result;
  }
}

/**
 * A pass-through stage for a pipeline: bytes flow on unchanged (backpressure is the pipeline's),
 * and `hashes()` is available once the stream has finished.
 */
export class HashingStream extends Transform {
  private readonly multi: MultiHash;

  constructor(types: readonly ComputableHashType[] = defaultHashTypes) {
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
export async function hashStream(readable: Readable, types: readonly ComputableHashType[] = defaultHashTypes): Promise<Hashes> {
  const multi = new MultiHash(types);
  for await (const chunk of readable) multi.update(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return multi.digest();
}
