/**
 * A streamed write over FTP, as the shared upload driver's session.
 *
 * FTP acknowledges stored bytes only when a transfer ends (226), so a checkpoint must end one:
 * every chunk is its own transfer into a partial file beside the target (STOR for the first,
 * APPE for the rest), and the checkpoint after a chunk is that transfer's 226. Chunks are large
 * (32 MiB by default), so a data connection per chunk costs little. A resume asks the partial
 * file's SIZE (the server's bytes are authoritative, whatever the saved offset says) and APPEs
 * from there. The commit sets the time (MFMT) and renames the partial file into place.
 */
import { PassThrough, Readable } from 'node:stream';
import { FTPError } from 'basic-ftp';
import type { Entry } from '../../core/entry.js';
import { driveUpload, type UploadSession } from '../shared/upload.js';
import type { UploadSource, UploadState, WriteOptions, WriteResult } from '../types.js';
import { toFtpError } from './errors.js';
import type { FtpConn, FtpPool } from './pool.js';

export interface FtpUploadState extends UploadState {
  offset: number;
  /** The partial file's name beside the target; informative, always derived from the target again. */
  tempName: string;
}

export interface FtpUploadPlan {
  op: string;
  /** Server paths: the target's folder, the partial file, the target. */
  dirAbs: string;
  tempAbs: string;
  tempName: string;
  finalAbs: string;
  source: UploadSource;
  opts: WriteOptions;
  defaultChunkSize: number;
}

export interface FtpUploadHooks {
  ensureDir(conn: FtpConn, abs: string): Promise<void>;
  /** Renames over an existing target. */
  renameOver(conn: FtpConn, fromAbs: string, toAbs: string): Promise<void>;
  statAbs(conn: FtpConn, abs: string): Promise<Entry>;
  /** The folder is gone after all (deleted behind the connector's back): forget it. */
  forgetDir(abs: string): void;
}

interface Transfer {
  pass: PassThrough;
  done: Promise<void>;
  failed?: unknown;
}

export async function uploadFtp(pool: FtpPool, plan: FtpUploadPlan, hooks: FtpUploadHooks): Promise<WriteResult> {
  const { op, source, opts, tempAbs, tempName } = plan;
  let entry: Entry | undefined;

  const begin = async (): Promise<UploadSession<FtpUploadState>> => {
    const conn = await pool.acquire(op);
    const client = conn.client;
    let held = true;
    const giveBack = (dead: boolean) => {
      if (!held) return;
      held = false;
      if (dead) pool.discard(conn);
      else pool.release(conn);
    };
    const fail = (err: unknown) => toFtpError(err, pool.errorContext(op, conn));

    let committed = 0;
    try {
      await hooks.ensureDir(conn, plan.dirAbs);
      if (opts.resume && opts.resume.tempName === tempName) committed = await sizeOrZero(conn, tempAbs);
    } catch (err) {
      giveBack(false);
      const mapped = fail(err);
      if (mapped.kind === 'not_found') hooks.forgetDir(plan.dirAbs);
      throw mapped;
    }

    let transfer: Transfer | null = null;
    let started = false;
    const start = (): Transfer => {
      const pass = new PassThrough();
      // STOR truncates a leftover partial file of an attempt whose state was lost.
      const cmd = committed === 0 && !started ? client.uploadFrom(pass, tempAbs) : client.appendFrom(pass, tempAbs);
      started = true;
      const t: Transfer = { pass, done: cmd.then(() => undefined) };
      t.done.catch((err: unknown) => {
        t.failed = err;
        pass.destroy();
      });
      return t;
    };
    /** Ends the transfer in flight: once it resolves, the server holds every byte put (226). */
    const finish = async () => {
      const t = transfer;
      if (!t) return;
      transfer = null;
      t.pass.end();
      await t.done;
    };

    return {
      committed,
      async put(chunk) {
        try {
          const t = (transfer ??= start());
          if (t.failed) throw t.failed;
          if (!t.pass.write(chunk)) await drained(t, opts.signal);
        } catch (err) {
          throw opts.signal?.aborted ? opts.signal.reason : fail(err);
        }
      },
      async checkpoint(offset) {
        try {
          await finish();
        } catch (err) {
          throw fail(err);
        }
        return { offset, tempName };
      },
      async commit() {
        try {
          await finish();
          // A zero-byte file, fresh: nothing was put, so nothing created the partial file yet.
          if (!started && committed === 0) await client.uploadFrom(Readable.from([]), tempAbs);
          if (conn.features.has('MFMT')) await client.send(`MFMT ${mfmtTime(source.mtimeMs)} ${tempAbs}`);
          await hooks.renameOver(conn, tempAbs, plan.finalAbs);
          entry = await hooks.statAbs(conn, plan.finalAbs);
        } catch (err) {
          throw fail(err);
        }
        giveBack(false);
      },
      async abort(discard) {
        const t = transfer;
        transfer = null;
        if (t && !t.failed && !discard) {
          // End the transfer cleanly: the server keeps what it got (a correct prefix) and has
          // stored all of it before a resume asks for its size.
          t.pass.end();
          const ok = await t.done.then(() => true, () => false);
          giveBack(!ok);
        } else {
          giveBack(t !== null);
        }
        if (discard) await pool.use(op, (c) => c.client.remove(tempAbs)).catch(() => {});
      },
    };
  };

  const { resumedFrom } = await driveUpload({ op, source, opts, defaultChunkSize: plan.defaultChunkSize, begin });
  // Nothing is hashed here: FTP reports no digests, and the engine hashes what it sends.
  return { entry: entry!, resumedFrom, deduplicated: false, hashes: {} };
}

/** The partial file's size, 0 when there is none. */
async function sizeOrZero(conn: FtpConn, abs: string): Promise<number> {
  try {
    return await conn.client.size(abs);
  } catch (err) {
    if (err instanceof FTPError && err.code === 550) return 0;
    throw err;
  }
}

/** Waits for room in the transfer's buffer; a failed transfer or an abort ends the wait. */
function drained(t: Transfer, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      t.pass.off('drain', onDrain);
      signal?.removeEventListener('abort', onAbort);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onAbort = () => {
      cleanup();
      reject(signal!.reason);
    };
    t.pass.on('drain', onDrain);
    signal?.addEventListener('abort', onAbort, { once: true });
    t.done.then(
      () => {
        cleanup();
        reject(new Error('the server ended the transfer before every byte was sent'));
      },
      (err: unknown) => {
        cleanup();
        reject(err);
      },
    );
  });
}

/** MFMT's YYYYMMDDHHMMSS in UTC (RFC 3659 time-val), whole seconds: what MLSD reports back. */
export function mfmtTime(mtimeMs: number): string {
  const d = new Date(Math.floor(mtimeMs / 1000) * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}
