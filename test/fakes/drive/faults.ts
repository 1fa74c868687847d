/**
 * What a test can make the Drive emulator do wrong, in process (`emu.faults`) or over HTTP
 * (`POST {url}/__emulator/faults` with the JSON of `FaultRequest`).
 */
import { z } from 'zod';

/** What a request is, for aiming faults. */
export type Role = 'list' | 'metadata' | 'download' | 'upload' | 'changes' | 'about' | 'token';
export const roles: readonly Role[] = ['list', 'metadata', 'download', 'upload', 'changes', 'about', 'token'];

export interface ThrottleRule {
  /** Requests left to refuse. */
  left: number;
  status: 429 | 403 | 503;
  /** Drive's error reason; 429 and 403 rate limits default to rateLimitExceeded / userRateLimitExceeded. */
  reason: string;
  message: string;
  retryAfterSec?: number;
  roles: readonly Role[];
  /** A throttling period: every matching request until then (ms since the epoch), whatever `left` says. */
  until?: number;
}

export const faultRequestSchema = z.strictObject({
  reset: z.literal(true).optional(),
  throttle: z
    .strictObject({
      count: z.int().min(1).default(1),
      status: z.union([z.literal(429), z.literal(403), z.literal(503)]).default(429),
      reason: z.string().optional(),
      message: z.string().optional(),
      retryAfterSec: z.int().min(0).optional(),
      roles: z.array(z.enum(['list', 'metadata', 'download', 'upload', 'changes', 'about', 'token'])).optional(),
      forMs: z.int().min(1).optional(),
    })
    .optional(),
  dailyDownloadQuota: z.union([z.int().min(0), z.null()]).optional(),
  dailyQuota: z.union([z.int().min(0), z.null()]).optional(),
  dailyQuotaReason: z.enum(['userRateLimitExceeded', 'uploadLimitExceeded']).optional(),
  resetQuota: z.literal(true).optional(),
  cutUploadAfter: z.int().min(0).optional(),
  cutDownloadAfter: z.int().min(0).optional(),
  bandwidth: z.strictObject({ upload: z.int().min(1).nullable().optional(), download: z.int().min(1).nullable().optional() }).optional(),
  expireAccessTokens: z.literal(true).optional(),
  revoke: z.string().optional(),
  expireUploadSessions: z.literal(true).optional(),
  expireChangeTokens: z.literal(true).optional(),
  shortPages: z.int().min(1).nullable().optional(),
});
export type FaultRequest = z.input<typeof faultRequestSchema>;

export class Faults {
  throttles: ThrottleRule[] = [];
  /** Upload bytes allowed per emulated day; null: no limit. */
  quotaBytes: number | null = null;
  quotaReason: 'userRateLimitExceeded' | 'uploadLimitExceeded' = 'userRateLimitExceeded';
  /** Upload bytes taken today (since the last `resetQuota`). */
  usedToday = 0;
  /** Download bytes allowed per emulated day (Drive's per-file download cap, account-wide here); null: no limit. */
  downloadQuotaBytes: number | null = null;
  downloadedToday = 0;
  /** Bytes of upload body still to accept before the connection is cut; null: no cut armed. */
  cutUploadIn: number | null = null;
  cutDownloadIn: number | null = null;
  uploadBytesPerSec: number | null = null;
  downloadBytesPerSec: number | null = null;
  /** Largest list page the emulator gives, whatever pageSize asks (short pages exercise paging). */
  maxPage: number | null = null;

  constructor(private readonly hooks: { expireAccessTokens(): void; revoke(account: string): void; expireUploadSessions(): void; expireChangeTokens(): void }) {}

  /**
   * The next `count` requests of `roles` (every role when absent) fail with a rate limit; with
   * `forMs`, every such request for that long (a throttling period).
   */
  throttle(count = 1, o: { status?: 429 | 403 | 503; reason?: string; message?: string; retryAfterSec?: number; roles?: readonly Role[]; forMs?: number } = {}): void {
    const status = o.status ?? 429;
    const reason = o.reason ?? (status === 403 ? 'userRateLimitExceeded' : status === 503 ? 'backendError' : 'rateLimitExceeded');
    const message = o.message ?? (status === 503 ? 'The service is currently unavailable.' : reason === 'userRateLimitExceeded' ? 'User Rate Limit Exceeded. Rate of requests for user exceed configured project quota.' : 'Rate Limit Exceeded');
    this.throttles.push({ left: count, status, reason, message, retryAfterSec: o.retryAfterSec, roles: o.roles ?? roles, until: o.forMs === undefined ? undefined : Date.now() + o.forMs });
  }

  /** The emulated day's upload allowance (Drive's 750 GB, scaled down); null lifts it. */
  dailyQuota(bytes: number | null, reason: 'userRateLimitExceeded' | 'uploadLimitExceeded' = 'userRateLimitExceeded'): void {
    this.quotaBytes = bytes;
    this.quotaReason = reason;
  }

  /** The emulated day's download allowance: past it, downloads answer `403 downloadQuotaExceeded`. */
  dailyDownloadQuota(bytes: number | null): void {
    this.downloadQuotaBytes = bytes;
  }

  /** A new emulated day: both allowances are whole again. */
  resetQuota(): void {
    this.usedToday = 0;
    this.downloadedToday = 0;
  }

  get quotaExhausted(): boolean {
    return this.quotaBytes !== null && this.usedToday >= this.quotaBytes;
  }

  /** The connection of the next upload is cut once this many more body bytes (counted across its chunks) arrived. */
  cutUploadAfter(bytes: number): void {
    this.cutUploadIn = bytes;
  }

  cutDownloadAfter(bytes: number): void {
    this.cutDownloadIn = bytes;
  }

  bandwidth(o: { upload?: number | null; download?: number | null }): void {
    if (o.upload !== undefined) this.uploadBytesPerSec = o.upload;
    if (o.download !== undefined) this.downloadBytesPerSec = o.download;
  }

  shortPages(n: number | null): void {
    this.maxPage = n;
  }

  expireAccessTokens(): void {
    this.hooks.expireAccessTokens();
  }

  revoke(account = 'default'): void {
    this.hooks.revoke(account);
  }

  expireUploadSessions(): void {
    this.hooks.expireUploadSessions();
  }

  /** Every change page token issued so far is refused from now on (the client must walk again). */
  expireChangeTokens(): void {
    this.hooks.expireChangeTokens();
  }

  /** The throttle rule this request meets, consumed; undefined when none. */
  takeThrottle(role: Role): ThrottleRule | undefined {
    const now = Date.now();
    this.throttles = this.throttles.filter((r) => (r.until === undefined ? r.left > 0 : now < r.until));
    const rule = this.throttles.find((r) => r.roles.includes(role));
    if (rule && rule.until === undefined) rule.left--;
    return rule;
  }

  reset(): void {
    this.throttles = [];
    this.quotaBytes = null;
    this.usedToday = 0;
    this.downloadQuotaBytes = null;
    this.downloadedToday = 0;
    this.cutUploadIn = null;
    this.cutDownloadIn = null;
    this.uploadBytesPerSec = null;
    this.downloadBytesPerSec = null;
    this.maxPage = null;
  }

  apply(req: z.output<typeof faultRequestSchema>): void {
    if (req.reset) this.reset();
    if (req.throttle) this.throttle(req.throttle.count, req.throttle);
    if (req.dailyQuota !== undefined) this.dailyQuota(req.dailyQuota, req.dailyQuotaReason);
    if (req.dailyDownloadQuota !== undefined) this.dailyDownloadQuota(req.dailyDownloadQuota);
    if (req.resetQuota) this.resetQuota();
    if (req.cutUploadAfter !== undefined) this.cutUploadAfter(req.cutUploadAfter);
    if (req.cutDownloadAfter !== undefined) this.cutDownloadAfter(req.cutDownloadAfter);
    if (req.bandwidth) this.bandwidth(req.bandwidth);
    if (req.expireAccessTokens) this.expireAccessTokens();
    if (req.revoke) this.revoke(req.revoke);
    if (req.expireUploadSessions) this.expireUploadSessions();
    if (req.expireChangeTokens) this.expireChangeTokens();
    if (req.shortPages !== undefined) this.shortPages(req.shortPages);
  }
}
