/**
 * Jottacloud authentication from a Personal Login Token: the grants that connectors/shared/oauth.ts
 * (the single-writer token manager) calls. Section numbers refer to shared/specs/jottacloud-api.md §2.
 *
 * Life of a remote's credentials (all inside the remote's encrypted credentials):
 *   1. created with `{ loginToken }` (the API stores the config's `loginToken` as a secret);
 *   2. on first use, under the credential row lock: decode the token (§2.1), GET its
 *      `well_known_link` (§2.2), exchange `auth_token` with the password grant (§2.3), and replace
 *      the credentials with `{ accessToken, refreshToken, expiresAt, tokenEndpoint, ... }` in the
 *      same transaction. The login token is single-use (§2.1) and is not kept;
 *   3. near expiry, under the row lock: re-read the stored tokens; if another process already
 *      refreshed, use its tokens; otherwise refresh (§2.5) and store the rotated refresh token in
 *      the same transaction. Refresh tokens rotate and presenting a spent one kills the whole
 *      session family (§2.5), so no two processes may ever refresh with the same token.
 *
 * A white-label remote (§2.6: Telia Cloud, Telia Sky, …) starts instead from `{ token }`, the
 * rclone-style token object its login page gave (the API's connect flow) or a person pasted; its
 * refreshes go to the label's realm with the label's client, and then work exactly as above.
 */
import { ConnectorError } from '../errors.js';
import type { HttpClient, HttpResponse } from '../shared/http.js';
import { TokenManager, type TokenGrants } from '../shared/oauth.js';
import { oauthErrorOf, rcloneTokenSchema, tokensFromAnswer, tokensFromRclone } from '../shared/oauth2.js';
import type { ConnectorContext } from '../types.js';
import { authMessage } from './errors.js';
import type { WhiteLabel } from './whiteLabels.js';
import type { LoginTokenJson, WellKnownJson } from './wire.js';

/** §2.3: the "Jottacloud CLI" client of the login-token flow; no secret. */
export const CLIENT_ID = 'jottacli';
/** §2.3 */
export const SCOPE = 'openid offline_access';
/** §2.5: access tokens "normally have one hour expiry"; assumed when `expires_in` is missing. */
const DEFAULT_LIFETIME_SEC = 3600;

// ---- the Personal Login Token (§2.1) ----

export interface LoginToken {
  username: string;
  realm: string;
  wellKnownLink: string;
  authToken: string;
}

export class LoginTokenError extends Error {
  override name = 'LoginTokenError';
}

/**
 * Decodes a Personal Login Token: base64url without padding (rclone: RawURLEncoding, §2.1, #3945)
 * of a JSON object with `username`, `realm`, `well_known_link` and `auth_token`. Lenient with what
 * a paste adds (whitespace, line breaks, `=` padding, the standard alphabet's `+`/`/`, which jafs
 * also accepts); errors say what is wrong and never quote the token.
 */
export function decodeLoginToken(input: unknown): LoginToken {
  if (typeof input !== 'string' || input.trim() === '') throw new LoginTokenError('the login token is empty');
  const s = input.replace(/\s+/g, '').replace(/=+$/, '');
  const bad = /[^A-Za-z0-9_\-+/]/.exec(s);
  if (bad) {
    throw new LoginTokenError(`the login token contains ${JSON.stringify(bad[0])} at position ${bad.index + 1}, which is not a base64url character: copy the whole token again`);
  }
  if (s.length % 4 === 1) throw new LoginTokenError(`the login token has an impossible length (${s.length} characters): was it cut off?`);
  const text = Buffer.from(s.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url').toString('utf8');
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    throw new LoginTokenError(`the login token does not decode to JSON (${s.length} characters; real ones are about 250–300): was it cut off, or is it not a Personal Login Token?`);
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new LoginTokenError('the login token does not decode to a JSON object');
  const o = obj as Partial<Record<keyof LoginTokenJson, unknown>>;
  for (const k of ['username', 'realm', 'well_known_link', 'auth_token'] as const) {
    if (typeof o[k] !== 'string' || o[k] === '') throw new LoginTokenError(`the login token lacks "${k}"`);
  }
  const wellKnownLink = o.well_known_link as string;
  try {
    checkAuthUrl(wellKnownLink, 'well_known_link');
  } catch (err) {
    throw new LoginTokenError(`the login token's ${(err as Error).message}`);
  }
  return { username: o.username as string, realm: o.realm as string, wellKnownLink, authToken: o.auth_token as string };
}

/**
 * An auth URL taken from data (the token's well_known_link, the discovery document's
 * token_endpoint): HTTPS, or plain HTTP to this machine only (the emulator, §12.1 "may be plain
 * http://127.0.0.1"). The secrets sent there must never cross a network in clear text.
 */
export function checkAuthUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${what} is not an absolute URL`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new Error(`${what} must be an https URL (got ${url.protocol}//${url.host})`);
  }
  return url;
}

// ---- the stored credentials ----

/** The remote's credentials after the exchange. `loginToken` is gone: it is spent. */
export interface JottaTokens {
  accessToken: string;
  refreshToken: string;
  tokenType: string;
  /** ms since the epoch. */
  expiresAt: number;
  /** The lifetime the server gave, s; sizes the refresh margin. */
  expiresIn: number;
  /** §2.4: rclone saves the discovered token endpoint as `tokenURL` and refreshes there. */
  tokenEndpoint: string;
  clientId: string;
  /** Only for a client that has one (an operator's own client of a white-label realm); public clients have none. */
  clientSecret?: string;
  /** The login token's user name (informative; JFS paths use the `/account/v1/customer` one, §2.8). */
  username?: string;
  obtainedAt: number;
}

function asTokens(raw: Record<string, unknown>): JottaTokens | undefined {
  const { accessToken, refreshToken, expiresAt, tokenEndpoint } = raw;
  if (typeof accessToken !== 'string' || typeof refreshToken !== 'string' || typeof expiresAt !== 'number' || typeof tokenEndpoint !== 'string') return undefined;
  return {
    accessToken,
    refreshToken,
    expiresAt,
    tokenEndpoint,
    tokenType: typeof raw.tokenType === 'string' ? raw.tokenType : 'Bearer',
    expiresIn: typeof raw.expiresIn === 'number' && raw.expiresIn > 0 ? raw.expiresIn : DEFAULT_LIFETIME_SEC,
    clientId: typeof raw.clientId === 'string' ? raw.clientId : CLIENT_ID,
    ...(typeof raw.clientSecret === 'string' && raw.clientSecret ? { clientSecret: raw.clientSecret } : {}),
    username: typeof raw.username === 'string' ? raw.username : undefined,
    obtainedAt: typeof raw.obtainedAt === 'number' ? raw.obtainedAt : 0,
  };
}

/** §2.5: refresh 10 s before expiry, as rclone (golang/oauth2's defaultExpiryDelta). */
export { refreshMarginMs } from '../shared/oauth.js';

/** What this process did about tokens (for events and tests). */
export interface AuthStats {
  /** Login-token exchanges (§2.3) done here. */
  exchanges: number;
  /** Refresh grants (§2.5) done here. */
  refreshes: number;
  /** Renewals answered by tokens another process (or connector) had already stored: a plain read. */
  adoptedByRead: number;
  /** ... or found under the row lock after waiting for it. */
  adoptedUnderLock: number;
}

/** A white-label remote's realm: where its tokens are refreshed, and by which client (§2.6). */
export interface WhiteLabelLogin {
  label: WhiteLabel;
  tokenEndpoint: string;
  clientId: string;
}

export interface AuthOptions {
  now?: () => number;
  whiteLabel?: WhiteLabelLogin;
}

/**
 * Hands out access tokens through the shared single-writer manager; what is Jottacloud's here is
 * how the first tokens come from the login token (§2.1–§2.4) and how a refresh is sent (§2.5).
 */
export class JottaAuth implements TokenGrants<JottaTokens> {
  private readonly manager: TokenManager<JottaTokens>;
  private readonly now: () => number;
  private readonly login: WhiteLabelLogin | undefined;

  constructor(
    private readonly http: HttpClient,
    private readonly ctx: ConnectorContext,
    opts: AuthOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.login = opts.whiteLabel;
    this.manager = new TokenManager(ctx.credentials, this, { now: this.now });
  }

  accessToken(): Promise<string> {
    return this.manager.accessToken();
  }

  /**
   * After the server answered 401 to `rejected` (revoked, or expired early). rclone never
   * refreshes on 401 (§2.5); this connector does once, so a token expired before its time (clock
   * skew, the emulator's expire-now fault) costs one refresh instead of a failed activity.
   */
  afterRejection(rejected: string): Promise<string> {
    return this.manager.afterRejection(rejected);
  }

  /** The white-label service the remote belongs to, for messages; undefined for Jottacloud itself. */
  get whiteLabel(): WhiteLabel | undefined {
    return this.login?.label;
  }

  /** The tokens as last seen (for tests and the lead's probes). */
  get tokens(): Readonly<JottaTokens> | undefined {
    return this.manager.tokens;
  }

  get stats(): AuthStats {
    const { obtained, refreshes, adoptedByRead, adoptedUnderLock } = this.manager.stats;
    return { exchanges: obtained, refreshes, adoptedByRead, adoptedUnderLock };
  }

  read(raw: Record<string, unknown>): JottaTokens | undefined {
    return asTokens(raw);
  }

  /**
   * First tokens: from the login token (spent by the exchange and not stored, §2.1), or, for a
   * white-label remote, from the token object of its login page. Each kind of remote takes only
   * its own: the credentials may have been replaced (PUT …/credentials) without the config's check.
   */
  obtain(raw: Record<string, unknown>): Promise<JottaTokens | undefined> {
    if (this.login) {
      if (raw.token !== undefined) return this.adopt(this.login, raw.token, raw.clientSecret);
      if (raw.loginToken !== undefined) return Promise.reject(this.fail('a Personal Login Token cannot connect this remote'));
      return Promise.resolve(undefined);
    }
    if (raw.loginToken !== undefined) return this.exchange(raw.loginToken);
    if (raw.token !== undefined) return Promise.reject(this.fail('a token object is only for white-label remotes (Telia Cloud, Telia Sky, …); a Jottacloud remote takes a Personal Login Token'));
    return Promise.resolve(undefined);
  }

  missing(): ConnectorError {
    return this.fail(`the remote has no ${this.login ? `${this.login.label.name} tokens` : 'Jottacloud credentials'} stored`);
  }

  private fail(detail: string, status?: number): ConnectorError {
    return new ConnectorError('auth', authMessage(this.ctx.remoteName, detail, this.login?.label), status === undefined ? undefined : { status });
  }

  /**
   * §2.6: the tokens the realm gave for the label's client. They are refreshed at the realm (the
   * configured token URL) with that client; one that has lapsed already is refreshed at once.
   */
  private async adopt(login: WhiteLabelLogin, token: unknown, clientSecret: unknown): Promise<JottaTokens> {
    const parsed = rcloneTokenSchema.safeParse(token);
    if (!parsed.success) throw this.fail('the token is not a token object with access_token and refresh_token');
    const now = this.now();
    const tokens: JottaTokens = {
      ...tokensFromRclone(parsed.data, now),
      tokenEndpoint: login.tokenEndpoint,
      clientId: login.clientId,
      ...(typeof clientSecret === 'string' && clientSecret ? { clientSecret } : {}),
      obtainedAt: now,
    };
    return now < tokens.expiresAt - 10_000 ? tokens : this.refresh(tokens);
  }

  /** §2.1–§2.4: the single-use login token for the first tokens of a new session family. */
  private async exchange(loginToken: unknown): Promise<JottaTokens> {
    let token: LoginToken;
    try {
      token = decodeLoginToken(loginToken);
    } catch (err) {
      if (!(err instanceof LoginTokenError)) throw err;
      throw this.fail(`the Personal Login Token is not valid: ${err.message}`);
    }
    // §2.2: plain GET, no authentication; rclone reads only token_endpoint.
    const wk = await this.http.request({ method: 'GET', url: token.wellKnownLink, op: 'Jottacloud login: read the OpenID configuration' });
    const doc = (await wk.body.json().catch(() => undefined)) as WellKnownJson | undefined;
    if (!doc || typeof doc.token_endpoint !== 'string') {
      throw new ConnectorError('transient', 'Jottacloud login: the OpenID configuration has no token_endpoint');
    }
    let tokenEndpoint: URL;
    try {
      tokenEndpoint = checkAuthUrl(doc.token_endpoint, 'the token_endpoint');
    } catch (err) {
      throw this.fail(`the OpenID configuration's ${(err as Error).message}`);
    }
    // §2.3: form body, keys in Go's sorted order, no client secret and no Authorization header.
    const form = new URLSearchParams([
      ['client_id', CLIENT_ID],
      ['grant_type', 'password'],
      ['password', token.authToken],
      ['scope', SCOPE],
      ['username', token.username],
    ]);
    const res = await this.tokenRequest(tokenEndpoint, form, 'Jottacloud login: exchange the Personal Login Token');
    if (res.status !== 200) {
      // §2.1: a spent login token gives 401 / invalid_grant.
      throw await this.oauthFailure(res, 'the Personal Login Token was refused (each token works once: was it used before, or revoked?)');
    }
    return this.tokensFrom(res, { tokenEndpoint: tokenEndpoint.toString(), clientId: CLIENT_ID, username: token.username });
  }

  /** §2.5: refresh grant; the refresh token rotates. */
  async refresh(stored: JottaTokens): Promise<JottaTokens> {
    // §2.5: golang/oauth2 tries a Basic header first and falls back to client_id in the body;
    // jafs and aeroftp send client_id in the body directly, which every server accepts. One
    // request, so no first attempt can be refused (and mistaken for reuse, §12.3 item 2).
    const form = new URLSearchParams([
      ['grant_type', 'refresh_token'],
      ['refresh_token', stored.refreshToken],
      ['client_id', stored.clientId || CLIENT_ID],
    ]);
    if (stored.clientSecret) form.set('client_secret', stored.clientSecret);
    const res = await this.tokenRequest(new URL(stored.tokenEndpoint), form, `${this.login?.label.name ?? 'Jottacloud'}: refresh the access token`);
    if (res.status !== 200) {
      // §2.5: reuse detected → 400 invalid_grant "Session doesn't have required client" (or "Stale token").
      throw await this.oauthFailure(res, 'the session was ended (revoked under "My logged in devices", or its refresh token was reused)');
    }
    return this.tokensFrom(res, stored, stored.refreshToken);
  }

  private tokenRequest(url: URL, form: URLSearchParams, op: string): Promise<HttpResponse> {
    return this.http.request({
      method: 'POST',
      url,
      op,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      accept: [400, 401],
      // Not idempotent: a refresh the server processed but whose answer was lost has rotated the token.
      idempotent: false,
    });
  }

  private async oauthFailure(res: HttpResponse, meaning: string): Promise<ConnectorError> {
    return this.fail(`${meaning}: ${await oauthErrorOf(res)}`, res.status);
  }

  /** A token answer as stored tokens; the endpoint, client and user stay those of the session (`from`). */
  private async tokensFrom(
    res: HttpResponse,
    from: Pick<JottaTokens, 'tokenEndpoint' | 'clientId' | 'clientSecret' | 'username'>,
    previousRefresh?: string,
  ): Promise<JottaTokens> {
    // §2.5: "If the response lacks refresh_token, the old one is kept"; §2.4: expiry = now + expires_in.
    const now = this.now();
    const t = await tokensFromAnswer(res, now, 'Jottacloud', { refreshToken: previousRefresh ?? '', clientSecret: from.clientSecret });
    return { ...t, tokenEndpoint: from.tokenEndpoint, clientId: from.clientId, username: from.username, obtainedAt: now };
  }

}
