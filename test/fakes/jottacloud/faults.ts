/**
 * Fault injection (shared/specs/jottacloud-api.md §11, §12.4; DESIGN.md "Tests"). State lives here;
 * the request handlers ask it what to do. Settable programmatically and over HTTP
 * (`POST /__emulator/faults`, validated by `faultRequestSchema`).
 */
import { z } from 'zod';

/** What a request is, for scoping throttles. */
export type RequestRole = 'jfs' | 'api' | 'allocate' | 'upload' | 'download' | 'token' | 'wellknown' | 'authorize';
const roles = ['jfs', 'api', 'allocate', 'upload', 'download', 'token', 'wellknown', 'authorize'] as const;

export interface ThrottleFault {
  /** Requests still to refuse. */
  remaining: number;
  /** 429 by default; 503 (and 502/504/509, §9.2) also exercise rclone's pacer. */
  status: number;
  /** Seconds for `Retry-After`; omitted when undefined (§9.2: no source shows one from Jottacloud). */
  retryAfterSec?: number;
  /** Roles this throttle applies to; default jfs, api, allocate, upload, download (not the token endpoint). */
  roles: RequestRole[];
}

export interface CutFault {
  /** Body bytes let through before the socket is destroyed. */
  afterBytes: number;
  /** Requests still to cut. */
  remaining: number;
}

export type CorruptMode = 'bytes' | 'md5';

export interface CorruptFault {
  /** `bytes`: the server keeps different bytes than it received (one byte flipped) but reports the declared md5. `md5`: it keeps the right bytes but reports a wrong md5. */
  mode: CorruptMode;
  remaining: number;
}

export interface FaultStats {
  throttled: number;
  uploadCuts: number;
  downloadCuts: number;
  corrupted: number;
  quotaRefusals: number;
  folderTooLarge: number;
  /** Tree listings (`mode=liststream`) that arrived while held. */
  listingsHeld: number;
  /** Held listings whose client hung up before the hold was lifted. */
  listingsAbandoned: number;
}

export interface FaultState {
  throttle?: ThrottleFault;
  /** Aggregate upload bandwidth cap in bytes/s (the soft throttle past 5 TB stored, §11). */
  uploadBytesPerSec?: number;
  cutUpload?: CutFault;
  cutDownload?: CutFault;
  corruptMd5?: CorruptFault;
  /** true: every account is full; a list: those accounts. */
  quotaFull: boolean | string[];
  /** A folder listing with more children than this answers 500 (#5639, §4.4). */
  folderTooLarge?: number;
  /** Accounts whose tree listings (`mode=liststream`, a plan's) wait until the hold is lifted: a listing certainly in progress, while stats and folder listings (a remote's check) still answer. */
  holdListings?: string[];
  accessTokenLifetimeSec: number;
  stats: FaultStats;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Faults {
  private state: Omit<FaultState, 'accessTokenLifetimeSec' | 'stats'> = { quotaFull: false };
  readonly stats: FaultStats = { throttled: 0, uploadCuts: 0, downloadCuts: 0, corrupted: 0, quotaRefusals: 0, folderTooLarge: 0, listingsHeld: 0, listingsAbandoned: 0 };
  private nextUploadSlot = 0;
  /** Held listings, each re-checking whether its hold is lifted. */
  private readonly heldListings = new Set<() => void>();

  constructor(
    private readonly auth: {
      accessTokenLifetimeSec: number;
      expireAccessTokens(account?: string): number;
      revokeAccount(account: string): number;
    },
  ) {}

  // ---- the programmatic API ----

  /** Refuses the next `count` requests (of the given roles) with 429, or `status`. */
  throttle(count: number, opts: { status?: number; retryAfterSec?: number; roles?: RequestRole[] } = {}): void {
    this.state.throttle =
      count > 0
        ? { remaining: count, status: opts.status ?? 429, retryAfterSec: opts.retryAfterSec, roles: opts.roles ?? ['jfs', 'api', 'allocate', 'upload', 'download'] }
        : undefined;
  }

  /** Caps the aggregate upload rate (bytes/s); null lifts the cap. */
  capUploadBandwidth(bytesPerSec: number | null): void {
    this.state.uploadBytesPerSec = bytesPerSec && bytesPerSec > 0 ? bytesPerSec : undefined;
    this.nextUploadSlot = 0;
  }

  /** Destroys the connection of the next `count` uploads after `afterBytes` body bytes (those bytes are kept, §12.3 item 7). */
  cutUploadAfter(afterBytes: number, count = 1): void {
    this.state.cutUpload = count > 0 ? { afterBytes, remaining: count } : undefined;
  }

  /** Destroys the connection of the next `count` `mode=bin` downloads after `afterBytes` body bytes. */
  cutDownloadAfter(afterBytes: number, count = 1): void {
    this.state.cutDownload = count > 0 ? { afterBytes, remaining: count } : undefined;
  }

  /** Lifetime of access tokens issued from now on (`expires_in`); rclone refreshes on expiry time only (§2.5). */
  setAccessTokenLifetime(seconds: number | null): void {
    this.auth.accessTokenLifetimeSec = seconds && seconds > 0 ? seconds : 3600;
  }

  /** Expires the current access tokens (of one account, or all) now. */
  expireAccessTokens(account?: string): number {
    return this.auth.expireAccessTokens(account);
  }

  /** Kills every token of an account: access tokens → 401, refresh → 400 invalid_grant. */
  revokeSessions(account: string): number {
    return this.auth.revokeAccount(account);
  }

  /** Corrupts the next `count` completed uploads. */
  corruptMd5(mode: CorruptMode, count = 1): void {
    this.state.corruptMd5 = count > 0 ? { mode, remaining: count } : undefined;
  }

  /** Reports the quota full: uploads are refused at allocate (460, §9.2) and the account shows write-locked. */
  setQuotaFull(full: boolean, account?: string): void {
    if (account === undefined) {
      this.state.quotaFull = full;
      return;
    }
    const list = Array.isArray(this.state.quotaFull) ? this.state.quotaFull : [];
    const rest = list.filter((a) => a.toLowerCase() !== account.toLowerCase());
    this.state.quotaFull = full ? [...rest, account] : rest.length ? rest : false;
  }

  /** Folder listings with more than `children` entries answer 500 (#5639); null lifts it. */
  failFoldersLargerThan(children: number | null): void {
    this.state.folderTooLarge = children ?? undefined;
  }

  /** Holds (or lets go of) one account's tree listings: each waits until released or its client hangs up. */
  holdListings(account: string, hold: boolean): void {
    const rest = (this.state.holdListings ?? []).filter((a) => a.toLowerCase() !== account.toLowerCase());
    this.state.holdListings = hold ? [...rest, account] : rest.length ? rest : undefined;
    if (!hold) for (const recheck of [...this.heldListings]) recheck();
  }

  reset(): void {
    this.state = { quotaFull: false };
    for (const recheck of [...this.heldListings]) recheck();
    this.auth.accessTokenLifetimeSec = 3600;
    this.nextUploadSlot = 0;
  }

  snapshot(): FaultState {
    return { ...structuredClone(this.state), accessTokenLifetimeSec: this.auth.accessTokenLifetimeSec, stats: { ...this.stats } };
  }

  /** Applies an HTTP fault request (see faultRequestSchema); returns what was done. */
  apply(req: FaultRequest): Record<string, unknown> {
    const done: Record<string, unknown> = {};
    if (req.reset) this.reset();
    if (req.throttle !== undefined) this.throttle(req.throttle?.count ?? 0, req.throttle ?? {});
    if (req.uploadBytesPerSec !== undefined) this.capUploadBandwidth(req.uploadBytesPerSec);
    if (req.cutUpload !== undefined) this.cutUploadAfter(req.cutUpload?.afterBytes ?? 0, req.cutUpload ? (req.cutUpload.count ?? 1) : 0);
    if (req.cutDownload !== undefined) this.cutDownloadAfter(req.cutDownload?.afterBytes ?? 0, req.cutDownload ? (req.cutDownload.count ?? 1) : 0);
    if (req.accessTokenLifetimeSec !== undefined) this.setAccessTokenLifetime(req.accessTokenLifetimeSec);
    if (req.expireAccessTokens !== undefined) {
      done.expiredAccessTokens = this.expireAccessTokens(req.expireAccessTokens === true ? undefined : req.expireAccessTokens);
    }
    if (req.revokeSessions !== undefined) done.revokedSessions = this.revokeSessions(req.revokeSessions);
    if (req.corruptMd5 !== undefined) this.corruptMd5(req.corruptMd5?.mode ?? 'bytes', req.corruptMd5 ? (req.corruptMd5.count ?? 1) : 0);
    if (req.quotaFull !== undefined) {
      if (typeof req.quotaFull === 'boolean') this.setQuotaFull(req.quotaFull);
      else this.setQuotaFull(req.quotaFull.full, req.quotaFull.account);
    }
    if (req.folderTooLarge !== undefined) this.failFoldersLargerThan(req.folderTooLarge);
    if (req.holdListings !== undefined) this.holdListings(req.holdListings.account, req.holdListings.hold);
    return done;
  }

  // ---- used by the handlers ----

  /** A throttle reply for this request, if one is due. */
  takeThrottle(role: RequestRole): { status: number; retryAfterSec?: number } | undefined {
    const t = this.state.throttle;
    if (!t || t.remaining <= 0 || !t.roles.includes(role)) return undefined;
    t.remaining--;
    if (t.remaining <= 0) this.state.throttle = undefined;
    this.stats.throttled++;
    return { status: t.status, retryAfterSec: t.retryAfterSec };
  }

  /** The byte count after which to cut this upload/download, if one is due. */
  takeCut(kind: 'upload' | 'download'): number | undefined {
    const c = kind === 'upload' ? this.state.cutUpload : this.state.cutDownload;
    if (!c || c.remaining <= 0) return undefined;
    c.remaining--;
    if (c.remaining <= 0) {
      if (kind === 'upload') this.state.cutUpload = undefined;
      else this.state.cutDownload = undefined;
    }
    if (kind === 'upload') this.stats.uploadCuts++;
    else this.stats.downloadCuts++;
    return c.afterBytes;
  }

  takeCorruption(): CorruptMode | undefined {
    const c = this.state.corruptMd5;
    if (!c || c.remaining <= 0) return undefined;
    c.remaining--;
    if (c.remaining <= 0) this.state.corruptMd5 = undefined;
    this.stats.corrupted++;
    return c.mode;
  }

  isQuotaFull(account: string): boolean {
    const q = this.state.quotaFull;
    return q === true || (Array.isArray(q) && q.some((a) => a.toLowerCase() === account.toLowerCase()));
  }

  folderTooLarge(children: number): boolean {
    const limit = this.state.folderTooLarge;
    if (limit === undefined || children <= limit) return false;
    this.stats.folderTooLarge++;
    return true;
  }

  /**
   * While the account's listings are held, waits until they are released; false when the client
   * hung up first (nothing is to be answered then).
   */
  async waitIfListingsHeld(account: string, closed: Promise<void>): Promise<boolean> {
    const isHeld = () => (this.state.holdListings ?? []).some((a) => a.toLowerCase() === account.toLowerCase());
    if (!isHeld()) return true;
    this.stats.listingsHeld++;
    let release!: () => void;
    const lifted = new Promise<'lifted'>((r) => { release = () => r('lifted'); });
    const check = () => { if (!isHeld()) release(); };
    this.heldListings.add(check);
    try {
      const how = await Promise.race([lifted, closed.then(() => 'closed' as const)]);
      if (how === 'closed') this.stats.listingsAbandoned++;
      return how === 'lifted';
    } finally {
      this.heldListings.delete(check);
    }
  }

  /** Waits until `bytes` more upload bytes fit under the bandwidth cap (aggregate over all uploads). */
  async paceUpload(bytes: number): Promise<void> {
    const rate = this.state.uploadBytesPerSec;
    if (!rate) return;
    const now = Date.now();
    const start = Math.max(now, this.nextUploadSlot);
    this.nextUploadSlot = start + (bytes / rate) * 1000;
    const wait = this.nextUploadSlot - now;
    if (wait > 1) await sleep(wait);
  }
}

const cutSchema = z.object({ afterBytes: z.number().int().min(0), count: z.number().int().min(0).optional() }).nullable();

/** Body of `POST /__emulator/faults`. Each key set (null clears it) changes one fault; others stay. */
export const faultRequestSchema = z.strictObject({
  reset: z.boolean().optional(),
  throttle: z
    .object({
      count: z.number().int().min(0),
      status: z.number().int().min(400).max(599).optional(),
      retryAfterSec: z.number().int().min(0).optional(),
      roles: z.array(z.enum(roles)).optional(),
    })
    .nullable()
    .optional(),
  uploadBytesPerSec: z.number().int().min(1).nullable().optional(),
  cutUpload: cutSchema.optional(),
  cutDownload: cutSchema.optional(),
  accessTokenLifetimeSec: z.number().int().min(1).nullable().optional(),
  expireAccessTokens: z.union([z.literal(true), z.string()]).optional(),
  revokeSessions: z.string().optional(),
  corruptMd5: z.object({ mode: z.enum(['bytes', 'md5']), count: z.number().int().min(0).optional() }).nullable().optional(),
  quotaFull: z.union([z.boolean(), z.object({ account: z.string(), full: z.boolean() })]).optional(),
  folderTooLarge: z.number().int().min(0).nullable().optional(),
  holdListings: z.object({ account: z.string(), hold: z.boolean() }).optional(),
});
export type FaultRequest = z.infer<typeof faultRequestSchema>;
