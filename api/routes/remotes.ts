import type { Client } from '@temporalio/client';
import { Router } from 'express';
import { connectorTypes, findConnector } from '../../connectors/registry.js';
import type { ConnectorDefinition, HostPolicy } from '../../connectors/types.js';
import { normalizePath, PathError } from '../../core/paths.js';
import { createRemoteSchema, remoteNamePattern, splitSecrets, updateRemoteSchema } from '../../core/remote.js';
import type { Db } from '../../db/client.js';
import { isUniqueViolation } from '../../db/errors.js';
import type { CredentialCipher } from '../../db/credentials.js';
import { deleteRemote, deleteRemoteAndHistory, findRemoteByName, insertRemote, listRemotes, remoteView, replaceCredentials, updateRemoteConfig, type RemoteRow } from '../../db/queries/remotes.js';
import { unfinishedRunsOfRemote } from '../../db/queries/waiting.js';
import { ApiError, parseBody } from '../errors.js';
import { callerOf } from '../auth.js';
import { page, pageQuery } from '../pagination.js';
import { beginAuthorization, requireClient } from '../oauthConnect.js';
import { knownClient, oauthOf, type OAuthSetup } from '../../connectors/oauthConnect.js';
import { z } from 'zod';
import type { AboutReader, Lister, Probe } from '../probe.js';

/** A reconnect's body: the secret of the user's own OAuth client, which only the remote's sealed credentials hold. */
const reconnectSchema = z.strictObject({ clientSecret: z.string().min(1).optional() });

export function remotesRouter(deps: { db: Db; cipher: CredentialCipher; probe: Probe; lister: Lister; about: AboutReader; client: Client; host: HostPolicy; oauth: OAuthSetup }): Router {
  const r = Router();

  /** The caller's remote of that name; another user's answers the same 404 as none. */
  const load = async (res: Parameters<typeof callerOf>[0], name: string): Promise<RemoteRow> => {
    // A name no remote can have is simply not found.
    const row = remoteNamePattern.test(name) ? await findRemoteByName(deps.db, callerOf(res).id, name) : undefined;
    if (!row) throw new ApiError(404, 'not_found', `no remote named "${name}"`);
    return row;
  };

  /** What this server refuses whatever the provider says (a local folder outside the allowed roots). */
  const vet = (def: ConnectorDefinition, config: Record<string, unknown>) => {
    const vetted = def.vetConfig?.(config, deps.host);
    if (vetted) throw new ApiError(403, 'not_allowed', `config.${vetted.field}: ${vetted.message}`, `config.${vetted.field}`);
  };

  /**
   * A remote just written (made, given new settings or new secrets) is opened by a worker at once;
   * if it cannot be, `undo` puts the database back as it was and the caller gets a 422.
   */
  const opensOrUndo = async (remoteId: string, undo: () => Promise<unknown>, what: string, field: string | undefined) => {
    const probe = await deps.probe(remoteId, null).catch(async (err) => {
      await undo();
      throw err;
    });
    if (!probe.ok) {
      await undo();
      throw new ApiError(422, 'remote_unreachable', `${what}: ${probe.message}`, field);
    }
  };

  r.post('/', async (req, res) => {
    const owner = callerOf(res).id;
    const body = parseBody(createRemoteSchema, req.body);
    const def = definitionOf(body.type);
    const config = parseBody(def.configSchema, body.config, 'config');
    vet(def, config);
    if (await findRemoteByName(deps.db, owner, body.name)) {
      throw new ApiError(409, 'name_taken', `a remote named "${body.name}" already exists: choose another name or delete that remote first`, 'name');
    }
    const provider = oauthOf(def, config);
    // The id is chosen here so the sealed secrets can be bound to their row (or to the authorization's state).
    const id = crypto.randomUUID();
    if (provider && config.token === undefined) {
      // Connected through the provider's consent page: nothing is saved until the callback has tokens.
      const { config: settings, secrets } = splitSecrets(def.secretKeys, config);
      const auth = await beginAuthorization(deps, { ownerId: owner, purpose: 'create', remoteId: id, remoteName: body.name, type: body.type, provider, settings, secrets });
      res.status(202).json({ name: body.name, type: body.type, status: 'authorization_required', ...auth,
        message: `open authorizationUrl in a browser and approve knarr's access to ${provider.name}; the remote "${body.name}" is made when the approval comes back (the link works until ${auth.expiresAt})` });
      return;
    }
    if (provider && config.clientId === undefined) {
      // A pasted token is renewed with the client that issued it: the operator's, unless the config names another.
      const client = requireClient(deps.oauth, provider, config);
      Object.assign(config, { clientId: client.clientId }, client.clientSecret ? { clientSecret: client.clientSecret } : {});
    }
    const { config: publicConfig, secrets } = splitSecrets(def.secretKeys, config);
    let row;
    try {
      row = await insertRemote(deps.db, {
        id,
        ownerId: owner,
        name: body.name,
        type: body.type,
        config: publicConfig,
        credentials: Object.keys(secrets).length > 0 ? deps.cipher.seal(secrets, id) : null,
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new ApiError(409, 'name_taken', `a remote named "${body.name}" already exists`, 'name');
      throw err;
    }
    // The connection is checked at once, so a typo shows now and not hours into a run.
    await opensOrUndo(row.id, () => deleteRemote(deps.db, row.id), `remote "${body.name}" could not be opened`, 'config');
    res.status(201).location(`/v1/remotes/${encodeURIComponent(row.name)}`).json(remoteView(row));
  });

  r.get('/', async (req, res) => {
    const q = pageQuery(req);
    res.json(page(await listRemotes(deps.db, callerOf(res).id, q.after, q.limit), q.limit, (row) => row.name, remoteView));
  });

  r.get('/:name', async (req, res) => {
    res.json(remoteView(await load(res, req.params.name)));
  });

  /**
   * New settings: merged over the stored ones, checked as a new remote's are (the config schema,
   * the server's folder rules, a listing of its root), and put back if the check fails.
   */
  r.patch('/:name', async (req, res) => {
    const { config: changes } = parseBody(updateRemoteSchema, req.body);
    const row = await load(res, req.params.name);
    const def = findConnector(row.type);
    if (!def) throw new ApiError(422, 'unsupported', `remote "${row.name}" has type "${row.type}", which this version of knarr cannot open`);
    const secret = Object.keys(changes).find((k) => def.secretKeys.includes(k));
    if (secret) throw new ApiError(400, 'invalid_request', `config.${secret} is a secret: replace it with PUT /v1/remotes/${row.name}/credentials`, `config.${secret}`);
    const config = parseBody(def.settingsSchema, { ...row.config, ...changes }, 'config');
    vet(def, config);
    const updated = await updateRemoteConfig(deps.db, row.id, config);
    await opensOrUndo(row.id, () => updateRemoteConfig(deps.db, row.id, row.config), `remote "${row.name}" could not be opened with these settings`, 'config');
    res.json(remoteView(updated));
  });

  /** Refused while a run or a schedule uses it; the finished runs and jobs that used it go with it. */
  r.delete('/:name', async (req, res) => {
    const row = await load(res, req.params.name);
    const done = await deleteRemoteAndHistory(deps.db, row.id);
    if (done === 'running') throw new ApiError(409, 'remote_in_use', `remote "${row.name}" is used by a run that has not ended: cancel it or let it finish first`);
    if (done === 'scheduled') throw new ApiError(409, 'remote_in_use', `remote "${row.name}" is used by a schedule: delete the schedule first (DELETE /v1/schedules/{id})`);
    res.status(204).end();
  });

  /**
   * The remote's state and space, as the provider reports them (a worker asks, since only workers
   * open credentials): `connection` is `ok`, `needs_reconnect` (the provider refused the
   * credentials) or `unreachable`, with the provider's words in `message`; the sizes are null
   * where it does not say. A state, not a failure: it answers 200 either way.
   */
  r.get('/:name/about', async (req, res) => {
    const row = await load(res, req.params.name);
    const about = await deps.about(row.id);
    if (about.ok) {
      const { ok: _ok, ...space } = about;
      res.json({ connection: 'ok', ...space, message: null });
      return;
    }
    res.json({
      connection: about.kind === 'auth' ? 'needs_reconnect' : 'unreachable',
      usedBytes: null, totalBytes: null, freeBytes: null, unlimited: false,
      message: `remote "${row.name}" could not be asked for its space: ${about.message}`,
    });
  });

  /** A folder of the remote, page by page: `?path=Photos/2024&limit=&after=`. */
  r.get('/:name/ls', async (req, res) => {
    const row = await load(res, req.params.name);
    const q = pageQuery(req, 1000);
    let path: string;
    try {
      path = normalizePath(typeof req.query.path === 'string' ? req.query.path : '');
    } catch (err) {
      if (!(err instanceof PathError)) throw err;
      throw new ApiError(400, 'invalid_request', `path: ${err.message}`, 'path');
    }
    const listed = await deps.lister(row.id, path, q.after, q.limit);
    if (!listed.ok) throw new ApiError(422, 'remote_unreachable', `remote "${row.name}" could not be listed: ${listed.message}`);
    if (!listed.found) throw new ApiError(404, 'not_found', `"${row.name}:${path}" is not a folder on that remote`, 'path');
    res.json({ data: listed.data, next: listed.next });
  });

  /**
   * Reconnects a remote with new secrets (a new Personal Login Token after the old session was
   * revoked). The new secrets are checked at once; if they fail, the old ones are put back. Then
   * every unfinished run using the remote is told: one waiting in needs_reconnect goes on where
   * it stopped (the connector cache opens the remote again on the new credentials version).
   */
  /**
   * A new authorization for a remote connected through its provider's consent page (its access
   * was revoked, or its refresh token expired): answers the URL; the callback stores the new
   * tokens, checks them, and tells the runs waiting for them.
   */
  r.post('/:name/reconnect', async (req, res) => {
    const row = await load(res, req.params.name);
    const def = findConnector(row.type);
    const provider = def && oauthOf(def, row.config);
    if (!provider) throw new ApiError(422, 'not_oauth', `remote "${row.name}" (${row.type}) is not connected through a login page: give it new secrets with PUT /v1/remotes/${row.name}/credentials`);
    // The client's secret is sealed in the remote's credentials, which the API never opens: a client of the user's own gives it again.
    const { clientSecret } = parseBody(reconnectSchema, req.body ?? {});
    if (!clientSecret && !knownClient(deps.oauth, provider, row.config)) {
      throw new ApiError(400, 'invalid_request', `remote "${row.name}" uses its own OAuth client (${String(row.config.clientId)}): give its secret again as clientSecret`, 'clientSecret');
    }
    const auth = await beginAuthorization(deps, { ownerId: row.ownerId, purpose: 'reconnect', remoteId: row.id, remoteName: row.name, type: row.type, provider, settings: row.config, secrets: clientSecret ? { clientSecret } : {} });
    res.status(202).json({ name: row.name, type: row.type, status: 'authorization_required', ...auth,
      message: `open authorizationUrl in a browser and approve knarr's access to ${provider.name} again; runs waiting for remote "${row.name}" go on once it is done` });
  });

  r.put('/:name/credentials', async (req, res) => {
    const row = await load(res, req.params.name);
    const def = findConnector(row.type);
    if (!def || def.secretKeys.length === 0) throw new ApiError(422, 'no_credentials', `remote "${row.name}" (${row.type}) has no credentials to replace`);
    const secrets = parseBody(def.secretsSchema, req.body);
    const provider = oauthOf(def, row.config);
    if (Object.keys(secrets).length === 0) {
      const how = provider ? `, or approve knarr again at ${provider.name} with POST /v1/remotes/${row.name}/reconnect` : '';
      throw new ApiError(400, 'invalid_request', `give the new secrets (${def.secretKeys.join(', ')})${how}`, def.secretKeys[0]);
    }
    const operator = provider && deps.oauth.clients[provider.envPrefix];
    // A pasted token of the operator's client is renewed with the operator's secret, as at creation.
    if (operator?.clientSecret && secrets.clientSecret === undefined && operator.clientId === row.config.clientId) secrets.clientSecret = operator.clientSecret;
    const previous = await replaceCredentials(deps.db, row.id, deps.cipher.seal(secrets, row.id));
    await opensOrUndo(row.id, () => replaceCredentials(deps.db, row.id, previous), `remote "${row.name}" could not be opened with the new credentials`, Object.keys(secrets)[0]);
    await credentialsUpdated(deps, row);
    res.json(remoteView(row));
  });

  return r;
}

/** Every unfinished run using the remote is told; one waiting in needs_reconnect goes on where it stopped. */
export async function credentialsUpdated(deps: { db: Db; client: Client }, row: Pick<RemoteRow, 'id' | 'name'>): Promise<void> {
  // Settled, not all: a run that ended meanwhile has no workflow to tell, which is not the caller's problem.
  await Promise.allSettled((await unfinishedRunsOfRemote(deps.db, row.id))
    .map((workflowId) => deps.client.workflow.getHandle(workflowId).signal('credentialsUpdated', row.name)));
}

/** The connector a new remote's `type` names, or the same 400 a schema enum gave before the registry was open. */
function definitionOf(type: string): ConnectorDefinition {
  const def = findConnector(type);
  if (!def) throw new ApiError(400, 'invalid_request', `type: type must be one of: ${connectorTypes().join(', ')}`, 'type');
  return def;
}
