import { WorkflowFailedError, type Client, type WorkflowStartOptions } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { AboutResult, FolderPage, ProbeResult } from '../core/remote.js';
import type { listFolderWorkflow, probeRemoteWorkflow, remoteAboutWorkflow } from '../workflows/probe.js';
import { ApiError } from './errors.js';

export type Probe = (remoteId: string, path: string | null) => Promise<ProbeResult>;
export type Lister = (remoteId: string, path: string, after: string | null, limit: number) => Promise<FolderPage>;
export type AboutReader = (remoteId: string) => Promise<AboutResult>;

/**
 * Asks a worker to check a remote (list its root, stat a path). The API never decrypts
 * credentials itself, so even this check runs as an activity.
 */
export function temporalProbe(client: Client, taskQueue: string, timeoutMs = 30_000): Probe {
  return (remoteId, path) => onWorker<typeof probeRemoteWorkflow>(client, taskQueue, timeoutMs, 'probeRemoteWorkflow', [remoteId, path]);
}

/** A remote's space, read by a worker for the same reason. */
export function temporalAbout(client: Client, taskQueue: string, timeoutMs = 30_000): AboutReader {
  return (remoteId) => onWorker<typeof remoteAboutWorkflow>(client, taskQueue, timeoutMs, 'remoteAboutWorkflow', [remoteId]);
}

/** A folder's page, listed by a worker for the same reason. */
export function temporalLister(client: Client, taskQueue: string, timeoutMs = 60_000): Lister {
  return (remoteId, path, after, limit) => onWorker<typeof listFolderWorkflow>(client, taskQueue, timeoutMs, 'listFolderWorkflow', [remoteId, path, after, limit]);
}

async function onWorker<W extends Workflow>(client: Client, taskQueue: string, timeoutMs: number, name: string, args: Parameters<W>): Promise<Awaited<ReturnType<W>>> {
    const workflowId = `${name}-${crypto.randomUUID()}`;
    try {
      return await client.workflow.execute<W>(name, {
        taskQueue,
        workflowId,
        args,
        workflowExecutionTimeout: timeoutMs,
      } as unknown as WorkflowStartOptions<W>) as Awaited<ReturnType<W>>;
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        const seconds = Math.round(timeoutMs / 1000);
        // A server that takes connections and never answers holds the check past its deadline
        // too: that is the remote's failure (transient, as a run would meet it), not a missing worker.
        if (await aWorkerRanIt(client, workflowId)) {
          return { ok: false, kind: 'transient', message: `the server did not answer within ${seconds} s` } as Awaited<ReturnType<W>>;
        }
        throw new ApiError(503, 'worker_unavailable', `no knarr worker checked the remote within ${seconds} s: is a worker running ("knarr worker" or "npm start")?`);
      }
      throw err;
    }
}

/** Whether a worker took the workflow's first task (with no worker its history has none). */
async function aWorkerRanIt(client: Client, workflowId: string): Promise<boolean> {
  try {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    return (history.events ?? []).some((e) => e.workflowTaskCompletedEventAttributes != null);
  } catch {
    return false;
  }
}
