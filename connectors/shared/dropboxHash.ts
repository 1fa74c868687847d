/**
 * Dropbox's `content_hash` (shared/specs/providers.md A.4, dropbox.com/developers/reference/content-hash):
 * the SHA-256 of the concatenated binary SHA-256 digests of the file's 4 MiB blocks, in lowercase
 * hex. Streaming: one block's digest is kept at a time, so any size hashes in constant memory.
 */
import { createHash, type Hash } from 'node:crypto';

export const DROPBOX_BLOCK = 4 * 1024 * 1024;

export class DropboxContentHasher {
  private readonly outer: Hash = createHash('sha256');
  private block: Hash = createHash('sha256');
  private inBlock = 0;
  private result: string | undefined;
  /** Bytes fed so far. */
  bytes = 0;

  update(chunk: Uint8Array): this {
    if (this.result !== undefined) throw new Error('DropboxContentHasher.update after digest');
    this.bytes += chunk.byteLength;
    let at = 0;
    while (at < chunk.byteLength) {
      const take = Math.min(DROPBOX_BLOCK - this.inBlock, chunk.byteLength - at);
      this.block.update(chunk.subarray(at, at + take));
      this.inBlock += take;
      at += take;
      if (this.inBlock === DROPBOX_BLOCK) this.closeBlock();
    }
    return this;
  }

  private closeBlock(): void {
    this.outer.update(this.block.digest());
    this.block = createHash('sha256');
    this.inBlock = 0;
  }

  /** Lowercase hex; idempotent. An empty input gives sha256(""), as the definition does. */
  digest(): string {
    if (this.result === undefined) {
      if (this.inBlock > 0) this.closeBlock();
      this.result = this.outer.digest('hex');
    }
    return this.result;
  }
}

/** The content hash of bytes held whole. */
export function dropboxContentHash(data: Uint8Array): string {
  return new DropboxContentHasher().update(data).digest();
}

/** The SHA-256 of each 4 MiB block of `data`, which starts on a block boundary of its file. */
export function blockDigests(data: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.byteLength; at += DROPBOX_BLOCK) out.push(createHash('sha256').update(data.subarray(at, at + DROPBOX_BLOCK)).digest());
  return out;
}

/** The content hash of a file from its blocks' digests in order. */
export function contentHashOfBlocks(digests: readonly Uint8Array[]): string {
  const outer = createHash('sha256');
  for (const d of digests) outer.update(d);
  return outer.digest('hex');
}
