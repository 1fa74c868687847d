/**
 * OAuth 2.0 for the providers whose accounts are connected through their own consent page
 * (Google Drive, Microsoft Graph, Dropbox, and Jottacloud's white-labels): what a remote's config
 * takes, how the first tokens come from what the user gave, and the refresh grant, on top of the
 * single-writer `TokenManager` (oauth.ts). rclone's model throughout, so a token from
 * `rclone authorize` works as it is:
 *
 *   - `config.token` is the object rclone prints (`access_token`, `refresh_token`, `token_type`,
 *     `expiry`), or its JSON text;
 *   - `config.clientId`/`clientSecret` name the OAuth client that issued it; without them the
 *     operator's client (KNARR_<PROVIDER>_CLIENT_ID/_SECRET) is filled in when the remote is made;
 *   - `config.authUrl`/`tokenUrl` replace the provider's endpoints (an emulator, a national cloud).
 *
 * Credentials as stored: `{ token }` at first (what the user or the connect flow gave), then, after
 * the first use, `{ accessToken, refreshToken, expiresAt, expiresIn, tokenType, clientSecret? }`.
 * A refresh the provider refuses (revoked, expired, password changed) is `auth`: the run waits
 * for the user to reconnect the account.
 */
import { z } from 'zod';
import { secret } from '../definition.js';
import { ConnectorError } from '../errors.js';
import type { ConnectorContext } from '../types.js';
import { clipDetail, type HttpClient, type HttpResponse } from './http.js';
import { TokenManager, type StoredTokens, type TokenGrants, type TokenStats } from './oauth.js';

/** What the connect flow needs to know of a provider's authorization server. */
export interface OAuthProvider {
  /** For messages: "Google Drive". */
  name: string;
  authUrl: string;
  tokenUrl: string;
  scopes: readonly string[];
  /** The operator's client comes from KNARR_<envPrefix>_CLIENT_ID and _CLIENT_SECRET. */
  envPrefix: 'GOOGLE' | 'MICROSOFT' | 'DROPBOX' | 'TELIA';
  /** Extra parameters of the authorization request (Google: access_type=offline, prompt=consent). */
  authParams?: Readonly<Record<string, string>>;
  /** Scopes are joined with this (space by default; some servers take commas). */
  scopeSeparator?: string;
  /** A public client that needs no registration (Jottacloud's white-labels: `desktop`), used when neither the remote nor the operator names one. */
  defaultClient?: { clientId: string; clientSecret?: string };
}

/** An OAuth endpoint from config: https, or http to this machine (an emulator) only, since secrets go there. */
export const oauthEndpoint = (what: string) =>
  z.string().refine(isOAuthEndpoint, { message: `${what} must be an https URL (plain http only to 127.0.0.1 or localhost)` });

export function isOAuthEndpoint(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return url.protocol === 'https:' || (url.protocol === 'http:' && loopback);
}

const TOKEN_HINT = 'token must be the JSON object `rclone authorize` prints, with access_token and refresh_token';

/** rclone's token object, as a JSON string or an object. */
export const rcloneTokenSchema = z.preprocess(
  (v) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v;
    }
  },
  z.object(
    {
      access_token: z.string({ error: TOKEN_HINT }),
      refresh_token: z.string({ error: `${TOKEN_HINT} (a token without refresh_token stops working within hours)` }).min(1, { message: TOKEN_HINT }),
      token_type: z.string().optional(),
      expiry: z.string().optional(),
    },
    { error: TOKEN_HINT },
  ),
);
export type RcloneTokenJson = z.infer<typeof rcloneTokenSchema>;

/** The config fields every OAuth connector spreads into its schema. */
export const oauthConfigFields = {
  /** Absent when the remote is to be connected through the provider's consent page (the API answers with its URL). */
  token: rcloneTokenSchema.optional().meta(secret),
  clientId: z.string().trim().min(1).optional(),
  clientSecret: z.string().min(1).optional().meta(secret),
  authUrl: oauthEndpoint('authUrl').optional(),
  tokenUrl: oauthEndpoint('tokenUrl').optional(),
};

/** The settings (non-secret) an OAuth connector is opened with. */
export interface OAuthSettings {
  clientId?: string;
  authUrl?: string;
  tokenUrl?: string;
}

export interface OAuth2Tokens extends StoredTokens {
  refreshToken: string;
  tokenType: string;
  clientSecret?: string;
}

/**
 * The message of an `auth` error of an OAuth remote: what the provider said, and what the user
 * does about it. A function of the provider and the remote alone, so a connector's status table
 * can word it before its token manager exists.
 */
export function oauthAuthMessage(provider: Pick<OAuthProvider, 'name'>, remoteName: string, detail: string): string {
  return `${provider.name} refused the credentials of remote "${remoteName}" (${detail}). Reconnect the account: authorize knarr again for remote "${remoteName}".`;
}

/** golang/oauth2 assumes an hour when a token answer has no expires_in. */
const DEFAULT_LIFETIME_SEC = 3600;

/** Tokens from rclone's object: the access token is used until its expiry, then refreshed. */
export function tokensFromRclone(t: RcloneTokenJson, now: number): Omit<OAuth2Tokens, 'clientSecret'> {
  const parsed = t.expiry ? Date.parse(t.expiry) : NaN;
  // No expiry, or rclone's zero time: unknown, so treat it as lapsed and refresh on first use.
  const expiresAt = Number.isFinite(parsed) && parsed > 0 ? parsed : now;
  return {
    accessToken: t.access_token,
    refreshToken: t.refresh_token,
    tokenType: t.token_type || 'Bearer',
    expiresAt,
    expiresIn: Math.max(60, Math.min(DEFAULT_LIFETIME_SEC, Math.round((expiresAt - now) / 1000))),
  };
}

/**
 * Access tokens for one remote: the stored ones while they last, renewed by the refresh grant at
 * the provider's token endpoint (or `settings.tokenUrl`), single-writer across processes.
 */
export class OAuth2Auth implements TokenGrants<OAuth2Tokens> {
  private readonly manager: TokenManager<OAuth2Tokens>;
  private readonly now: () => number;
  private readonly tokenUrl: string;

  constructor(
    private readonly http: HttpClient,
    private readonly ctx: ConnectorContext,
    private readonly provider: OAuthProvider,
    private readonly settings: OAuthSettings,
    opts: { now?: () => number } = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.tokenUrl = settings.tokenUrl ?? provider.tokenUrl;
    this.manager = new TokenManager(ctx.credentials, this, { now: this.now });
  }

  accessToken(): Promise<string> {
    return this.manager.accessToken();
  }

  /** After a 401 to `rejected`: a renewed token. Once per request, never in a loop. */
  afterRejection(rejected: string): Promise<string> {
    return this.manager.afterRejection(rejected);
  }

  get stats(): TokenStats {
    return this.manager.stats;
  }

  /** The message of an `auth` error: what the provider said, and what the user does about it. */
  authMessage(detail: string): string {
    return oauthAuthMessage(this.provider, this.ctx.remoteName, detail);
  }

  read(raw: Record<string, unknown>): OAuth2Tokens | undefined {
    const { accessToken, refreshToken, expiresAt } = raw;
    if (typeof accessToken !== 'string' || typeof refreshToken !== 'string' || typeof expiresAt !== 'number') return undefined;
    return {
      accessToken,
      refreshToken,
      expiresAt,
      expiresIn: typeof raw.expiresIn === 'number' && raw.expiresIn > 0 ? raw.expiresIn : DEFAULT_LIFETIME_SEC,
      tokenType: typeof raw.tokenType === 'string' ? raw.tokenType : 'Bearer',
      ...(typeof raw.clientSecret === 'string' ? { clientSecret: raw.clientSecret } : {}),
    };
  }

  /** The pasted (or connect-flow) token object; refreshed at once when it has lapsed already. */
  async obtain(raw: Record<string, unknown>): Promise<OAuth2Tokens | undefined> {
    if (raw.token === undefined) return undefined;
    const parsed = rcloneTokenSchema.safeParse(raw.token);
    if (!parsed.success) throw new ConnectorError('auth', this.authMessage(TOKEN_HINT));
    const clientSecret = typeof raw.clientSecret === 'string' ? raw.clientSecret : undefined;
    const tokens: OAuth2Tokens = { ...tokensFromRclone(parsed.data, this.now()), ...(clientSecret ? { clientSecret } : {}) };
    return this.now() < tokens.expiresAt - 10_000 ? tokens : this.refresh(tokens);
  }

  missing(): ConnectorError {
    return new ConnectorError('auth', this.authMessage(`the remote has no ${this.provider.name} token stored`));
  }

  async refresh(stored: OAuth2Tokens): Promise<OAuth2Tokens> {
    const form = new URLSearchParams([
      ['grant_type', 'refresh_token'],
      ['refresh_token', stored.refreshToken],
    ]);
    if (this.settings.clientId) form.set('client_id', this.settings.clientId);
    if (stored.clientSecret) form.set('client_secret', stored.clientSecret);
    const res = await this.http.request({
      method: 'POST',
      url: this.tokenUrl,
      op: `${this.provider.name}: renew the access token`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      accept: [400, 401],
      // A refresh the server processed but whose answer was lost may have rotated the token.
      idempotent: false,
    });
    if (res.status !== 200) throw await this.refused(res);
    return tokensFromAnswer(res, this.now(), this.provider.name, stored);
  }

  private async refused(res: HttpResponse): Promise<ConnectorError> {
    return new ConnectorError('auth', this.authMessage(`renewing access failed: ${await oauthErrorOf(res)}`), { status: res.status });
  }
}

/** What a token endpoint's refusal says (RFC 6749 §5.2): `invalid_grant "Token has been expired or revoked."`, or the status. */
export async function oauthErrorOf(res: HttpResponse): Promise<string> {
  const body = (await res.body.json().catch(() => ({}))) as { error?: unknown; error_description?: unknown };
  const code = typeof body.error === 'string' ? body.error : `HTTP ${res.status}`;
  const desc = typeof body.error_description === 'string' && body.error_description ? ` "${clipDetail(body.error_description)}"` : '';
  return `${code}${desc}`;
}

/**
 * A token endpoint's 200 answer as stored tokens. The refresh token is kept when the answer has
 * none (Google never rotates; others may), and so is the client secret the refresh used.
 */
export async function tokensFromAnswer(res: HttpResponse, now: number, provider: string, previous?: Pick<OAuth2Tokens, 'refreshToken' | 'clientSecret'>): Promise<OAuth2Tokens> {
  const body = (await res.body.json().catch(() => undefined)) as { access_token?: unknown; refresh_token?: unknown; expires_in?: unknown; token_type?: unknown } | undefined;
  if (!body || typeof body.access_token !== 'string' || body.access_token === '') {
    throw new ConnectorError('transient', `${provider} token endpoint: a 200 answer without an access_token`);
  }
  const refreshToken = typeof body.refresh_token === 'string' && body.refresh_token !== '' ? body.refresh_token : previous?.refreshToken;
  if (!refreshToken) throw new ConnectorError('auth', `${provider} token endpoint: no refresh_token in the answer (was offline access asked for?)`);
  const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_LIFETIME_SEC;
  return {
    accessToken: body.access_token,
    refreshToken,
    tokenType: typeof body.token_type === 'string' ? body.token_type : 'Bearer',
    expiresAt: now + expiresIn * 1000,
    expiresIn,
    ...(previous?.clientSecret ? { clientSecret: previous.clientSecret } : {}),
  };
}

/**
 * One request with the remote's access token; after a 401 it is sent once more with a renewed
 * token. `send` must accept 401 (return it, not throw) when `lastTry` is false, and leave it to the
 * status table when true. Not for a request whose body is a stream that cannot be sent twice.
 */
export async function withBearer(auth: OAuth2Auth, send: (authorization: string, lastTry: boolean) => Promise<HttpResponse>): Promise<HttpResponse> {
  const token = await auth.accessToken();
  const res = await send(`Bearer ${token}`, false);
  if (res.status !== 401) return res;
  await res.body.dump();
  return send(`Bearer ${await auth.afterRejection(token)}`, true);
}
