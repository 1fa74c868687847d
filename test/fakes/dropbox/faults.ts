/**
 * What a test makes the Dropbox emulator do wrong, and what it counts. Every fault is armed by
 * the test and spent by the requests it names; `reset()` disarms them all.
 */
export interface ThrottleOptions {
  /** 429 (rate limit, default) or a 5xx. */
  status?: number;
  /** The rate limit's reason tag. Default too_many_requests. */
  reason?: 'too_many_requests' | 'too_many_write_operations';
  /** Seconds in the `Retry-After` header and the JSON `retry_after`; none at all when undefined. */
  retryAfterSec?: number;
  /** Say `retry_after` in the JSON body only, without the header. */
  jsonOnly?: boolean;
  /** Routes it applies to (`files/list_folder`, `files/upload_session/append_v2`...); every /2/ route by default. */
  routes?: string[];
}

export interface ContentionOptions {
  /** More write operations than this at once in one namespace are refused with 429 too_many_write_operations. */
  maxConcurrent: number;
  /** How long each write holds the namespace, ms (Dropbox's lock contention). */
  holdMs: number;
  retryAfterSec?: number;
}

export interface DbxStats {
  /** Requests per route (`files/list_folder`, `oauth2/token`...). */
  requests: Record<string, number>;
  /** Upload body bytes received, applied or not. */
  receivedBytes: number;
  /** Upload body bytes that became part of a session or file (a cut request applies none). */
  appliedBytes: number;
  downloadedBytes: number;
  /** upload_session/finish calls, and finish_batch_v2 calls with their entries. */
  finishes: number;
  finishBatches: number;
  finishBatchEntries: number;
  /** 429 answers: all, and those for too_many_write_operations. */
  throttled: number;
  writeThrottled: number;
  /** Upload connections cut by the fault. */
  cuts: number;
}

export const newStats = (): DbxStats => ({
  requests: {},
  receivedBytes: 0,
  appliedBytes: 0,
  downloadedBytes: 0,
  finishes: 0,
  finishBatches: 0,
  finishBatchEntries: 0,
  throttled: 0,
  writeThrottled: 0,
  cuts: 0,
});

/** Dropbox's own default contention, always on: enough that batching matters when writes pile up. */
export const DEFAULT_CONTENTION: ContentionOptions = { maxConcurrent: 16, holdMs: 0, retryAfterSec: 1 };

export class DbxFaults {
  throttles: (ThrottleOptions & { left: number })[] = [];
  /** Bytes of upload bodies still allowed before the connection is cut (across requests). */
  cutAfter: number | undefined;
  /** The next upload request (append or finish) is applied, then its connection dropped unanswered. */
  loseResponse = false;
  contention: ContentionOptions = DEFAULT_CONTENTION;
  uploadBps = 0;
  downloadBps = 0;
  /** The next committed file is recorded with a wrong content_hash (a server-side corruption). */
  corruptHash = false;

  constructor(private readonly hooks: { resetCursors(account?: string): void; expireTokens(): void; revoke(account?: string): void; setAllocation(bytes: number, account?: string): void }) {}

  /** The next `count` matching requests are answered with a rate limit (or a 5xx). */
  throttle(count: number, opts: ThrottleOptions = {}): void {
    this.throttles.push({ ...opts, left: count });
  }

  /** Cuts the connection of the upload in progress once this many more body bytes have arrived; that request applies nothing. */
  cutUploadAfter(bytes: number): void {
    this.cutAfter = bytes;
  }

  /** The next upload request is applied but its answer is lost (Dropbox's "request processed, response lost"). */
  loseNextUploadResponse(): void {
    this.loseResponse = true;
  }

  /** Lock contention: writes beyond `maxConcurrent` at once are refused (DEFAULT_CONTENTION otherwise). */
  writeContention(opts: ContentionOptions): void {
    this.contention = opts;
  }

  /** Bytes per second for upload bodies and download bodies; 0 for no limit. */
  bandwidth(opts: { uploadBps?: number; downloadBps?: number }): void {
    this.uploadBps = opts.uploadBps ?? 0;
    this.downloadBps = opts.downloadBps ?? 0;
  }

  /** The next file committed is reported with a content_hash that is not its bytes'. */
  corruptNextHash(): void {
    this.corruptHash = true;
  }

  /** Every cursor issued so far answers `reset` (the account's, or every account's). */
  resetCursors(account?: string): void {
    this.hooks.resetCursors(account);
  }

  /** Every access token issued so far has expired (refresh tokens still work). */
  expireTokens(): void {
    this.hooks.expireTokens();
  }

  /** Every token of the account stops working (a refresh gets invalid_grant). */
  revoke(account?: string): void {
    this.hooks.revoke(account);
  }

  /** The account's space allocation in bytes (insufficient_space beyond it). */
  setAllocation(bytes: number, account?: string): void {
    this.hooks.setAllocation(bytes, account);
  }

  /** Takes a throttle for `route` if one is armed. */
  takeThrottle(route: string): ThrottleOptions | undefined {
    const t = this.throttles.find((x) => x.left > 0 && (!x.routes || x.routes.includes(route)));
    if (!t) return undefined;
    t.left--;
    this.throttles = this.throttles.filter((x) => x.left > 0);
    return t;
  }

  reset(): void {
    this.throttles = [];
    this.cutAfter = undefined;
    this.loseResponse = false;
    this.contention = DEFAULT_CONTENTION;
    this.uploadBps = 0;
    this.downloadBps = 0;
    this.corruptHash = false;
  }
}
