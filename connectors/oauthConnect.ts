/**
 * The connect flow's pieces that the API (a new remote, a reconnect) and the worker (a run that
 * waits for a reconnect and names the link) share: the operator's OAuth clients, the callback
 * address, and a fresh authorization link. The state it carries is stored by the caller
 * (db/queries/oauthStates.ts) and spent once by `GET /v1/oauth/callback`.
 */
import { randomBytes } from 'node:crypto';
import type { OAuthProvider } from '../connectors/shared/oauth2.js';

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

/** The client the remote's config names, else the operator's, else the provider's public one; undefined when there is none. */
export function clientFor(setup: OAuthSetup, provider: OAuthProvider, config: { clientId?: unknown; clientSecret?: unknown }): OAuthClient | undefined {
  if (typeof config.clientId === 'string' && config.clientId) {
    return { clientId: config.clientId, ...(typeof config.clientSecret === 'string' ? { clientSecret: config.clientSecret } : {}) };
  }
  return setup.clients[provider.envPrefix] ?? provider.defaultClient;
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
