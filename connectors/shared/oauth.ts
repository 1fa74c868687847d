/**
 * Single-writer OAuth token refresh over a remote's `CredentialStore`, for every provider whose
 * refresh tokens rotate (Jottacloud, OneDrive, Dropbox with short-lived tokens) or are merely
 * shared between worker processes (Google Drive):
 *
 *   - in this process one renewal runs at a time, and every caller waiting for a token shares it;
 *   - across processes the renewal runs inside `credentials.update`, under the remote's row lock,
 *     and decides again from what is stored *now*: if another process refreshed meanwhile, its
 *     tokens are adopted and nothing is sent. No two processes ever present the same refresh
 *     token, which for rotating tokens would end the whole session family;
 *   - tokens are renewed a margin ahead of expiry, so a request never leaves with one about to lapse.
 *
 * What a provider adds: how its tokens sit in the credentials, how to refresh them, and how to
 * obtain the first ones from what the user gave (`TokenGrants`).
 */
import { ConnectorError } from '../errors.js';
import type { CredentialStore } from '../types.js';

/** The least a stored token set has; providers keep more (endpoints, client id, user). */
export interface StoredTokens {
  accessToken: string;
  /** ms since the epoch. */
  expiresAt: number;
  /** The lifetime the server gave, s; sizes the refresh margin. */
  expiresIn: number;
}

export interface TokenGrants<T extends StoredTokens> {
  /** The tokens in the stored credentials, or undefined when there are none yet. */
  read(raw: Record<string, unknown>): T | undefined;
  /** Renews stored tokens (the refresh grant). Called under the row lock only. */
  refresh(stored: T): Promise<T>;
  /**
   * First tokens from what the credentials hold instead (Jottacloud's single-use login token, an
   * authorisation code); undefined when there is nothing to start from. Called under the row lock only.
   */
  obtain?(raw: Record<string, unknown>): Promise<T | undefined>;
  /** What is stored for `tokens`; the tokens themselves when absent. Anything not returned is dropped. */
  write?(tokens: T): Record<string, unknown>;
  /** The auth error when the credentials hold nothing usable. */
  missing(): ConnectorError;
}

/** What this process did about tokens (for events and tests). */
export interface TokenStats {
  /** First tokens obtained here (`obtain`). */
  obtained: number;
  /** Refresh grants sent from here. */
  refreshes: number;
  /** Renewals answered by tokens another process (or connector) had already stored: a plain read. */
  adoptedByRead: number;
  /** ... or found under the row lock after waiting for it. */
  adoptedUnderLock: number;
}

/** golang/oauth2's defaultExpiryDelta, which rclone uses for every OAuth backend. */
const EXPIRY_DELTA_MS = 10_000;

/**
 * Refresh this long before expiry: 10 s as rclone, but at most a fifth of the token's lifetime,
 * so very short-lived tokens (an emulator's fault) are not refreshed on every request.
 */
export function refreshMarginMs(expiresInSec: number): number {
  return Math.min(EXPIRY_DELTA_MS, Math.floor((expiresInSec * 1000) / 5));
}

export class TokenManager<T extends StoredTokens> {
  private current: T | undefined;
  private pending: Promise<T> | undefined;
  private readonly now: () => number;
  readonly stats: TokenStats = { obtained: 0, refreshes: 0, adoptedByRead: 0, adoptedUnderLock: 0 };

  constructor(
    private readonly credentials: CredentialStore,
    private readonly grants: TokenGrants<T>,
    opts: { now?: () => number } = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** A valid access token: the cached one, or one renewed (or obtained) as needed. */
  async accessToken(): Promise<string> {
    const cur = this.current;
    if (cur && this.usable(cur)) return cur.accessToken;
    return (await this.renew(undefined)).accessToken;
  }

  /**
   * After the server refused `rejected` (revoked, or expired early): a different token, refreshed
   * if the stored one is the rejected one. Callers do this once per request, never in a loop.
   */
  async afterRejection(rejected: string): Promise<string> {
    let t = await this.renew(rejected);
    // A renewal already in flight may have started before the rejection and returned the same token.
    if (t.accessToken === rejected) t = await this.renew(rejected);
    return t.accessToken;
  }

  /** The tokens as last seen. */
  get tokens(): Readonly<T> | undefined {
    return this.current;
  }

  private usable(t: T, rejected?: string): boolean {
    return t.accessToken !== rejected && this.now() < t.expiresAt - refreshMarginMs(t.expiresIn);
  }

  private renew(rejected: string | undefined): Promise<T> {
    this.pending ??= this.renewShared(rejected)
      .then((t) => (this.current = t))
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  private async renewShared(rejected: string | undefined): Promise<T> {
    // Another process may have refreshed already: a plain read avoids taking the lock then.
    const seen = this.grants.read(await this.credentials.read());
    if (seen && this.usable(seen, rejected)) {
      this.stats.adoptedByRead++;
      return seen;
    }
    let result: T | undefined;
    await this.credentials.update(async (raw) => {
      // Under the row lock: decide again from what is stored now, never from what was seen before.
      const stored = this.grants.read(raw);
      if (stored && this.usable(stored, rejected)) {
        this.stats.adoptedUnderLock++;
        result = stored;
        return raw;
      }
      if (stored) {
        result = await this.grants.refresh(stored);
        this.stats.refreshes++;
      } else {
        result = await this.grants.obtain?.(raw);
        if (!result) throw this.grants.missing();
        this.stats.obtained++;
      }
      return this.grants.write ? this.grants.write(result) : ({ ...result } as Record<string, unknown>);
    });
    return result as T;
  }
}
