/**
 * The connect flow's pieces that the API (a new remote, a reconnect) and the worker (a run that
 * waits for a reconnect and names the link) share: the operator's OAuth clients, the callback
 * address, and a fresh authorization link. The state it carries is stored by the caller
 * (db/queries/oauthStates.ts) and spent once by `GET /v1/oauth/callback`.
 */
import { randomBytes } from 'node:crypto';
import { HttpClient } from './shared/http.js';
import { oauthErrorOf, tokensFromAnswer, type OAuth2Tokens, type OAuthProvider } from './shared/oauth2.js';
import type { HostPolicy } from './types.js';

export type { OAuthProvider } from './shared/oauth2.js';

export interface OAuthClient {
  clientId: string;
  clientSecret?: string;
}

/** What the operator set: where knarr is reached from a browser, and an OAuth client per provider. */
export interface OAuthSetup {
  /** KNARR_PUBLIC_URL: the base URL a browser reaches the API at; the callback is under it. */
  publicUrl: string;
  /** KNARR_<PREFIX>_CLIENT_ID / _CLIENT_SECRET, by `OAuthProvider.envPrefix`. */
  clients: Partial<Record<OAuthProvider['envPrefix'], OAuthClient>>;
}

export const callbackPath = '/v1/oauth/callback';

/** How long a link from `POST /v1/remotes` or `…/reconnect` can be used. */
export const linkLifetimeMs = 15 * 60_000;
/** A link named by a waiting run: a person may read it the next morning. */
export const waitingLinkLifetimeMs = 7 * 24 * 3_600_000;

export function oauthSetupFrom(env: NodeJS.ProcessEnv, fallbackPublicUrl: string): OAuthSetup {
  const clients: OAuthSetup['clients'] = {};
  for (const prefix of ['GOOGLE', 'MICROSOFT', 'DROPBOX', 'TELIA'] as const) {
    const clientId = env[`KNARR_${prefix}_CLIENT_ID`]?.trim();
    const clientSecret = env[`KNARR_${prefix}_CLIENT_SECRET`]?.trim();
    if (clientId) clients[prefix] = { clientId, ...(clientSecret ? { clientSecret } : {}) };
  }
  return { publicUrl: (env.KNARR_PUBLIC_URL?.trim() || fallbackPublicUrl).replace(/\/+$/, ''), clients };
}

export function redirectUri(setup: OAuthSetup): string {
  return `${setup.publicUrl}${callbackPath}`;
}

/**
 * The client the remote's config names (with its secret from the config, or the operator's when
 * it is the operator's client), else the operator's, else the provider's public one; undefined
 * when there is none.
 */
export function clientFor(setup: OAuthSetup, provider: OAuthProvider, config: { clientId?: unknown; clientSecret?: unknown }): OAuthClient | undefined {
  const fallback = setup.clients[provider.envPrefix] ?? provider.defaultClient;
  const id = typeof config.clientId === 'string' && config.clientId ? config.clientId : undefined;
  if (!id) return fallback;
  if (typeof config.clientSecret === 'string') return { clientId: id, clientSecret: config.clientSecret };
  return fallback?.clientId === id ? fallback : { clientId: id };
}

/** Whether `clientFor` knows the whole client (its secret too, where it has one) from the settings alone. */
export function knownClient(setup: OAuthSetup, provider: OAuthProvider, settings: { clientId?: unknown }): boolean {
  const fallback = setup.clients[provider.envPrefix] ?? provider.defaultClient;
  return !!fallback && (settings.clientId === undefined || settings.clientId === fallback.clientId);
}

/** What an operator must set for `provider`, for messages. */
export function missingClientMessage(provider: OAuthProvider): string {
  return `no OAuth client is set for ${provider.name}: the operator sets KNARR_${provider.envPrefix}_CLIENT_ID and KNARR_${provider.envPrefix}_CLIENT_SECRET (see the README), or give config.clientId and config.clientSecret of your own client`;
}

/** A fresh state and the provider's consent page for it. */
export function authorizationLink(setup: OAuthSetup, provider: OAuthProvider, client: OAuthClient, settings: { authUrl?: unknown }): { state: string; url: string } {
  const state = randomBytes(24).toString('base64url');
  const url = new URL(typeof settings.authUrl === 'string' && settings.authUrl ? settings.authUrl : provider.authUrl);
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', redirectUri(setup));
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', provider.scopes.join(provider.scopeSeparator ?? ' '));
  url.searchParams.set('state', state);
  for (const [k, v] of Object.entries(provider.authParams ?? {})) url.searchParams.set(k, v);
  return { state, url: url.href };
}

/** The authorization server a remote of `def` with `settings` is connected through, if any. */
export function oauthOf(def: { oauth?: OAuthProvider | ((settings: Record<string, unknown>) => OAuthProvider | undefined) }, settings: Record<string, unknown>): OAuthProvider | undefined {
  return typeof def.oauth === 'function' ? def.oauth(settings) : def.oauth;
}

/** The provider refused the code, or could not be reached: `message` says which, for the person. */
export class CodeExchangeError extends Error {
  override name = 'CodeExchangeError';
}

/** The authorization code for tokens at the provider's (or the remote's) token endpoint. */
export async function exchangeAuthorizationCode(a: {
  provider: OAuthProvider; tokenUrl: string; client: OAuthClient; code: string; redirectUri: string; host: HostPolicy;
}): Promise<OAuth2Tokens> {
  const form = new URLSearchParams([
    ['grant_type', 'authorization_code'],
    ['code', a.code],
    ['redirect_uri', a.redirectUri],
    ['client_id', a.client.clientId],
  ]);
  if (a.client.clientSecret) form.set('client_secret', a.client.clientSecret);
  const http = new HttpClient({ privateNetworks: a.host.privateNetworks, connections: 1, idempotentRetries: 0 });
  try {
    const res = await http.request({
      method: 'POST', url: a.tokenUrl, op: `${a.provider.name}: exchange the authorization code`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(), accept: [400, 401], idempotent: false,
    });
    if (res.status !== 200) {
      throw new CodeExchangeError(`${a.provider.name} refused to hand out tokens for this approval (${await oauthErrorOf(res)}). Start the connection again.`);
    }
    return await tokensFromAnswer(res, Date.now(), a.provider.name);
  } catch (err) {
    if (err instanceof CodeExchangeError) throw err;
    throw new CodeExchangeError(`could not reach ${a.provider.name} to finish the connection: ${(err as Error).message}. Start the connection again.`);
  } finally {
    await http.close();
  }
}
