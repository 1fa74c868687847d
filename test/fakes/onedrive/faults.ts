/** Fault injection for the OneDrive emulator, set from tests through the handle (`emu.faults`). */

/** What a request is to the emulator, for faults and stats. */
export type Role = 'api' | 'upload' | 'download' | 'token' | 'monitor';

export interface ThrottleOptions {
  /** 429 (default) or 503. */
  status?: 429 | 503;
  /** Sent as `Retry-After` when given. */
  retryAfterSec?: number;
  /** Which requests are throttled; the API calls only by default. */
  roles?: readonly Role[];
}

export class Faults {
  private throttles: { left: number; status: 429 | 503; retryAfterSec?: number; roles: readonly Role[] }[] = [];
  /** Bytes the next upload bodies may still deliver before the emulator cuts the connection. */
  private cutAfter: number | undefined;
  /** Bytes per second, per request, for download bodies and upload bodies. */
  downloadBytesPerSec = 0;
  uploadBytesPerSec = 0;
  /** Upload sessions made before this are gone (404 itemNotFound). */
  sessionsExpiredBefore = 0;

  /** The next `count` requests of `roles` are refused with 429 (or 503) and the Graph throttle body. */
  throttle(count: number, o: ThrottleOptions = {}): void {
    this.throttles.push({ left: count, status: o.status ?? 429, retryAfterSec: o.retryAfterSec, roles: o.roles ?? ['api'] });
  }

  takeThrottle(role: Role): { status: 429 | 503; retryAfterSec?: number } | undefined {
    const t = this.throttles.find((x) => x.left > 0 && x.roles.includes(role));
    if (!t) return undefined;
    t.left--;
    return { status: t.status, retryAfterSec: t.retryAfterSec };
  }

  /** The next upload (simple PUT or fragments of a session) is cut after this many body bytes. */
  cutNextUpload(afterBytes: number): void {
    this.cutAfter = afterBytes;
  }

  /** How many of `n` arriving upload bytes may pass before the cut; undefined when no cut is armed. */
  takeUploadBytes(n: number): number | undefined {
    if (this.cutAfter === undefined) return undefined;
    const pass = Math.min(n, this.cutAfter);
    this.cutAfter -= pass;
    if (pass < n) this.cutAfter = undefined;
    return pass;
  }

  setBandwidth(o: { download?: number; upload?: number }): void {
    if (o.download !== undefined) this.downloadBytesPerSec = o.download;
    if (o.upload !== undefined) this.uploadBytesPerSec = o.upload;
  }

  /** Every upload session open now is expired (404 on its next request). */
  expireUploadSessions(): void {
    this.sessionsExpiredBefore = Date.now() + 1;
  }

  reset(): void {
    this.throttles = [];
    this.cutAfter = undefined;
    this.downloadBytesPerSec = 0;
    this.uploadBytesPerSec = 0;
  }
}

/** Waits so that `bytes` more bytes keep to `bytesPerSec` since `start` (ms). */
export async function pace(bytesPerSec: number, sent: number, start: number): Promise<void> {
  if (bytesPerSec <= 0) return;
  const due = start + (sent / bytesPerSec) * 1000;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
