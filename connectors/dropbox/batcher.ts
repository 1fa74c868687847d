/**
 * Commits of small files gathered into `upload_session/finish_batch_v2` calls (rclone's
 * `--dropbox-batch-mode sync`): every commit takes Dropbox's namespace lock, and many single
 * commits at once are refused with `too_many_write_operations`; one batch takes it once.
 *
 * A batch goes when it is full, when every small write under way has queued its commit (nobody
 * else is about to join), or `maxDelayMs` after its first entry. One batch is in flight at a time.
 * Each caller's promise settles with its own entry's result: a per-entry failure is that write's
 * error, a failure of the whole call is every entry's.
 */
import type { ConnectorError } from '../errors.js';
import { taggedFailure } from './errors.js';
import type { FileMetadata, FinishArg, FinishBatchEntry } from './wire.js';

interface Waiting {
  arg: FinishArg;
  op: string;
  resolve(m: FileMetadata): void;
  reject(err: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export interface BatcherOptions {
  /** Entries per call; Dropbox takes up to 1000. */
  maxBatch: number;
  /** Longest an entry waits for others, ms. */
  maxDelayMs: number;
}

export class FinishBatcher {
  private queue: Waiting[] = [];
  private preparing = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  /** Calls made and entries sent, for tests and events. */
  readonly stats = { batches: 0, entries: 0 };

  constructor(
    private readonly send: (entries: FinishArg[], signal?: AbortSignal) => Promise<FinishBatchEntry[]>,
    private readonly opts: BatcherOptions,
  ) {}

  /** A small write begins (its bytes go up before it queues its commit); call the result when it queued or gave up. */
  begin(): () => void {
    this.preparing++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.preparing--;
      this.schedule();
    };
  }

  /** Queues one commit; settles once its batch has been answered. */
  finish(arg: FinishArg, op: string, signal?: AbortSignal): Promise<FileMetadata> {
    signal?.throwIfAborted();
    return new Promise<FileMetadata>((resolve, reject) => {
      const w: Waiting = { arg, op, resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          // Only while queued: once its batch is sent, the caller waits for Dropbox's answer, which may commit it.
          this.queue = this.queue.filter((x) => x !== w);
          reject(signal.reason);
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.queue.push(w);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.queue.length === 0 || this.inFlight) return;
    if (this.queue.length >= this.opts.maxBatch || this.preparing <= 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.flush();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.opts.maxDelayMs);
    }
  }

  private flush(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.opts.maxBatch);
    for (const w of batch) if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
    this.stats.batches++;
    this.stats.entries += batch.length;
    this.inFlight = this.send(batch.map((w) => w.arg))
      .then(
        (results) => {
          batch.forEach((w, i) => {
            const r = results[i];
            if (!r) w.reject(taggedFailure({ '.tag': 'missing_result' }, w.op));
            else if (r['.tag'] === 'success') {
              const { '.tag': _tag, ...meta } = r;
              w.resolve({ '.tag': 'file', ...meta } as FileMetadata);
            } else w.reject(taggedFailure((r as { failure: unknown }).failure, `${w.op}: commit`));
          });
        },
        (err: ConnectorError | unknown) => {
          for (const w of batch) w.reject(err);
        },
      )
      .finally(() => {
        this.inFlight = undefined;
        this.schedule();
      });
  }
}
