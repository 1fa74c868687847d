import { ApplicationFailure } from '@temporalio/common';
import { findConnector } from '../connectors/registry.js';
import type { RunPhase, RunState } from '../core/run.js';
import { findRemoteByName, getRemote, type RemoteRow } from '../db/queries/remotes.js';
import { insertOAuthState } from '../db/queries/oauthStates.js';
import { authorizationLink, clientFor, knownClient, oauthOf, redirectUri, waitingLinkLifetimeMs, type OAuthSetup } from '../connectors/oauthConnect.js';
import type { OAuthProvider } from '../connectors/oauthConnect.js';
import { addEvent, getRunWithJob, setRunState } from '../db/queries/runs.js';
import { enterThrottled, leaveThrottled } from '../db/queries/waiting.js';
import type { ActivityDeps } from './deps.js';
import { failureTypes, type WaitDetails } from './failures.js';

/**
 * Mirrors a throttle into the run while Temporal's retry waits it out (the one retry loop: the
 * attempt fails with nextRetryDelay, activities/failures.ts). `failed` makes the run read
 * `throttled` until the next attempt is due, with one event per throttle period; `progressed`
 * (the next attempt moving bytes or listing, or finishing) puts the working state back. Writes
 * are chained, so a late "went on" never overwrites a newer throttle.
 */
export function throttleWatch(deps: ActivityDeps, runId: string, working: () => RunState) {
  let chain: Promise<unknown> = Promise.resolve();
  let progressed = false;
  const then = (fn: () => Promise<unknown>) => (chain = chain.then(fn).catch(() => {}));
  return {
    /** Records `failure` if it is a throttle, and hands it back to be thrown. */
    async failed(failure: Error): Promise<Error> {
      if (!(failure instanceof ApplicationFailure) || failure.type !== failureTypes.throttled) return failure;
      const details = (failure.details?.[0] ?? {}) as WaitDetails;
      const delayMs = typeof failure.nextRetryDelay === 'number' ? failure.nextRetryDelay : Number(details.retryAfterMs ?? 1000);
      const until = new Date(Date.now() + delayMs).toISOString();
      const reason = details.scope === 'daily_quota' ? `the provider's daily quota is used up: ${failure.message}` : failure.message;
      await then(async () => {
        const entered = await enterThrottled(deps.db, runId, { reason, until, remote: details.remote ?? null });
        if (entered?.newPeriod) {
          await addEvent(deps.db, runId, 'throttled', `throttled${details.remote ? ` by remote "${details.remote}"` : ''} until ${until}: ${reason}`, { until, remote: details.remote ?? null, scope: details.scope ?? null, retryAfterMs: details.retryAfterMs ?? null });
        }
      });
      return failure;
    },
    /** Cheap after the first call of an attempt: one conditional update. */
    progressed(): Promise<unknown> {
      if (progressed) return chain;
      progressed = true;
      return then(() => leaveThrottled(deps.db, runId, working()));
    },
  };
}

export type ThrottleWatch = ReturnType<typeof throttleWatch>;

/** What the workflow passes when an activity met something only the user can fix. */
export interface UserWait {
  state: Extract<RunState, 'needs_reconnect' | 'needs_attention'>;
  /** The activity's failure message (the provider's words; no secrets). */
  message: string;
  remote: string | null;
}

export function waitingActivities(deps: ActivityDeps) {
  return {
    /** The run reads `needs_reconnect` or `needs_attention` with what to do, and an event says so. */
    async markRunWaiting(runId: string, phase: RunPhase, wait: UserWait): Promise<void> {
      // The remote the error named (connectors/naming.ts); a full one the error did not name is the destination.
      let remote = wait.remote;
      if (!remote && wait.state === 'needs_attention') remote = (await getRemote(deps.db, (await getRunWithJob(deps.db, runId)).job.destRemoteId)).name;
      const reason = wait.state === 'needs_reconnect' ? await reconnectReason(deps, runId, remote, wait.message) : `the destination ${remote ? `"${remote}" ` : ''}is full: free space, then POST /v1/runs/${runId}/resume (${wait.message})`;
      await setRunState(deps.db, runId, wait.state, phase, { waiting: { reason, until: null, remote } });
      await addEvent(deps.db, runId, wait.state, reason, { remote });
    },
  };
}

async function reconnectReason(deps: ActivityDeps, runId: string, remote: string | null, message: string): Promise<string> {
  if (!remote) return `a remote of this job refused its credentials: replace them with PUT /v1/remotes/{name}/credentials, and the run goes on where it stopped (${message})`;
  const row = await findRemoteByName(deps.db, (await getRunWithJob(deps.db, runId)).run.ownerId, remote);
  const def = row && findConnector(row.type);
  const provider = def && oauthOf(def, row.config);
  if (row && provider) {
    const link = deps.oauth && knownClient(deps.oauth, provider, row.config) ? await reconnectLink(deps, deps.oauth, row, provider) : null;
    return `remote "${remote}" refused its credentials: reconnect it by approving knarr again${link ? ` at ${link}` : ''} (or POST /v1/remotes/${remote}/reconnect for a new link); the run goes on where it stopped (${message})`;
  }
  const hint = def?.reconnectHint || 'get new credentials for it';
  return `remote "${remote}" refused its credentials: ${hint} and PUT it to /v1/remotes/${remote}/credentials; the run goes on where it stopped (${message})`;
}

/** A reconnect link a person can open from the run's page, valid for a week. */
async function reconnectLink(deps: ActivityDeps, setup: OAuthSetup, row: RemoteRow, provider: OAuthProvider): Promise<string> {
  const client = clientFor(setup, provider, row.config)!;
  const { state, url } = authorizationLink(setup, provider, client, row.config);
  await insertOAuthState(deps.db, {
    state, ownerId: row.ownerId, purpose: 'reconnect', remoteId: row.id, remoteName: row.name, type: row.type, config: row.config, secrets: null,
    redirectUri: redirectUri(setup), expiresAt: new Date(Date.now() + waitingLinkLifetimeMs),
  });
  return url;
}
