/**
 * The identity side of the emulator: per Keycloak realm (realms.ts) the OpenID discovery document,
 * the login page of the white-labels' authorization-code flow (§2.6; it approves at once) and the
 * token endpoint (password grant carrying a login token, authorization-code grant, refresh grant
 * with rotation and reuse detection), and the Bearer check every jfs/api/upload request goes
 * through. shared/specs/jottacloud-api.md §2, §9.1, §12.3 items 1–3.
 *
 * Accounts belong to one realm (Jottacloud's unless bound to a white-label's); a session, and so
 * every refresh token of it, belongs to the realm and the client it started at.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { JOTTA_REALM, realmOf, realmPath as pathOfRealm, type Realm } from './realms.js';
import { LoginTokens } from './tokens.js';
import type { OAuthErrorJson, TokenResponseJson, WellKnownJson } from './wire.js';

export const REALM = JOTTA_REALM;
/** §2.3: the client id of the login-token flow ("Jottacloud CLI"). */
export const CLI_CLIENT_ID = 'jottacli';
/** §2.5: access tokens "normally have one hour expiry". */
export const DEFAULT_ACCESS_TOKEN_LIFETIME_SEC = 3600;
/** Keycloak's default lifespan of an authorization code. */
const CODE_LIFETIME_MS = 60_000;

export const realmPath = pathOfRealm(REALM);
export const wellKnownPath = `${realmPath}/.well-known/openid-configuration`;
export const tokenPath = `${realmPath}/protocol/openid-connect/token`;

/** One refresh-token family: what one login-token exchange starts (§2.1 "Each exchange starts a new family"). */
interface Session {
  id: string;
  username: string;
  realm: string;
  clientId: string;
  created: Date;
  revoked: boolean;
  current: string;
  /** Refresh tokens already rotated away: presenting one is reuse (§2.5). */
  spent: Set<string>;
  refreshes: number;
}

/** A login page's approval, waiting to be exchanged once by the client it was given to. */
interface AuthCode {
  realm: string;
  clientId: string;
  redirectUri: string;
  username: string;
  scope: string;
  expiresAt: number;
}

export type AuthorizeReply = { status: 302; location: string } | { status: 400; message: string };

interface AccessToken {
  username: string;
  sessionId: string;
  expiresAt: number;
}

export interface SessionInfo {
  id: string;
  realm: string;
  clientId: string;
  refreshes: number;
  revoked: boolean;
}

export type TokenReply = { status: 200; body: TokenResponseJson } | { status: 400 | 401; body: OAuthErrorJson };

export type BearerResult =
  | { ok: true; username: string }
  | { ok: false; reason: 'missing' | 'malformed' | 'invalid' | 'expired' | 'revoked' };

export interface AuthStats {
  passwordGrants: number;
  /** Authorization codes exchanged (the white-labels' login page, §2.6). */
  codeGrants: number;
  refreshGrants: number;
  /** How refreshes authenticated the client: Basic header, or client_id in the form body. */
  clientAuth: { basic: number; body: number };
  rejectedClientAuth: number;
  reuseDetected: number;
}

export function wellKnown(base: string, realmName = REALM): WellKnownJson {
  const realm = `${base}${pathOfRealm(realmName)}`;
  const oidc = `${realm}/protocol/openid-connect`;
  return {
    issuer: realm,
    authorization_endpoint: `${oidc}/auth`,
    token_endpoint: `${oidc}/token`,
    token_introspection_endpoint: `${oidc}/token/introspect`,
    introspection_endpoint: `${oidc}/token/introspect`,
    userinfo_endpoint: `${oidc}/userinfo`,
    end_session_endpoint: `${oidc}/logout`,
    jwks_uri: `${oidc}/certs`,
    grant_types_supported: ['authorization_code', 'implicit', 'refresh_token', 'password', 'client_credentials'],
    response_types_supported: ['code', 'none', 'id_token', 'token', 'id_token token', 'code id_token', 'code token', 'code id_token token'],
    subject_types_supported: ['public', 'pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'offline_access', 'jotta-default', 'profile', 'email'],
    code_challenge_methods_supported: ['plain', 'S256'],
  };
}

function oauthError(status: 400 | 401, error: OAuthErrorJson['error'], description: string): TokenReply {
  return { status, body: { error, error_description: description } };
}

/** A JWT-shaped opaque token (clients must not rely on its contents; it is never verified as a JWT). */
function mintToken(kind: 'Bearer' | 'Refresh', username: string, sessionId: string, expSec: number): string {
  const b = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return [
    b({ alg: 'HS256', typ: 'JWT' }),
    b({ typ: kind, sub: `jotta:${sessionId}:${username}`, preferred_username: username, sid: sessionId, iat: now, exp: expSec, jti: randomUUID() }),
    randomBytes(32).toString('base64url'),
  ].join('.');
}

export class AuthService {
  readonly loginTokens = new LoginTokens();
  private readonly sessions = new Map<string, Session>();
  private readonly refreshIndex = new Map<string, string>();
  private readonly accessTokens = new Map<string, AccessToken>();
  private readonly codes = new Map<string, AuthCode>();
  /** Accounts of a white-label realm (lower-case user name → realm); every other account is Jottacloud's. */
  private readonly accountRealms = new Map<string, string>();
  accessTokenLifetimeSec = DEFAULT_ACCESS_TOKEN_LIFETIME_SEC;
  /** Every access and refresh token ever minted, so a test can search knarr's output for them. */
  readonly minted: string[] = [];
  readonly stats: AuthStats = { passwordGrants: 0, codeGrants: 0, refreshGrants: 0, clientAuth: { basic: 0, body: 0 }, rejectedClientAuth: 0, reuseDetected: 0 };

  constructor(private readonly accountExists: (username: string) => string | undefined) {}

  /** Moves an account into a realm: it logs in there, and only there. */
  bindAccount(username: string, realm: string): void {
    if (!realmOf(realm)) throw new Error(`no such realm: ${realm}`);
    if (realm === REALM) this.accountRealms.delete(username.toLowerCase());
    else this.accountRealms.set(username.toLowerCase(), realm);
  }

  realmOfAccount(username: string): string {
    return this.accountRealms.get(username.toLowerCase()) ?? REALM;
  }

  /**
   * `GET <realm>/protocol/openid-connect/auth`: the login page, which approves at once as
   * `login_hint` (an account of the realm) or `fallbackAccount`, and sends the browser back to
   * redirect_uri with a single-use code and the caller's state. As Keycloak, an unknown client or
   * a missing redirect_uri is an error page, not a redirect (the redirect cannot be trusted).
   */
  authorize(q: URLSearchParams, realmName: string, fallbackAccount: string | undefined): AuthorizeReply {
    const realm = realmOf(realmName) as Realm;
    const clientId = q.get('client_id') ?? '';
    if (!realm.clients.includes(clientId)) return { status: 400, message: 'Client not found.' };
    const redirectUri = q.get('redirect_uri');
    let back: URL;
    try {
      back = new URL(redirectUri ?? '');
    } catch {
      return { status: 400, message: 'Invalid parameter: redirect_uri' };
    }
    if (back.protocol !== 'http:' && back.protocol !== 'https:') return { status: 400, message: 'Invalid parameter: redirect_uri' };
    const state = q.get('state');
    if (state !== null) back.searchParams.set('state', state);
    if (q.get('response_type') !== 'code') {
      back.searchParams.set('error', 'unsupported_response_type');
      return { status: 302, location: back.href };
    }
    const hinted = q.get('login_hint');
    const username = hinted ? this.accountExists(hinted) : fallbackAccount;
    if (!username || this.realmOfAccount(username) !== realm.name) {
      return { status: 400, message: `No account of realm ${realm.name} to log in as (login_hint ${hinted ?? 'not given'})` };
    }
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, { realm: realm.name, clientId, redirectUri: redirectUri as string, username, scope: q.get('scope') ?? 'openid', expiresAt: Date.now() + CODE_LIFETIME_MS });
    back.searchParams.set('session_state', randomUUID());
    back.searchParams.set('code', code);
    return { status: 302, location: back.href };
  }

  /**
   * `POST <token_endpoint>` of a realm, form-encoded (§2.3, §2.5, §2.6). `authorization` is the
   * raw header. Client authentication is checked before anything is consumed (§12.3 item 2:
   * x/oauth2 may retry with the other style, and a consumed token would then look like reuse).
   */
  token(form: URLSearchParams, authorization: string | undefined, realmName = REALM): TokenReply {
    const realm = realmOf(realmName) as Realm;
    const client = this.clientOf(form, authorization, realm);
    if (!client.ok) {
      this.stats.rejectedClientAuth++;
      return oauthError(401, 'invalid_client', client.reason);
    }
    const grant = form.get('grant_type');
    if (grant === 'password') return this.passwordGrant(form, client.id, realm);
    if (grant === 'authorization_code') return this.codeGrant(form, client.id, realm);
    if (grant === 'refresh_token') {
      this.stats.clientAuth[client.style]++;
      return this.refreshGrant(form, client.id, realm);
    }
    // §2.7 [X]: the OIDC endpoint rejects the legacy uppercase REFRESH_TOKEN.
    return oauthError(400, 'unsupported_grant_type', `Unsupported grant_type ${grant ?? ''}`);
  }

  private clientOf(
    form: URLSearchParams,
    authorization: string | undefined,
    realm: Realm,
  ): { ok: true; id: string; style: 'basic' | 'body' } | { ok: false; reason: string } {
    const bodyId = form.get('client_id');
    if (authorization && /^basic /i.test(authorization)) {
      const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      // x/oauth2 query-escapes id and secret inside the Basic header.
      const id = decodeURIComponent(colon < 0 ? decoded : decoded.slice(0, colon));
      const secret = colon < 0 ? '' : decodeURIComponent(decoded.slice(colon + 1));
      if (!realm.clients.includes(id) || secret !== '') return { ok: false, reason: 'Invalid client credentials' };
      if (bodyId !== null && bodyId !== id) return { ok: false, reason: 'Client id mismatch' };
      return { ok: true, id, style: 'basic' };
    }
    if (bodyId === null) return { ok: false, reason: 'Missing client_id' };
    if (!realm.clients.includes(bodyId)) return { ok: false, reason: 'Invalid client credentials' };
    if ((form.get('client_secret') ?? '') !== '') return { ok: false, reason: 'Invalid client secret' };
    return { ok: true, id: bodyId, style: 'body' };
  }

  private passwordGrant(form: URLSearchParams, clientId: string, realm: Realm): TokenReply {
    // Keycloak's answer for a client without "direct access grants": the white-labels' login page only.
    if (!realm.loginTokens) return oauthError(400, 'unauthorized_client', 'Client not allowed for direct access grants');
    const username = this.accountExists(form.get('username') ?? '');
    const password = form.get('password') ?? '';
    if (!username || this.realmOfAccount(username) !== realm.name) return oauthError(401, 'invalid_grant', 'Invalid user credentials');
    const r = this.loginTokens.redeem(username, password);
    // §2.1: a spent login token fails with 401 / invalid_grant.
    if (r !== 'ok') return oauthError(401, 'invalid_grant', 'Invalid user credentials');
    this.stats.passwordGrants++;
    return { status: 200, body: this.issue(this.startSession(username, realm.name, clientId), form.get('scope') ?? 'openid offline_access') };
  }

  /** §2.6: the login page's code, once, by the client it was given to, with the same redirect_uri. */
  private codeGrant(form: URLSearchParams, clientId: string, realm: Realm): TokenReply {
    const presented = form.get('code') ?? '';
    const code = this.codes.get(presented);
    if (!code || code.realm !== realm.name || Date.now() >= code.expiresAt) return oauthError(400, 'invalid_grant', 'Code not valid');
    if (code.clientId !== clientId) return oauthError(400, 'invalid_grant', 'Auth error');
    if (code.redirectUri !== form.get('redirect_uri')) return oauthError(400, 'invalid_grant', 'Incorrect redirect_uri');
    this.codes.delete(presented);
    this.stats.codeGrants++;
    return { status: 200, body: this.issue(this.startSession(code.username, realm.name, clientId), code.scope) };
  }

  /** A new refresh-token family ("Each exchange starts a new family", §2.1; a login-page approval likewise). */
  private startSession(username: string, realm: string, clientId: string): Session {
    const session: Session = { id: randomUUID(), username, realm, clientId, created: new Date(), revoked: false, current: '', spent: new Set(), refreshes: 0 };
    this.sessions.set(session.id, session);
    return session;
  }

  /**
   * First tokens of a new session of `username` at its realm's login-page client, as the
   * authorization-code flow would give them (a token a person pastes).
   */
  issueForAccount(username: string): TokenResponseJson {
    const realm = realmOf(this.realmOfAccount(username)) as Realm;
    return this.issue(this.startSession(username, realm.name, realm.pageClient), 'openid offline_access');
  }

  private refreshGrant(form: URLSearchParams, clientId: string, realm: Realm): TokenReply {
    const rt = form.get('refresh_token') ?? '';
    const sid = this.refreshIndex.get(rt);
    const session = sid ? this.sessions.get(sid) : undefined;
    if (!session) return oauthError(400, 'invalid_grant', 'Invalid refresh token');
    // Another realm's token, or another client's, is refused before anything is consumed.
    if (session.realm !== realm.name) return oauthError(400, 'invalid_grant', 'Invalid token issuer');
    if (session.clientId !== clientId) return oauthError(400, 'invalid_grant', "Invalid refresh token. Token client and authorized client don't match");
    if (session.revoked) return oauthError(400, 'invalid_grant', 'Session not active');
    if (rt !== session.current) {
      // §2.5: presenting an old refresh token invalidates the whole family.
      this.stats.reuseDetected++;
      this.revokeSession(session);
      return oauthError(400, 'invalid_grant', "Session doesn't have required client");
    }
    this.stats.refreshGrants++;
    session.refreshes++;
    session.spent.add(rt);
    return { status: 200, body: this.issue(session, 'openid offline_access') };
  }

  /** Mints an access token and a rotated refresh token for a session. */
  private issue(session: Session, scope: string): TokenResponseJson {
    const lifetime = this.accessTokenLifetimeSec;
    const exp = Math.floor(Date.now() / 1000) + lifetime;
    const access = mintToken('Bearer', session.username, session.id, exp);
    const refresh = mintToken('Refresh', session.username, session.id, 0);
    this.accessTokens.set(access, { username: session.username, sessionId: session.id, expiresAt: Date.now() + lifetime * 1000 });
    this.minted.push(access, refresh);
    session.current = refresh;
    this.refreshIndex.set(refresh, session.id);
    return {
      access_token: access,
      token_type: 'Bearer',
      expires_in: lifetime,
      refresh_token: refresh,
      refresh_expires_in: 0, // §2.5: jafs notes it is "typically 0"
      'not-before-policy': 0,
      session_state: session.id,
      scope,
    };
  }

  /** Checks `Authorization: Bearer …` (§12.3 item 3). */
  bearer(authorization: string | undefined): BearerResult {
    if (!authorization) return { ok: false, reason: 'missing' };
    const m = /^bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!m) return { ok: false, reason: 'malformed' };
    const t = this.accessTokens.get(m[1]);
    if (!t) return { ok: false, reason: 'invalid' };
    const session = this.sessions.get(t.sessionId);
    if (!session || session.revoked) return { ok: false, reason: 'revoked' };
    if (Date.now() >= t.expiresAt) return { ok: false, reason: 'expired' };
    return { ok: true, username: t.username };
  }

  private revokeSession(session: Session): void {
    session.revoked = true;
    for (const [tok, info] of this.accessTokens) if (info.sessionId === session.id) this.accessTokens.delete(tok);
  }

  /** Revokes every session of an account ("My logged in devices" → remove all, §2.5). Returns the count. */
  revokeAccount(username: string): number {
    let n = 0;
    for (const s of this.sessions.values()) {
      if (s.username.toLowerCase() === username.toLowerCase() && !s.revoked) {
        this.revokeSession(s);
        n++;
      }
    }
    return n;
  }

  /** Revokes the sessions of a realm (of one account, or all): its login page must be used again. Returns the count. */
  revokeRealm(realm: string, username?: string): number {
    let n = 0;
    for (const s of this.sessions.values()) {
      if (s.realm === realm && !s.revoked && (username === undefined || s.username.toLowerCase() === username.toLowerCase())) {
        this.revokeSession(s);
        n++;
      }
    }
    return n;
  }

  /** Makes current access tokens expire now (refresh tokens stay valid). */
  expireAccessTokens(username?: string): number {
    let n = 0;
    for (const t of this.accessTokens.values()) {
      if (username === undefined || t.username.toLowerCase() === username.toLowerCase()) {
        t.expiresAt = Math.min(t.expiresAt, Date.now());
        n++;
      }
    }
    return n;
  }

  /** Every session of an account (revoked ones too), for tests. */
  sessionsOf(username: string): SessionInfo[] {
    return [...this.sessions.values()]
      .filter((s) => s.username.toLowerCase() === username.toLowerCase())
      .map((s) => ({ id: s.id, realm: s.realm, clientId: s.clientId, refreshes: s.refreshes, revoked: s.revoked }));
  }
}
