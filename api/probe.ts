import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { ProbeResult } from '../core/remote.js';
import type { probeRemoteWorkflow } from '../workflows/probe.js';
import { ApiError } from './errors.js';

export type Probe = (remoteId: string, path: string | null) => Promise<ProbeResult>;

/**
 * Asks a worker to check a remote (list its root, stat a path). The API never decrypts
 * credentials itself, so even this check runs as an activity.
 */
export function temporalProbe(client: Client, taskQueue: string, timeoutMs = 30_000): Probe {
  return async (remoteId, path) => {
    try {
      return await client.workflow.execute<typeof probeRemoteWorkflow>('probeRemoteWorkflow', {
        taskQueue,
        workflowId: `probe-${crypto.randomUUID()}`,
        args: [remoteId, path],
        workflowExecutionTimeout: timeoutMs,
      });
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        throw new ApiError(503, 'worker_unavailable', `no knarr worker checked the remote within ${Math.round(timeoutMs / 1000)} s: is a worker running ("knarr worker" or "npm start")?`);
      }
      throw err;
    }
  };
}
