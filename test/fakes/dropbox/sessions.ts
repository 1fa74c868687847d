/**
 * Upload sessions (providers.md A.4): `start`, `append_v2` at the offset the session holds (else
 * 409 `incorrect_offset` with `correct_offset`, Dropbox's answer for a request processed whose
 * response was lost), `finish`. Concurrent sessions take parts at 4 MiB-multiple offsets in any
 * order, each a multiple of 4 MiB but the closing one. Bytes go to one file per session at their
 * offset; a request counts only once all its bytes arrived, so a cut request applies nothing.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BLOCK, BlockFeeder, contentHashOf, contentHashOfBytes, emptyBlocks, type BlockState } from './blocks.js';
import { DbxFault } from './store.js';

/** One request body's cap (payload_too_large beyond it). */
export const MAX_PAYLOAD = 150 * 1024 * 1024;

interface Piece {
  length: number;
  blocks: BlockState;
}

export interface Session {
  id: string;
  account: string;
  concurrent: boolean;
  file: string;
  /** Sequential: bytes held. Concurrent: unused. */
  offset: number;
  closed: boolean;
  blocks: BlockState;
  pieces: Map<number, Piece>;
  /** Concurrent: where the closing part ends, once it came. */
  end?: number;
  busy: boolean;
}

export class Sessions {
  private readonly all = new Map<string, Session>();

  constructor(private readonly dir: string) {}

  get(id: string): Session {
    const s = this.all.get(id);
    if (!s) throw new DbxFault(['not_found']);
    return s;
  }

  create(account: string, concurrent: boolean): Session {
    const id = `pid_upload_session:${randomBytes(18).toString('base64url')}`;
    const s: Session = { id, account, concurrent, file: join(this.dir, id.replace(/[^A-Za-z0-9_-]/g, '_')), offset: 0, closed: false, blocks: emptyBlocks(), pieces: new Map(), busy: false };
    this.all.set(id, s);
    return s;
  }

  /** The part of a finish or append is about to be written: checks what the session can take. */
  check(s: Session, offset: number, prefix: string[], opts: { finishing: boolean; hasData: boolean; declared?: number; close: boolean }): void {
    const lookup = (tag: string, extra?: Record<string, unknown>) => new DbxFault([...prefix, tag], extra);
    if (s.concurrent) {
      if (opts.finishing && opts.hasData) throw new DbxFault(['concurrent_session_data_not_allowed']);
      if (opts.finishing) return;
      if (s.closed && opts.hasData) throw lookup('closed');
      if (offset % BLOCK !== 0) throw lookup('concurrent_session_invalid_offset');
      if (!opts.close && opts.declared !== undefined && opts.declared % BLOCK !== 0) throw lookup('concurrent_session_invalid_data_size');
      return;
    }
    if (offset !== s.offset) throw lookup('incorrect_offset', { correct_offset: s.offset });
    if (s.closed && (opts.hasData || !opts.finishing)) throw lookup('closed');
  }

  /**
   * Writes one request's bytes at `offset` and applies them once they are all there; throws what
   * the body iterator throws (a cut), leaving the session as it was.
   */
  async write(s: Session, offset: number, body: AsyncIterable<Buffer>, opts: { close: boolean; contentHash?: string; prefix: string[] }): Promise<number> {
    // Two appends at once to a sequential session: the second cannot be at the right offset.
    if (!s.concurrent && s.busy) throw new DbxFault([...opts.prefix, 'incorrect_offset'], { correct_offset: s.offset });
    if (!s.concurrent) s.busy = true;
    let fh: FileHandle | undefined;
    try {
      fh = await openReadWrite(s.file);
      const feeder = new BlockFeeder(s.concurrent ? emptyBlocks() : s.blocks);
      const own = opts.contentHash ? new BlockFeeder(emptyBlocks()) : undefined;
      let n = 0;
      for await (const chunk of body) {
        if (n + chunk.length > MAX_PAYLOAD) throw new DbxFault(['payload_too_large']);
        await fh.write(chunk, 0, chunk.length, offset + n);
        feeder.update(chunk);
        own?.update(chunk);
        n += chunk.length;
      }
      if (own && contentHashOf(own.result()) !== opts.contentHash) throw new DbxFault(['content_hash_mismatch']);
      if (s.concurrent) {
        if (!opts.close && n % BLOCK !== 0) throw new DbxFault([...opts.prefix, 'concurrent_session_invalid_data_size']);
        if (n > 0 || opts.close) s.pieces.set(offset, { length: n, blocks: feeder.result() });
        if (opts.close) {
          s.closed = true;
          s.end = offset + n;
        }
      } else {
        s.blocks = feeder.result();
        s.offset += n;
        if (opts.close) s.closed = true;
      }
      return n;
    } finally {
      s.busy = false;
      await fh?.close();
    }
  }

  /**
   * The session's bytes as a finished file of `size` bytes: moved to `blob`, with its content hash.
   * The session is gone afterwards (finishing it again is `not_found`).
   */
  async seal(s: Session, size: number, blob: string, prefix: string[]): Promise<{ contentHash: string; undo(): Promise<void> }> {
    let blocks: BlockState;
    if (s.concurrent) {
      if (!s.closed || s.end === undefined) throw new DbxFault(['concurrent_session_not_closed']);
      if (size !== s.end) throw new DbxFault([...prefix, 'incorrect_offset'], { correct_offset: s.end });
      const digests: Buffer[] = [];
      let tail: Buffer = Buffer.alloc(0);
      for (let at = 0; at < s.end; ) {
        const p = s.pieces.get(at);
        if (!p || (p.blocks.tail.length > 0 && at + p.length !== s.end)) throw new DbxFault(['concurrent_session_missing_data']);
        digests.push(...p.blocks.digests);
        tail = p.blocks.tail;
        at += p.length;
        if (p.length === 0) break;
      }
      blocks = { digests, tail };
    } else {
      if (size !== s.offset) throw new DbxFault([...prefix, 'incorrect_offset'], { correct_offset: s.offset });
      blocks = s.blocks;
    }
    await (await openReadWrite(s.file)).close();
    await truncate(s.file, size);
    await rename(s.file, blob);
    this.all.delete(s.id);
    return {
      contentHash: contentHashOf(blocks),
      undo: async () => {
        await rename(blob, s.file);
        this.all.set(s.id, s);
      },
    };
  }

  async drop(s: Session): Promise<void> {
    this.all.delete(s.id);
    await rm(s.file, { force: true });
  }
}

async function openReadWrite(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return open(file, 'w+');
  }
}

export { contentHashOfBytes };
