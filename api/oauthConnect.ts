/**
 * The OAuth connect flow, for providers whose accounts are connected through their own consent
 * page (Drive, OneDrive, Dropbox, Jottacloud's white-labels):
 *
 *   1. `POST /v1/remotes` without a token (or `POST /v1/remotes/{name}/reconnect`) stores a
 *      single-use state bound to the caller and answers the provider's authorization URL;
 *   2. the person approves there, and the provider sends the browser to `GET /v1/oauth/callback`;
 *   3. the callback spends the state, exchanges the code for tokens, seals them, and has a worker
 *      list the account's root before the remote counts as made (or reconnected). A failure at any
 *      step shows a page that says what went wrong and what to do, and saves nothing.
 *
 * The API seals tokens but never opens sealed credentials (only activities do); the code exchange
 * is the one time tokens pass through the API process, and they go straight into the sealed row.
 */
import type { HostPolicy } from '../connectors/types.js';
import {
  authorizationLink, clientFor, CodeExchangeError, exchangeAuthorizationCode, linkLifetimeMs, missingClientMessage, redirectUri,
  type OAuthClient, type OAuthProvider, type OAuthSetup,
} from '../connectors/oauthConnect.js';
import type { Db } from '../db/client.js';
import type { CredentialCipher } from '../db/credentials.js';
import { insertOAuthState, type OAuthStateRow } from '../db/queries/oauthStates.js';
import { ApiError } from './errors.js';

export interface Authorization {
  authorizationUrl: string;
  expiresAt: string;
}

/** The client to use, or a 422 saying what the operator must set. */
export function requireClient(setup: OAuthSetup, provider: OAuthProvider, config: Record<string, unknown>): OAuthClient {
  const client = clientFor(setup, provider, config);
  if (!client) throw new ApiError(422, 'oauth_not_configured', missingClientMessage(provider), 'config.clientId');
  return client;
}

/** Stores a state for the callback and answers the consent page's URL. */
export async function beginAuthorization(
  deps: { db: Db; cipher: CredentialCipher; oauth: OAuthSetup },
  a: { ownerId: string; purpose: 'create' | 'reconnect'; remoteId: string; remoteName: string; type: string; provider: OAuthProvider; settings: Record<string, unknown>; secrets: Record<string, unknown>; lifetimeMs?: number },
): Promise<Authorization> {
  const client = requireClient(deps.oauth, a.provider, { ...a.settings, ...a.secrets });
  const { state, url } = authorizationLink(deps.oauth, a.provider, client, a.settings);
  const expiresAt = new Date(Date.now() + (a.lifetimeMs ?? linkLifetimeMs));
  await insertOAuthState(deps.db, {
    state,
    ownerId: a.ownerId,
    purpose: a.purpose,
    remoteId: a.remoteId,
    remoteName: a.remoteName,
    type: a.type,
    config: a.settings,
    secrets: Object.keys(a.secrets).length > 0 ? deps.cipher.seal(a.secrets, a.remoteId) : null,
    redirectUri: redirectUri(deps.oauth),
    expiresAt,
  });
  return { authorizationUrl: url, expiresAt: expiresAt.toISOString() };
}

/** Why a callback could not finish: shown to the person on the page. */
export class ConnectFailure extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * The authorization code for tokens, as the rclone-style object the connector takes: the secrets
 * to seal into the remote's credentials (with the client secret its refreshes need), and the
 * client id to keep in its settings, so the remote renews its tokens on its own.
 */
export async function exchangeCode(
  deps: { cipher: CredentialCipher; oauth: OAuthSetup; host: HostPolicy },
  row: OAuthStateRow,
  provider: OAuthProvider,
  code: string,
): Promise<{ secrets: Record<string, unknown>; clientId: string }> {
  const secrets = row.secrets ? (deps.cipher.open(row.secrets, row.remoteId) as Record<string, unknown>) : {};
  const client = clientFor(deps.oauth, provider, { ...row.config, ...secrets });
  if (!client) throw new ConnectFailure(500, missingClientMessage(provider));
  const tokenUrl = typeof row.config.tokenUrl === 'string' && row.config.tokenUrl ? row.config.tokenUrl : provider.tokenUrl;
  let t;
  try {
    t = await exchangeAuthorizationCode({ provider, tokenUrl, client, code, redirectUri: row.redirectUri, host: deps.host });
  } catch (err) {
    if (err instanceof CodeExchangeError) throw new ConnectFailure(502, err.message);
    throw err;
  }
  return {
    secrets: {
      ...secrets,
      token: { access_token: t.accessToken, refresh_token: t.refreshToken, token_type: t.tokenType, expiry: new Date(t.expiresAt).toISOString() },
      ...(client.clientSecret ? { clientSecret: client.clientSecret } : {}),
    },
    clientId: client.clientId,
  };
}

/** The page the browser lands on after the provider: what happened, in words, and nothing secret. */
export function resultPage(ok: boolean, title: string, message: string): string {
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)} · knarr</title><link rel="icon" href="/ui/favicon.svg">`
    + `<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}h1{color:${ok ? '#14532d' : '#7f1d1d'}}</style></head>`
    + `<body><main><h1>${esc(title)}</h1><p data-outcome="${ok ? 'connected' : 'failed'}">${esc(message)}</p></main></body></html>`;
}
