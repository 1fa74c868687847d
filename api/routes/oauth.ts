import type { Client } from '@temporalio/client';
import { Router, type Response } from 'express';
import { findConnector } from '../../connectors/registry.js';
import type { HostPolicy } from '../../connectors/types.js';
import { oauthOf, type OAuthSetup } from '../../connectors/oauthConnect.js';
import type { Db } from '../../db/client.js';
import type { CredentialCipher } from '../../db/credentials.js';
import { isUniqueViolation } from '../../db/errors.js';
import { takeOAuthState } from '../../db/queries/oauthStates.js';
import { deleteRemote, findRemoteByName, getRemote, insertRemote, replaceCredentials } from '../../db/queries/remotes.js';
import { ApiError } from '../errors.js';
import { ConnectFailure, exchangeCode, resultPage } from '../oauthConnect.js';
import type { Probe } from '../probe.js';
import { credentialsUpdated } from './remotes.js';

/**
 * `GET /v1/oauth/callback`: where a provider sends the browser back after the person approved (or
 * refused). No API key: the single-use state names the user and what to make, and a browser
 * arriving here carries none. Every answer is a page, since a person reads it.
 */
export function oauthRouter(deps: { db: Db; cipher: CredentialCipher; probe: Probe; client: Client; host: HostPolicy; oauth: OAuthSetup }): Router {
  const r = Router();

  r.get('/callback', async (req, res) => {
    const q = req.query;
    const state = typeof q.state === 'string' ? q.state : '';
    const row = state ? await takeOAuthState(deps.db, state) : undefined;
    if (!row) {
      return page(res, 400, 'This link has expired', 'This approval is unknown, was used already, or is older than its time limit. Nothing was saved: start connecting the account again.');
    }
    const def = findConnector(row.type);
    const provider = def && oauthOf(def, row.config);
    if (!def || !provider) return page(res, 400, 'Not connected', `remote type "${row.type}" is not connected through a login page here. Nothing was saved.`);
    if (typeof q.error === 'string') {
      const detail = typeof q.error_description === 'string' ? `: ${q.error_description.slice(0, 200)}` : '';
      return page(res, 400, 'Not connected', `${provider.name} did not grant access (${q.error.slice(0, 100)}${detail}). Nothing was saved for remote "${row.remoteName}"; start again to retry.`);
    }
    if (typeof q.code !== 'string' || q.code === '') return page(res, 400, 'Not connected', `${provider.name} sent no authorization code back. Nothing was saved; start again.`);

    try {
      const { secrets, clientId } = await exchangeCode(deps, row, provider, q.code);
      const sealed = deps.cipher.seal(secrets, row.remoteId);
      if (row.purpose === 'reconnect') {
        const remote = await getRemote(deps.db, row.remoteId).catch(() => undefined);
        if (!remote || remote.ownerId !== row.ownerId) return page(res, 404, 'Not connected', `remote "${row.remoteName}" no longer exists. Nothing was saved.`);
        const previous = await replaceCredentials(deps.db, remote.id, sealed);
        const probe = await deps.probe(remote.id, null);
        if (!probe.ok) {
          await replaceCredentials(deps.db, remote.id, previous);
          return page(res, 422, 'Not connected', `${provider.name} approved, but the account could not be listed with the new access (${probe.message}). The remote "${remote.name}" keeps its old credentials.`);
        }
        await credentialsUpdated(deps, remote);
        return page(res, 200, 'Reconnected', `remote "${remote.name}" is connected to ${provider.name} again; runs that waited for it go on where they stopped. You can close this page.`);
      }
      if (await findRemoteByName(deps.db, row.ownerId, row.remoteName)) {
        return page(res, 409, 'Not connected', `a remote named "${row.remoteName}" was made meanwhile. Nothing was saved: delete it or choose another name, then connect again.`);
      }
      // The client that issued the tokens renews them: kept in the settings where the type has the field.
      const keepsClient = 'clientId' in (def.configSchema.shape as Record<string, unknown>);
      const config = keepsClient && row.config.clientId === undefined ? { ...row.config, clientId } : row.config;
      try {
        await insertRemote(deps.db, { id: row.remoteId, ownerId: row.ownerId, name: row.remoteName, type: row.type, config, credentials: sealed });
      } catch (err) {
        if (isUniqueViolation(err)) return page(res, 409, 'Not connected', `a remote named "${row.remoteName}" was made meanwhile. Nothing was saved.`);
        throw err;
      }
      const probe = await deps.probe(row.remoteId, null).catch(async (err: unknown) => {
        await deleteRemote(deps.db, row.remoteId);
        throw err;
      });
      if (!probe.ok) {
        await deleteRemote(deps.db, row.remoteId);
        return page(res, 422, 'Not connected', `${provider.name} approved, but the account could not be listed (${probe.message}). Nothing was saved for remote "${row.remoteName}".`);
      }
      return page(res, 200, 'Connected', `remote "${row.remoteName}" is connected to ${provider.name}. You can close this page.`);
    } catch (err) {
      if (err instanceof ConnectFailure || err instanceof ApiError) return page(res, err.status, 'Not connected', err.message);
      throw err;
    }
  });

  return r;
}

function page(res: Response, status: number, title: string, message: string): void {
  res.status(status).type('html').set('cache-control', 'no-store').send(resultPage(status < 300, title, message));
}
