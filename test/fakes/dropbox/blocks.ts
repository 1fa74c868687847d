/**
 * The emulator's own content_hash bookkeeping (providers.md A.4), kept apart from the connector's
 * hasher so a mistake in one is caught by the other (and by rclone): per 4 MiB block digests, and
 * the raw bytes of the block still being filled, so a request that fails half-way leaves the
 * committed state untouched.
 */
import { createHash, type Hash } from 'node:crypto';

export const BLOCK = 4 * 1024 * 1024;

/** What a session holds: digests of whole blocks, and the bytes of the unfinished last block. */
export interface BlockState {
  digests: Buffer[];
  tail: Buffer;
}

export const emptyBlocks = (): BlockState => ({ digests: [], tail: Buffer.alloc(0) });

/** Feeds one request's bytes on top of a committed state; `result()` is the state if the request succeeds. */
export class BlockFeeder {
  private readonly added: Buffer[] = [];
  private hash: Hash;
  private parts: Buffer[] = [];
  private inBlock: number;

  constructor(private readonly base: BlockState) {
    this.hash = createHash('sha256').update(base.tail);
    this.parts = base.tail.length ? [base.tail] : [];
    this.inBlock = base.tail.length;
  }

  update(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(BLOCK - this.inBlock, chunk.length - at);
      const piece = chunk.subarray(at, at + take);
      this.hash.update(piece);
      this.parts.push(piece);
      this.inBlock += take;
      at += take;
      if (this.inBlock === BLOCK) {
        this.added.push(this.hash.digest());
        this.hash = createHash('sha256');
        this.parts = [];
        this.inBlock = 0;
      }
    }
  }

  result(): BlockState {
    return { digests: [...this.base.digests, ...this.added], tail: Buffer.concat(this.parts) };
  }
}

/** The content_hash of a state that holds the whole file. */
export function contentHashOf(state: BlockState): string {
  const outer = createHash('sha256');
  for (const d of state.digests) outer.update(d);
  if (state.tail.length > 0) outer.update(createHash('sha256').update(state.tail).digest());
  return outer.digest('hex');
}

/** content_hash of bytes held whole (a request's own data, checked against its `content_hash` argument). */
export function contentHashOfBytes(data: Buffer): string {
  const f = new BlockFeeder(emptyBlocks());
  f.update(data);
  return contentHashOf(f.result());
}

/** content_hash of `size` bytes all equal to `fill`, without building them: every whole block is the same. */
export function contentHashOfFill(size: number, fill: number): string {
  const whole = Math.floor(size / BLOCK);
  const rest = size % BLOCK;
  const outer = createHash('sha256');
  if (whole > 0) {
    const d = createHash('sha256').update(Buffer.alloc(BLOCK, fill)).digest();
    for (let i = 0; i < whole; i++) outer.update(d);
  }
  if (rest > 0) outer.update(createHash('sha256').update(Buffer.alloc(rest, fill)).digest());
  return outer.digest('hex');
}
