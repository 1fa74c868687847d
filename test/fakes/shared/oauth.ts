/**
 * The authorization server half of a provider emulator (Google, Microsoft, Dropbox): an
 * authorization endpoint that approves at once, a token endpoint for the authorization-code and
 * refresh grants, and the Bearer check every API request goes through. Each emulator mounts the
 * handlers at its provider's own paths and words its own 401 bodies from `authenticate`.
 *
 * What a real one does that matters to a client, and so is done here: codes are single-use and
 * bound to their redirect_uri; the client must authenticate (form body or Basic); access tokens
 * expire; refresh tokens may rotate (Microsoft, Dropbox short-lived) and a revoked account's
 * tokens all stop working, so a client can be shown to ask the user to reconnect.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The token object `rclone authorize` prints, which `config.token` takes. */
export interface RcloneToken {
  access_token: string;
  token_type: 'Bearer';
  refresh_token: string;
  /** RFC 3339. */
  expiry: string;
}

export interface FakeOAuthOptions {
  clientId?: string;
  clientSecret?: string;
  /** Lifetime of access tokens, s. Default 3600. */
  accessTtlSec?: number;
  /** A refresh answers a new refresh token and the old one stops working. Default false (Google). */
  rotateRefresh?: boolean;
  /** For tests that move time: ms since the epoch. */
  now?: () => number;
  /** The provider's `error_description` when a person declines its consent page. */
  declinedWords?: string;
}

export type AuthCheck = { account: string } | { error: 'missing' | 'invalid' | 'expired' | 'revoked' };

export interface FakeOAuthStats {
  /** Tokens handed out by `issue` (a pasted rclone token). */
  issued: number;
  codeExchanges: number;
  refreshes: number;
  /** Token requests refused (bad client, spent code, revoked refresh token). */
  refused: number;
}

interface Access {
  account: string;
  expiresAt: number;
}

export class FakeOAuth {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly stats: FakeOAuthStats = { issued: 0, codeExchanges: 0, refreshes: 0, refused: 0 };
  private readonly accessTtlSec: number;
  private readonly rotate: boolean;
  private readonly now: () => number;
  private readonly access = new Map<string, Access>();
  /** refresh token → account */
  private readonly refresh = new Map<string, string>();
  private readonly codes = new Map<string, { account: string; redirectUri: string; clientId: string }>();
  private readonly revoked = new Set<string>();
  private readonly declinedWords: string;
  /** Consent pages still to be declined (`declineNextConsent`). */
  private declines = 0;

  constructor(opts: FakeOAuthOptions = {}) {
    this.clientId = opts.clientId ?? `client-${randomBytes(6).toString('hex')}`;
    this.clientSecret = opts.clientSecret ?? randomBytes(18).toString('base64url');
    this.accessTtlSec = opts.accessTtlSec ?? 3600;
    this.rotate = opts.rotateRefresh ?? false;
    this.now = opts.now ?? Date.now;
    this.declinedWords = opts.declinedWords ?? 'The user denied access.';
  }

  /**
   * The next visit to the authorization endpoint is declined, as a person does on the consent
   * page: the browser goes back to redirect_uri with `error=access_denied`, the provider's words
   * and the caller's state.
   */
  declineNextConsent(): void {
    this.declines++;
  }

  /** A fresh token pair for `account`, as `rclone authorize` would print it. Un-revokes the account. */
  issue(account = 'default'): RcloneToken {
    this.revoked.delete(account);
    this.stats.issued++;
    const { accessToken, refreshToken, expiresAt } = this.grant(account);
    return { access_token: accessToken, token_type: 'Bearer', refresh_token: refreshToken, expiry: new Date(expiresAt).toISOString() };
  }

  /** Every token of `account` stops working: refreshes get invalid_grant, API calls get `revoked`. */
  revoke(account = 'default'): void {
    this.revoked.add(account);
    for (const [t, a] of this.refresh) if (a === account) this.refresh.delete(t);
  }

  /** Fault: every access token handed out so far is expired now (refresh tokens still work). */
  expireAccessTokens(): void {
    for (const a of this.access.values()) a.expiresAt = 0;
  }

  authenticate(authorization: string | undefined): AuthCheck {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) return { error: 'missing' };
    const a = this.access.get(m[1]);
    if (!a) return { error: 'invalid' };
    if (this.revoked.has(a.account)) return { error: 'revoked' };
    if (this.now() >= a.expiresAt) return { error: 'expired' };
    return { account: a.account };
  }

  /**
   * GET authorize: approves at once as `account` (the `login_hint` parameter, else "default") and
   * sends the browser back to redirect_uri with a single-use code and the caller's state (or
   * declines, when told to).
   */
  handleAuthorize(_req: IncomingMessage, res: ServerResponse, url: URL): void {
    const q = url.searchParams;
    const redirectUri = q.get('redirect_uri');
    if (q.get('client_id') !== this.clientId || !redirectUri) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('invalid_request: unknown client_id or no redirect_uri');
      return;
    }
    const back = new URL(redirectUri);
    const state = q.get('state');
    if (state !== null) back.searchParams.set('state', state);
    if (q.get('response_type') !== 'code') {
      back.searchParams.set('error', 'unsupported_response_type');
    } else if (this.declines > 0) {
      this.declines--;
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', this.declinedWords);
    } else {
      const code = randomBytes(16).toString('base64url');
      this.codes.set(code, { account: q.get('login_hint') ?? 'default', redirectUri, clientId: this.clientId });
      back.searchParams.set('code', code);
    }
    res.writeHead(302, { location: back.href });
    res.end();
  }

  /** POST token: `authorization_code` and `refresh_token` grants, form-encoded `body`. */
  handleToken(req: IncomingMessage, res: ServerResponse, body: string): void {
    const reply = this.token(req.headers.authorization, new URLSearchParams(body));
    if (reply.status !== 200) this.stats.refused++;
    res.writeHead(reply.status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(reply.body));
  }

  private token(authorization: string | undefined, form: URLSearchParams): { status: number; body: Record<string, unknown> } {
    const client = clientOf(authorization, form);
    if (client.id !== this.clientId || client.secret !== this.clientSecret) {
      return { status: 401, body: { error: 'invalid_client', error_description: 'The OAuth client was not found or its secret is wrong.' } };
    }
    const grant = form.get('grant_type');
    if (grant === 'authorization_code') {
      const code = this.codes.get(form.get('code') ?? '');
      if (!code || code.redirectUri !== form.get('redirect_uri')) {
        return { status: 400, body: { error: 'invalid_grant', error_description: 'Malformed auth code, or it was used before, or redirect_uri differs.' } };
      }
      this.codes.delete(form.get('code') ?? '');
      this.stats.codeExchanges++;
      this.revoked.delete(code.account);
      return { status: 200, body: this.tokenBody(this.grant(code.account), true) };
    }
    if (grant === 'refresh_token') {
      const presented = form.get('refresh_token') ?? '';
      const account = this.refresh.get(presented);
      if (account === undefined || this.revoked.has(account)) {
        return { status: 400, body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' } };
      }
      this.stats.refreshes++;
      if (this.rotate) {
        this.refresh.delete(presented);
        return { status: 200, body: this.tokenBody(this.grant(account), true) };
      }
      return { status: 200, body: this.tokenBody({ ...this.grantAccess(account), refreshToken: presented }, false) };
    }
    return { status: 400, body: { error: 'unsupported_grant_type', error_description: `grant_type ${grant ?? '(none)'} is not supported` } };
  }

  private grant(account: string): { accessToken: string; refreshToken: string; expiresAt: number } {
    const refreshToken = `r-${randomBytes(24).toString('base64url')}`;
    this.refresh.set(refreshToken, account);
    return { ...this.grantAccess(account), refreshToken };
  }

  private grantAccess(account: string): { accessToken: string; expiresAt: number } {
    const accessToken = `a-${randomBytes(24).toString('base64url')}`;
    const expiresAt = this.now() + this.accessTtlSec * 1000;
    this.access.set(accessToken, { account, expiresAt });
    return { accessToken, expiresAt };
  }

  private tokenBody(t: { accessToken: string; refreshToken: string }, withRefresh: boolean): Record<string, unknown> {
    return {
      access_token: t.accessToken,
      token_type: 'Bearer',
      expires_in: this.accessTtlSec,
      ...(withRefresh ? { refresh_token: t.refreshToken } : {}),
    };
  }
}

/** RFC 6749 §2.3.1: client_secret_basic (the header) or client_secret_post (the form). */
function clientOf(authorization: string | undefined, form: URLSearchParams): { id: string | null; secret: string | null } {
  const m = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
  if (m) {
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  }
  return { id: form.get('client_id'), secret: form.get('client_secret') };
}
