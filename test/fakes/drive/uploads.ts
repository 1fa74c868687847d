/**
 * Resumable upload sessions as Drive runs them (providers.md A.2 "Uploads" and "Query the
 * committed offset"): the session URI carries `upload_id`; chunks come by PUT or POST with
 * `Content-Range: bytes a-b/TOTAL` and must be multiples of 256 KiB except the last; a chunk
 * answers 308 with `Range: bytes=0-N`; `bytes '*'/TOTAL` (star, slash) with no body asks what is held (308
 * without Range: nothing); the last byte answers 200 with the file. A chunk cut short keeps what
 * arrived up to the last whole 256 KiB (so a client must continue from the server's N+1, not
 * from what it sent). Bodies grow on disk; the digests grow with them.
 */
import { randomBytes } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Faults } from './faults.js';
import { receive, type ReceiveStats } from './receive.js';
import { DigestStream, type Digests, type DriveItem, type DriveStore } from './store.js';

export const GRANULE = 256 * 1024;

export interface Session {
  id: string;
  /** Metadata sent when the session was opened. */
  metadata: Record<string, unknown>;
  /** An update (PATCH) of this file, else a new file. */
  fileId?: string;
  query: URLSearchParams;
  total: number | null;
  committed: number;
  blob: string;
  hash: DigestStream;
  done?: DriveItem;
  expired: boolean;
  /** Requests to one session are taken one at a time: a client's retry may arrive before its cut request is settled. */
  busy: Promise<void>;
}

export type ChunkAnswer =
  | { status: 308; range?: string }
  | { status: 200; item: DriveItem }
  | { status: 400 | 404; reason: string; message: string }
  | { status: 'cut' };

export class UploadSessions {
  private readonly sessions = new Map<string, Session>();
  /** Sessions opened, status queries, chunks taken: what a resume test asserts on. */
  readonly counts = { sessions: 0, statusQueries: 0, chunks: 0 };

  constructor(
    private readonly store: DriveStore,
    private readonly faults: Faults,
    private readonly stats: ReceiveStats,
  ) {}

  open(metadata: Record<string, unknown>, query: URLSearchParams, total: number | null, fileId?: string): Session {
    const s: Session = { id: randomBytes(18).toString('base64url'), metadata, fileId, query, total, committed: 0, blob: this.store.blobPath(), hash: new DigestStream(), expired: false, busy: Promise.resolve() };
    this.sessions.set(s.id, s);
    this.counts.sessions++;
    return s;
  }

  get(id: string | null): Session | undefined {
    return id ? this.sessions.get(id) : undefined;
  }

  expireAll(): void {
    for (const s of this.sessions.values()) s.expired = true;
  }

  get open_(): number {
    return [...this.sessions.values()].filter((s) => !s.done && !s.expired).length;
  }

  async cancel(s: Session): Promise<void> {
    this.sessions.delete(s.id);
    await rm(s.blob, { force: true });
  }

  /** One request to the session URI. `finish` turns a complete body into the file. */
  async chunk(s: Session, req: IncomingMessage, finish: (s: Session, body: { blob: string; size: number; digests: Digests }) => Promise<DriveItem>): Promise<ChunkAnswer> {
    const before = s.busy;
    let release = () => {};
    s.busy = new Promise<void>((r) => (release = r));
    await before;
    try {
      return await this.take(s, req, finish);
    } finally {
      release();
    }
  }

  private async take(s: Session, req: IncomingMessage, finish: (s: Session, body: { blob: string; size: number; digests: Digests }) => Promise<DriveItem>): Promise<ChunkAnswer> {
    if (s.expired) {
      req.resume();
      return { status: 404, reason: 'notFound', message: 'The upload session has expired.' };
    }
    const cr = req.headers['content-range'];
    const length = Number(req.headers['content-length'] ?? 0);
    const held = (): ChunkAnswer => (s.done ? { status: 200, item: s.done } : s.committed > 0 ? { status: 308, range: `bytes=0-${s.committed - 1}` } : { status: 308 });
    let start = 0;
    let total: number | null = s.total;
    if (cr) {
      const query = /^bytes \*\/(\d+|\*)$/.exec(cr);
      if (query) {
        req.resume();
        this.counts.statusQueries++;
        if (query[1] !== '*') s.total = Number(query[1]);
        return held();
      }
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr);
      if (!m) return bad(req, `Invalid Content-Range ${cr}`);
      start = Number(m[1]);
      if (Number(m[2]) - start + 1 !== length) return bad(req, 'Content-Range does not match Content-Length');
      if (m[3] !== '*') total = Number(m[3]);
    } else if (total === null) {
      total = length;
    }
    if (s.done) {
      req.resume();
      return held();
    }
    if (start > s.committed) return bad(req, `Invalid request: the chunk starts at ${start}, the server holds ${s.committed} bytes`);
    const end = start + length;
    const final = total !== null && end === total;
    if (!final && length % GRANULE !== 0) return bad(req, 'Invalid request. The chunk size must be a multiple of 256 KiB (262144 bytes) except for the last chunk.');
    if (total !== null && end > total) return bad(req, 'The chunk goes past the declared total');
    s.total = total;
    this.counts.chunks++;

    // Bytes before `committed` were stored already: skipped, as Drive ignores a resent overlap.
    let skip = s.committed - start;
    let pos = s.committed;
    let granuleHash = s.hash.copy();
    let granulePos = pos;
    let fh: FileHandle | undefined;
    let writes = Promise.resolve();
    fh = await open(s.blob, pos === 0 ? 'w' : 'r+');
    const handle = fh;
    const ok = await receive(req, this.faults, this.stats, (raw) => {
      let b = raw;
      if (skip > 0) {
        const n = Math.min(skip, b.length);
        skip -= n;
        b = b.subarray(n);
      }
      if (b.length === 0) return;
      const at = pos;
      writes = writes.then(() => handle.write(b, 0, b.length, at).then(() => undefined));
      // Digests snapshot at each 256 KiB boundary, so a cut can fall back to the last one.
      for (let off = 0; off < b.length; ) {
        const toBoundary = GRANULE - (pos % GRANULE);
        const piece = b.subarray(off, off + toBoundary);
        s.hash.update(piece);
        pos += piece.length;
        off += piece.length;
        if (pos % GRANULE === 0) {
          granuleHash = s.hash.copy();
          granulePos = pos;
        }
      }
    });
    try {
      await writes;
      if (!ok || pos !== end) {
        s.hash = granuleHash;
        s.committed = granulePos;
        await handle.truncate(granulePos);
        return { status: 'cut' };
      }
      s.committed = pos;
    } finally {
      await fh.close();
      fh = undefined;
    }
    if (s.total !== null && s.committed === s.total) {
      s.done = await finish(s, { blob: s.blob, size: s.committed, digests: s.hash.digest() });
      return { status: 200, item: s.done };
    }
    return held();
  }
}

function bad(req: IncomingMessage, message: string): ChunkAnswer {
  req.resume();
  return { status: 400, reason: 'badRequest', message };
}
