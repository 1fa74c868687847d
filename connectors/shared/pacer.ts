/**
 * Spacing of one connector's requests, as rclone's lib/pacer (its default calculator): every
 * request waits its turn, turns are at least `sleep` apart, a throttle or transient failure
 * doubles `sleep` (up to `maxSleepMs`, or to the server's Retry-After), and each success halves
 * it back toward `minSleepMs`. One pacer per connector instance, shared by all its requests, so
 * transfers running at once back off together instead of each hammering a throttled account.
 */
export interface PacerOptions {
  /** Least time between the starts of two requests, ms. Default 0 (no spacing until a failure). */
  minSleepMs?: number;
  /** Most a failure may raise the spacing to, ms. Default 2 s (rclone's jottacloud maxSleep). */
  maxSleepMs?: number;
  /** How waits are slept (tests). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

/** After a failure the spacing starts here, unless the server asked for longer. */
const FIRST_BACKOFF_MS = 250;

export class Pacer {
  private readonly minSleepMs: number;
  private readonly maxSleepMs: number;
  private readonly sleepFn: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly now: () => number;
  private sleepMs: number;
  /** When the next turn may start. */
  private nextAt = 0;

  constructor(opts: PacerOptions = {}) {
    this.minSleepMs = Math.max(0, opts.minSleepMs ?? 0);
    this.maxSleepMs = Math.max(this.minSleepMs, opts.maxSleepMs ?? 2_000);
    this.sleepFn = opts.sleep ?? abortableSleep;
    this.now = opts.now ?? Date.now;
    this.sleepMs = this.minSleepMs;
  }

  /** The current spacing, ms. */
  get spacingMs(): number {
    return this.sleepMs;
  }

  /** Waits until this request may start; turns are handed out in order. */
  async turn(signal?: AbortSignal): Promise<void> {
    const now = this.now();
    const at = Math.max(now, this.nextAt);
    this.nextAt = at + this.sleepMs;
    if (at > now) await this.sleepFn(at - now, signal);
  }

  /** The request was throttled or failed transiently: back off, at least as long as the server asked. */
  failed(retryAfterMs?: number): void {
    const doubled = Math.max(FIRST_BACKOFF_MS, this.sleepMs * 2);
    this.sleepMs = Math.min(this.maxSleepMs, Math.max(doubled, retryAfterMs ?? 0));
    this.nextAt = Math.max(this.nextAt, this.now() + this.sleepMs);
  }

  succeeded(): void {
    this.sleepMs = Math.max(this.minSleepMs, Math.floor(this.sleepMs / 2));
  }
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
